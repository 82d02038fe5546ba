"""Embedding math of ``hide``: block-DCT dither QIM (robust) and +-k LSB matching (capacity).

Robust mode
    Luma is cut into 32x32 blocks at 1080p (24x24 at 720p, 16x16 below); only ``K = 9`` low DCT
    coefficients per block are touched, so the forward and inverse transforms are two thin
    separable matrix products each, computing just the 4x4 lowest frequencies (orthonormal). Each
    coefficient slot carries one code bit by dither quantisation index modulation with step
    ``delta`` (lattice ``(d + k) * delta`` for 0, offset by ``delta / 2`` for 1), scaled down in
    flat blocks. Slots are spread over the picture by a seeded permutation; 1/16 of them carry a
    16-bit size header, the rest the Reed-Solomon codeword, each bit repeated 30-80 times at
    1080p. The reader sums ``cos(2*pi*(c/(g*delta) - d))`` per bit (soft decision) and tries a
    few gains ``g`` (brightness/contrast, blur and rescaling scale coefficients), accepting only
    what Reed-Solomon and CRC32 accept.

Capacity mode
    Every sample of every plane, visited in a seeded pseudo-random order, carries ``depth`` bits as
    its value modulo ``2**depth``, reached by the smallest change (+-1 LSB matching for depth 1,
    ties broken at random): mean squared error 0.5, 1.5, 5.5, 21.5 for depth 1..4.
"""

from __future__ import annotations

import functools

import numpy as np

from vpfilters import kernels
from vpfilters.kernels import _reference

# low DCT frequencies (u, v), u + v in 1..3, of 32x32 blocks at 1080p (24 at 720p, 16 below):
# far below a quarter of Nyquist, so they survive 0.5x down-up, blur and H.264's quantiser, and
# they change SSIM's 7x7 local structure little (8x8 blocks cost 0.02-0.03 SSIM more here at
# equal robustness, and did not survive CRF 23 on the upscaled standard clip)
ROBUST_COEFS = ((0, 1), (1, 0), (0, 2), (1, 1), (2, 0), (0, 3), (1, 2), (2, 1), (3, 0))
HEADER_BITS = 16
FLAT_FLOOR = 0.5  # embedding strength kept in flat blocks ...
ACT_REF = 15.0     # ... ramping up to full at this block activity (std, 8-bit code values)
GAINS = (1.0, 0.95, 1.05, 0.9, 1.1, 0.85, 0.8, 1.15, 0.75, 0.7)


@functools.cache
def dct_rows(b: int, n: int = 4) -> np.ndarray:
    """(n, b) float32: the first ``n`` rows of the b-point orthonormal DCT-II matrix."""
    return _reference.dct_rows(b, n)


def block_for(height: int, width: int) -> int:
    """Robust-mode block size for a picture size (the reader derives the same one)."""
    # about the same size relative to the picture: 32 at 1080p, 24 at 720p, 16 for SD and stills
    px = height * width
    return 32 if px >= 1600 * 1000 else 24 if px >= 800 * 1000 else 16


class RobustLayout:
    """Where each code bit lives in a ``height`` x ``width`` luma plane (seeded, size dependent)."""

    def __init__(self, height: int, width: int, seed: int = 0, coefs: tuple = ROBUST_COEFS):
        self.height, self.width, self.coefs = height, width, tuple(coefs)
        self.b = b = block_for(height, width)
        self.hb, self.wb = height // b, width // b
        self.blocks = self.hb * self.wb
        self.slots = self.blocks * len(self.coefs)
        rng = np.random.default_rng([0x5646, 1, seed, height, width])
        perm = rng.permutation(self.slots)
        self.n_header = self.slots // 16
        self.is_header = perm < self.n_header
        # slot -> bit index: header bits over the first 1/16 of the permutation, payload after
        self.rank = np.where(self.is_header, perm, perm - self.n_header)
        self.dither = rng.random(self.slots, dtype=np.float32)  # in units of delta
        self.u = np.array([u for u, _ in self.coefs])
        self.v = np.array([v for _, v in self.coefs])

    @property
    def payload_slots(self) -> int:
        return self.slots - self.n_header

    def slot_bits(self, header: np.ndarray, payload: np.ndarray) -> np.ndarray:
        """(slots,) uint8 bit carried by each slot."""
        out = np.empty(self.slots, np.uint8)
        h = self.is_header
        out[h] = header[self.rank[h] % len(header)]
        out[~h] = payload[self.rank[~h] % len(payload)]
        return out


def _crop(y: np.ndarray, layout: RobustLayout) -> np.ndarray:
    return y[:layout.hb * layout.b, :layout.wb * layout.b]


def _low_dct(y: np.ndarray, layout: RobustLayout) -> np.ndarray:
    """(hb, wb, 4, 4) float32: the 4x4 lowest DCT coefficients of every block.

    Separable: the native/CUDA kernel :func:`vpfilters.kernels.block_lowdct` (numpy reference
    with ``VPF_BACKEND=numpy``); the picture is read once.
    """
    if y.dtype not in (np.uint8, np.uint16, np.float32):
        y = y.astype(np.float32)
    return kernels.block_lowdct(y, layout.b, dct_rows(layout.b))


def _from_low_dct(c: np.ndarray, layout: RobustLayout) -> np.ndarray:
    """Inverse of :func:`_low_dct` for coefficients (hb, wb, 4, 4): a (hb*b, wb*b) plane."""
    b, hb, wb = layout.b, layout.hb, layout.wb
    d = dct_rows(b)
    z = np.matmul(d.T, np.ascontiguousarray(c.transpose(0, 2, 1, 3)).reshape(hb, 4, wb * 4))
    return (z.reshape(hb * b * wb, 4) @ d).reshape(hb * b, wb * b)


def robust_coefficients(y: np.ndarray, layout: RobustLayout) -> np.ndarray:
    """(slots,) float32 DCT coefficients of the layout's slots, block-major."""
    c = _low_dct(y, layout)
    return c[:, :, layout.u, layout.v].ravel()


def robust_change(y: np.ndarray, slot_bits: np.ndarray, layout: RobustLayout, delta: float,
                  alpha: float = 1.0, floor: float | None = None,
                  act_ref: float | None = None) -> np.ndarray:
    """(hb*b, wb*b) float32 luma change that writes ``slot_bits`` into ``y``."""
    return _from_low_dct(robust_change_coefs(y, slot_bits, layout, delta, alpha, floor, act_ref),
                         layout)


def robust_change_coefs(y: np.ndarray, slot_bits: np.ndarray, layout: RobustLayout, delta: float,
                        alpha: float = 1.0, floor: float | None = None,
                        act_ref: float | None = None) -> np.ndarray:
    """(hb, wb, 4, 4) float32 low-DCT coefficient change that writes ``slot_bits`` into ``y``.

    :func:`vpfilters.kernels.block_lowdct_apply` adds it to a plane (inverse DCT, rounding and
    clipping fused); :func:`robust_change` is the same change as a float plane.
    """
    low = _low_dct(y, layout)
    c = low[:, :, layout.u, layout.v].reshape(-1)
    offset = (layout.dither + 0.5 * slot_bits) * delta
    target = np.round((c - offset) / delta) * delta + offset
    change = (alpha * (target - c)).reshape(layout.hb, layout.wb, -1)
    # flat blocks show the pattern most (SSIM) and the encoder smooths them first: embed gently
    # there. The reader needs no mask: an unmarked slot reads as zero-mean noise. Activity is
    # the low-frequency AC energy (Parseval: a lower bound of the block's standard deviation).
    energy = np.square(low).sum(axis=(2, 3)) - np.square(low[:, :, 0, 0])
    act = np.sqrt(np.maximum(energy, 0)) / layout.b
    floor = FLAT_FLOOR if floor is None else floor
    act_ref = ACT_REF if act_ref is None else act_ref
    change *= np.clip(act / (act_ref * delta / (100.0 * layout.b / 32)), floor, 1.0)[:, :, None]
    full = np.zeros((layout.hb, layout.wb, 4, 4), np.float32)
    full[:, :, layout.u, layout.v] = change
    return full


def robust_soft(coefs: np.ndarray, layout: RobustLayout, delta: float, gain: float = 1.0):
    """Per-slot soft values in [-1, 1]: > 0 leans to bit 0, < 0 to bit 1."""
    return np.cos((2 * np.pi) * (coefs / (gain * delta) - layout.dither))


def robust_bits(soft: np.ndarray, layout: RobustLayout, n_bits: int, header: bool):
    """Hard bits and their summed soft values for the header (16 bits) or a payload of n_bits."""
    sel = layout.is_header if header else ~layout.is_header
    sums = np.bincount(layout.rank[sel] % n_bits, weights=soft[sel], minlength=n_bits)
    return (sums < 0).astype(np.uint8), sums


def header_bits(block: int) -> np.ndarray:
    code = block // 8 - 1
    return np.unpackbits(np.array([code, code ^ 0xFF], np.uint8))


def parse_header(bits: np.ndarray) -> int | None:
    code, check = np.packbits(bits)
    return None if code ^ 0xFF != check else (int(code) + 1) * 8


# ---------------------------------------------------------------------------------- capacity


@functools.cache
def capacity_order(total: int, seed: int = 0) -> np.ndarray:
    """Seeded visiting order of ``total`` samples (cached: one per geometry)."""
    return np.random.default_rng([0x5646, 2, seed, total]).permutation(total).astype(np.int64)


def to_symbols(data: bytes, depth: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    bits = np.concatenate([bits, np.zeros(-len(bits) % depth, np.uint8)])
    w = (1 << np.arange(depth - 1, -1, -1)).astype(np.int64)
    return bits.reshape(-1, depth) @ w


def from_symbols(sym: np.ndarray, depth: int) -> bytes:
    bits = ((sym[:, None] >> np.arange(depth - 1, -1, -1)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits[:len(bits) // 8 * 8]).tobytes()


def lsb_match(x: np.ndarray, sym: np.ndarray, depth: int, maxval: int, rng) -> np.ndarray:
    """New values of samples ``x`` carrying ``sym`` (x mod 2**depth) at least squared change."""
    m = 1 << depth
    x = x.astype(np.int32)
    d = (sym.astype(np.int32) - x) % m
    d = np.where(d > m // 2, d - m, d)
    tie = d == m // 2
    if tie.any():  # +-m/2 equally near: a random sign keeps the histogram free of pairs
        d[tie] = np.where(rng.random(int(tie.sum())) < 0.5, m // 2, -(m // 2))
    y = x + d
    y = np.where(y > maxval, y - m, y)
    y = np.where(y < 0, y + m, y)
    return y
