"""Colour systems of the event stream: (direction, speed) lookup tables and their inverse cubes.

Every system is a table ``(N_DIR, N_MAG, 3)`` indexed like :func:`vpfilters.kernels.flow_to_color`:
direction bin 0 starts at +x (rightwards) and turns towards +y (downwards, i.e. clockwise on
screen); speed bin ``k`` holds the normalised speed ``k / (N_MAG - 1)``. Speed bin 0 is **black in
every system**: static pixels carry no colour, which keeps the event video sparse and cheap to
encode (this departs from the Middlebury convention, where zero motion is white).

``munsell``
    Direction -> Munsell hue step (100-step circle, bin 0 = 1R, bin 10 = 1YR, ... bin 99 = 10RP);
    speed -> chroma (a floor of 30 % of the hue's in-gamut maximum, rising linearly to it);
    value fixed at 6. Built by ``scripts/build_munsell_lut.py`` (colour-science) into
    ``vpfilters/models/munsell_lut.npy``; see ``vpfilters/models/EVENTS.md``.
``middlebury``
    The Baker et al. colour wheel exactly as ``flow_vis`` draws it (55 colours: RY 15, YG 6, GC 4,
    CB 11, BM 13, MR 6, linearly interpolated), at full speed identical to ``flow_vis``; slower
    motion fades towards black (not white), faster than ``max_speed`` saturates (not darkened).
``hsv``
    Hue = direction (0 deg = red at +x), saturation 1, value = speed (with the same 30 % floor).
``yuv``
    A direct mapping for codecs: Cb, Cr = r * (cos, sin) of the direction, luma = speed / 2; the
    chroma vector *is* the flow vector, so the codec's chroma planes carry it linearly. Defined in
    normalised Y'CbCr and written as code values for the frame's own range, so it does not depend on
    the matrix (RGB output uses BT.709).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from vpfilters.errors import ParameterError

N_DIR = 100
N_MAG = 32
SPEED_FLOOR = 0.3  # share of full colour given to the slowest moving bin (hue stays legible)
SYSTEMS = ("munsell", "middlebury", "hsv", "yuv")
MUNSELL_PATH = Path(__file__).resolve().parents[1] / "models" / "munsell_lut.npy"
_KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def _check(system: str) -> str:
    if system not in SYSTEMS:
        raise ParameterError(f"events: colors must be one of {', '.join(SYSTEMS)}, got {system!r}",
                             parameter="colors")
    return system


def _speed_weight(n_mag: int) -> np.ndarray:
    """Brightness/chroma weight per speed bin: 0 for bin 0, then floor..1 linearly."""
    s = np.arange(n_mag, dtype=np.float64) / (n_mag - 1)
    w = SPEED_FLOOR + (1 - SPEED_FLOOR) * s
    w[0] = 0.0
    return w


def _bin_turns(n_dir: int) -> np.ndarray:
    """Direction of each bin's centre, in turns (0..1)."""
    return (np.arange(n_dir, dtype=np.float64) + 0.5) / n_dir


# ------------------------------------------------------------------------------- Middlebury


def middlebury_wheel() -> np.ndarray:
    """The 55-colour Middlebury wheel, (55, 3) float 0..255 (same construction as flow_vis)."""
    ry, yg, gc, cb, bm, mr = 15, 6, 4, 11, 13, 6
    wheel = np.zeros((ry + yg + gc + cb + bm + mr, 3))
    col = 0
    for n, ch, up, other in ((ry, 1, True, 0), (yg, 0, False, 1), (gc, 2, True, 1),
                             (cb, 1, False, 2), (bm, 0, True, 2), (mr, 2, False, 0)):
        ramp = np.floor(255 * np.arange(n) / n)
        wheel[col:col + n, ch] = ramp if up else 255 - ramp
        wheel[col:col + n, other] = 255
        col += n
    return wheel


def middlebury_colors(turns: np.ndarray) -> np.ndarray:
    """Full-speed Middlebury colour (float 0..1) of directions given in turns (0..1)."""
    wheel = middlebury_wheel()
    ncols = len(wheel)
    fk = np.asarray(turns) * (ncols - 1)
    k0 = np.floor(fk).astype(int)
    k1 = k0 + 1
    k1[k1 == ncols] = 0
    f = (fk - k0)[..., None]
    return ((1 - f) * wheel[k0] + f * wheel[k1]) / 255.0


# ------------------------------------------------------------------------------- tables


def _rgb_float_table(system: str, n_dir: int, n_mag: int) -> np.ndarray:
    w = _speed_weight(n_mag)[None, :, None]
    turns = _bin_turns(n_dir)
    if system == "middlebury":
        return middlebury_colors(turns)[:, None, :] * w
    if system == "hsv":
        h = turns * 6.0
        i = np.floor(h).astype(int) % 6
        f = h - np.floor(h)
        q, t = 1 - f, f
        one, zero = np.ones_like(f), np.zeros_like(f)
        r = np.choose(i, [one, q, zero, zero, t, one])
        g = np.choose(i, [t, one, one, q, zero, zero])
        b = np.choose(i, [zero, zero, t, one, one, q])
        return np.stack([r, g, b], -1)[:, None, :] * w
    raise AssertionError(system)


def _yuv_radius() -> float:
    """Largest Cb/Cr radius at Y = 0.5 that stays inside RGB for BT.601 and BT.709 (all angles)."""
    th = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    best = 0.5
    for kr, kb in _KR_KB.values():
        for r in np.arange(0.5, 0.0, -0.005):
            rgb = _ycbcr_to_rgb(np.full_like(th, 0.5), r * np.cos(th), r * np.sin(th), kr, kb)
            if np.all((rgb >= 0) & (rgb <= 1)):
                best = min(best, r)
                break
    return float(best)


def _ycbcr_to_rgb(y, cb, cr, kr, kb):
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.stack([r, g, b], -1)


@functools.cache
def ycbcr_table(system: str, n_dir: int = N_DIR, n_mag: int = N_MAG) -> tuple[np.ndarray, str]:
    """The table in its defining space: ``(table float (n_dir, n_mag, 3), space)``.

    ``space`` is ``'rgb'`` (sRGB 0..1) or ``'ycbcr'`` (Y 0..1, Cb/Cr -0.5..0.5).
    """
    _check(system)
    if system == "munsell":
        lut = load_munsell()
        return lut.astype(np.float64) / 255.0, "rgb"
    if system == "yuv":
        w = _speed_weight(n_mag)[None, :]
        th = 2 * np.pi * _bin_turns(n_dir)[:, None]
        r = _yuv_radius()
        t = np.stack([0.5 * w + 0 * th, r * w * np.cos(th), r * w * np.sin(th)], -1)
        return t, "ycbcr"
    return _rgb_float_table(system, n_dir, n_mag), "rgb"


@functools.cache
def load_munsell() -> np.ndarray:
    """The shipped Munsell table, (100, n_mag, 3) uint8 sRGB."""
    lut = np.load(MUNSELL_PATH)
    if lut.dtype != np.uint8 or lut.ndim != 3 or lut.shape[0] != N_DIR or lut.shape[2] != 3:
        raise ValueError(f"{MUNSELL_PATH} is not a (100, n, 3) uint8 table: {lut.shape} {lut.dtype}")
    return lut


def rgb_table(system: str) -> np.ndarray:
    """The table as uint8 sRGB (what a still image or an RGB frame shows)."""
    t, space = ycbcr_table(system)
    if space == "ycbcr":
        kr, kb = _KR_KB["bt709"]
        t = _ycbcr_to_rgb(t[..., 0], t[..., 1], t[..., 2], kr, kb)
    return np.clip(np.round(t * 255), 0, 255).astype(np.uint8)


def rgb_to_codes(rgb01: np.ndarray, matrix: str, full_range: bool, bits: int = 8) -> np.ndarray:
    """Vectorised :func:`vpfilters.core.frame.color_values`: sRGB 0..1 -> Y, U, V code values."""
    kr, kb = _KR_KB[matrix]
    r, g, b = rgb01[..., 0], rgb01[..., 1], rgb01[..., 2]
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb = (b - y) / (2 * (1 - kb))
    cr = (r - y) / (2 * (1 - kr))
    return _ycbcr_codes(y, cb, cr, full_range, bits)


def _ycbcr_codes(y, cb, cr, full_range: bool, bits: int) -> np.ndarray:
    scale = (1 << bits) - 1
    if full_range:
        mid = 1 << (bits - 1)
        out = np.stack([y * scale, mid + cb * scale, mid + cr * scale], -1)
    else:
        sh = 1 << (bits - 8)
        out = np.stack([(16 + 219 * y) * sh, (128 + 224 * cb) * sh, (128 + 224 * cr) * sh], -1)
    return np.clip(np.round(out), 0, scale)


@functools.cache
def code_table(system: str, family: str, matrix: str = "bt709", full_range: bool = False) -> np.ndarray:
    """The table as 8-bit code values of a frame family: uint8 (n_dir, n_mag, 3).

    ``family`` 'yuv' or 'gray' gives Y, U, V codes for ``matrix`` and range (gray uses Y only);
    'rgb' gives R, G, B. Higher bit depths shift these 8-bit codes up.
    """
    t, space = ycbcr_table(system)
    if family == "rgb":
        return rgb_table(system)
    if space == "ycbcr":
        codes = _ycbcr_codes(t[..., 0], t[..., 1], t[..., 2], full_range, 8)
    else:
        codes = rgb_to_codes(t, matrix, full_range, 8)
    return codes.astype(np.uint8)


# ------------------------------------------------------------------------------- inverse


@functools.cache
def inverse_cube(system: str, family: str, matrix: str = "bt709", full_range: bool = False,
                 bits: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-colour inverse of a code table: ``(dir_bin, mag_bin)`` cubes of ``2**bits``^3.

    Cell ``(a, b, c)`` covers 8-bit codes ``a << (8 - bits)`` ... and holds the table entry
    nearest (Euclidean, in the code space) to the cell centre. Built once per key (about a second
    for 64^3); no KD-tree needed.
    """
    table = code_table(system, family, matrix, full_range).astype(np.float32)
    n_mag = table.shape[1]
    flat = table.reshape(-1, 3)
    n = 1 << bits
    step = 1 << (8 - bits)
    centres = np.arange(n, dtype=np.float32) * step + (step - 1) / 2
    grid = np.stack(np.meshgrid(centres, centres, centres, indexing="ij"), -1).reshape(-1, 3)
    best = np.empty(len(grid), np.int32)
    ll = (flat * flat).sum(1)
    m2 = np.ascontiguousarray(-2 * flat.T)
    chunk = 4096
    d = np.empty((chunk, len(flat)), np.float32)
    for i in range(0, len(grid), chunk):
        g = grid[i:i + chunk]
        dd = d[:len(g)]
        np.matmul(g, m2, out=dd)
        dd += ll  # |g|^2 is constant per row: the argmin does not need it
        best[i:i + chunk] = dd.argmin(1)
    d_bin, m_bin = np.divmod(best, n_mag)
    return (d_bin.astype(np.uint8).reshape(n, n, n), m_bin.astype(np.uint8).reshape(n, n, n))
