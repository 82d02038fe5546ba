"""Information hiding (cl. 6.3, A.1.4): invisible payloads in video, robust or high-capacity.

``hide=payload=...`` writes one framed payload (version, length, CRC32; AES-GCM with ``key=``)
into every frame, so extraction can start at any frame, e.g. after a cut at a keyframe.

Modes
    ``robust``   dither QIM on low DCT frequencies of 32x32 luma blocks (24 at 720p, 16 below)
                 + Reed-Solomon + repetition; survives H.264 CRF 23, blur, brightness +-10 %,
                 0.5x down-up, JPEG q50. Up to 72 payload bytes per 1080p frame (a key costs 32).
    ``capacity`` +-LSB matching of ``depth`` bits in every sample of every plane, for lossless
                 carriers (PNG, FFV1): ``depth`` x samples-per-pixel bits per pixel.
    ``learned``  (reserved) an encoder/decoder network; it will plug in as a third mode with the
                 same framing and the same :func:`extract` entry point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vpfilters import kernels
from vpfilters.core.frame import Frame
from vpfilters.core.protector import FrameContext, Option, Protector, StreamInfo, positive
from vpfilters.errors import FormatError, ParameterError
from vpfilters.protect import _payload, _stego
from vpfilters.protect._payload import PayloadNotFound, WrongKey

__all__ = ["Hide", "Extracted", "PayloadNotFound", "WrongKey", "extract", "extract_frame",
           "capacity_bits", "robust_capacity"]

MODES = ("robust", "capacity")
MIN_REPEAT = 16  # robust mode: each code bit in at least this many slots


def _read_value(text) -> bytes:
    """Option value: bytes as given, ``@path`` reads a file, anything else is UTF-8 text."""
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    t = str(text)
    if t.startswith("@"):
        p = Path(t[1:])
        try:
            return p.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {p}: {exc.strerror or exc}") from None
    return t.encode("utf-8")


def _depth(text) -> int:
    v = int(text)
    if not 1 <= v <= 4:
        raise ValueError("must be 1..4 bits per sample")
    return v


def _luma(frame: Frame) -> np.ndarray:
    if frame.family == "rgb":  # BT.601 luma of R, G, B planes; the change goes to all three
        r, g, b = (p.astype(np.float32) for p in frame.planes)
        return 0.299 * r + 0.587 * g + 0.114 * b
    return frame.planes[0]


def _robust_delta(frame: Frame, layout, strength: float) -> float:
    """QIM step: ``strength`` is for 8-bit samples and 32x32 blocks (coefficients grow with b)."""
    return strength * layout.b / 32.0 * float(1 << (frame.bits - 8))


def capacity_bits(width: int, height: int, fmt: str, depth: int) -> int:
    """Capacity-mode bits per frame, framing included."""
    return sum(p.size for p in _blank(width, height, fmt)) * depth


def _blank(width: int, height: int, fmt: str) -> list:
    from vpfilters.core.frame import FORMATS

    fam, bits, (sx, sy), n = FORMATS[fmt]
    dt = np.uint8 if bits == 8 else np.uint16
    shapes = [(height, width)] + [((-(-height // (1 << sy)), -(-width // (1 << sx))) if fam == "yuv"
                                   else (height, width))] * (n - 1)
    return [np.zeros(s, dt) for s in shapes]


class Hide(Protector):
    name = "hide"
    summary = "hide an invisible payload (text, bytes or file) in every frame (cl. 6.3)"
    options = (
        Option("payload", _read_value, None, "the payload: text, or @file for bytes"),
        Option("key", _read_value, None, "passphrase (or @keyfile): AES-GCM encrypt the payload"),
        Option("mode", str, "robust", "robust (survives re-encoding) or capacity (lossless "
               "carriers); 'learned' is reserved", MODES),
        Option("strength", positive(float), 100.0,
               "robust: QIM step (8-bit luma, 32x32 DCT); larger = more robust, lower PSNR; "
               "the reader needs the same value"),
        Option("depth", _depth, 2, "capacity: bits per sample (1..4): 2 -> 46 dB, 3 -> 40.7 dB"),
        Option("seed", int, 0, "layout seed; the reader needs the same one"),
    )

    def __init__(self, **opts):
        super().__init__(**opts)
        if self.opts["payload"] is None:
            raise ParameterError("hide: give payload=TEXT or payload=@FILE", parameter="payload")
        self.framed = _payload.frame_payload(self.opts["payload"], self.opts["key"])
        self._layouts: dict = {}

    # -- robust --------------------------------------------------------------------------------
    def _robust_plan(self, h: int, w: int):
        key = ("robust", h, w)
        if key not in self._layouts:
            layout = _stego.RobustLayout(h, w, self.opts["seed"])
            block = _payload.block_size(len(self.framed))
            n_code = _payload.coded_length(block) * 8
            if block > 2048 or layout.payload_slots < MIN_REPEAT * n_code:
                cap = robust_capacity(h, w)
                raise ParameterError(
                    f"hide: {len(self.framed)} framed bytes need {n_code * MIN_REPEAT} "
                    f"embedding slots in robust mode; a {w}x{h} frame has {layout.payload_slots} "
                    f"(at most about {cap} payload bytes); shorten the payload or use "
                    "mode=capacity on a lossless carrier", parameter="payload")
            msg = self.framed + b"\0" * (block - len(self.framed))
            code = np.unpackbits(np.frombuffer(_payload.rs_encode(msg), np.uint8))
            bits = layout.slot_bits(_stego.header_bits(block), code)
            self._layouts[key] = (layout, bits)
        return self._layouts[key]

    def _embed_robust(self, frame: Frame) -> None:
        layout, bits = self._robust_plan(frame.height, frame.width)
        y = _luma(frame)
        maxval = (1 << frame.bits) - 1
        delta = _robust_delta(frame, layout, self.opts["strength"])
        coefs = _stego.robust_change_coefs(y, bits, layout, delta)
        dct = _stego.dct_rows(layout.b)
        planes = frame.planes if frame.family == "rgb" else frame.planes[:1]
        for p in planes:  # inverse DCT + add + round + clip, fused in the kernel, in place
            kernels.block_lowdct_apply(p, layout.b, dct, coefs, maxval)

    # -- capacity ------------------------------------------------------------------------------
    def _embed_capacity(self, frame: Frame) -> None:
        depth = self.opts["depth"]
        flat = np.concatenate([p.ravel() for p in frame.planes])
        need = -(-len(self.framed) * 8 // depth)
        if need > flat.size:
            raise ParameterError(
                f"hide: {len(self.framed)} framed bytes need {len(self.framed) * 8} bits; a "
                f"{frame.width}x{frame.height} {frame.format} frame holds {flat.size * depth} at "
                f"depth={depth}", parameter="payload")
        idx = _stego.capacity_order(flat.size, self.opts["seed"])[:need]
        sym = _stego.to_symbols(self.framed, depth)
        rng = np.random.default_rng([frame.index, len(self.framed)])
        flat[idx] = _stego.lsb_match(flat[idx], sym, depth, (1 << frame.bits) - 1, rng)
        pos = 0
        for p in frame.planes:
            p[...] = flat[pos:pos + p.size].reshape(p.shape)
            pos += p.size

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        if self.opts["mode"] == "robust" and (info.width < 64 or info.height < 64):
            raise FormatError(f"hide: robust mode needs at least 64x64 pictures, got "
                              f"{info.width}x{info.height}", file=info.source)

    def process(self, frame: Frame, ctx: FrameContext) -> Frame:
        if self.opts["mode"] == "robust":
            self._embed_robust(frame)
        else:
            self._embed_capacity(frame)
        frame.props["VPFPayloadBits"] = len(self.framed) * 8
        frame.props["VPFHideMode"] = self.opts["mode"]
        return frame


def robust_capacity(height: int, width: int) -> int:
    """Largest payload (bytes, unencrypted; a key costs 32 more) robust mode fits in one frame."""
    b = _stego.block_for(height, width)
    slots = (height // b) * (width // b) * len(_stego.ROBUST_COEFS)
    usable = (slots - slots // 16) // MIN_REPEAT // 8
    best = 0
    for block in range(8, 2049, 8):
        if _payload.coded_length(block) <= usable:
            best = block
    return max(0, best - _payload.OVERHEAD)


# ---------------------------------------------------------------------------------- extraction


@dataclass
class Extracted:
    """What :func:`extract` found."""

    payload: bytes
    mode: str
    frame: int            # index (in the input as read) of the frame that gave it
    frames_read: int
    encrypted: bool
    gain: float | None = None
    bit_errors: int | None = None  # code bits Reed-Solomon corrected (robust mode)


def _open_checked(msg: bytes, key):
    got = _payload.check_frame(msg)
    if got is None:
        return None
    flags, body = got
    return _payload.open_body(flags, body, key), bool(flags & _payload.FLAG_ENCRYPTED)


def _try_capacity(frame: Frame, seed: int, key, depths=(1, 2, 3, 4)):
    flat = np.concatenate([p.ravel() for p in frame.planes])
    order = _stego.capacity_order(flat.size, seed)
    for depth in depths:
        m = (1 << depth) - 1
        head_n = -(-_payload.LONG_HEADER.size * 8 // depth)
        head = _stego.from_symbols(flat[order[:head_n]].astype(np.int64) & m, depth)
        total = _payload.framed_length(head)
        if total is None or total * 8 > flat.size * depth:
            continue
        n = -(-total * 8 // depth)
        msg = _stego.from_symbols(flat[order[:n]].astype(np.int64) & m, depth)
        got = _open_checked(msg, key)
        if got is not None:
            return got
    return None


def _robust_decode(coefs: np.ndarray, layout, delta: float, key):
    for gain in _stego.GAINS:
        soft = _stego.robust_soft(coefs, layout, delta, gain)
        hb, _ = _stego.robust_bits(soft, layout, _stego.HEADER_BITS, header=True)
        block = _stego.parse_header(hb)
        if block is None:
            continue
        n_code = _payload.coded_length(block)
        if layout.payload_slots < n_code * 8 * MIN_REPEAT:
            continue
        bits, _ = _stego.robust_bits(soft, layout, n_code * 8, header=False)
        code = np.packbits(bits).tobytes()
        msg = _payload.rs_decode(code, block)
        if msg is None:
            continue
        got = _open_checked(msg, key)
        if got is not None:
            fixed = _payload.rs_encode(msg)
            errs = int(np.unpackbits(np.frombuffer(fixed, np.uint8)
                                     ^ np.frombuffer(code, np.uint8)).sum())
            return got + (gain, errs)
    return None


class _RobustReader:
    """Reads one frame at a time; also pools the soft evidence of consecutive frames."""

    def __init__(self, seed: int, strength: float):
        self.seed, self.strength = seed, strength
        self.layout = None
        self.pool = None
        self.pooled = 0

    def read(self, frame: Frame, key):
        h, w = frame.height, frame.width
        if h < 64 or w < 64:
            return None
        if self.layout is None or (self.layout.height, self.layout.width) != (h, w):
            self.layout = _stego.RobustLayout(h, w, self.seed)
            self.pool, self.pooled = None, 0
        delta = _robust_delta(frame, self.layout, self.strength)
        coefs = _stego.robust_coefficients(_luma(frame), self.layout)
        got = _robust_decode(coefs, self.layout, delta, key)
        if got is not None:
            return got + (1,)
        # pooling: average the coefficients' phase vectors so a weak frame helps the next one
        ph = np.exp(2j * np.pi * (coefs / delta - self.layout.dither))
        self.pool = ph if self.pool is None else self.pool + ph
        self.pooled += 1
        if self.pooled > 1:
            c = (np.angle(self.pool) / (2 * np.pi) + self.layout.dither) * delta
            got = _robust_decode(c.astype(np.float32), self.layout, delta, key)
            if got is not None:
                return got + (self.pooled,)
        return None


def extract_frame(frame: Frame, key=None, mode: str = "auto", seed: int = 0,
                  strength: float = 100.0) -> Extracted:
    """Extract the payload of one frame; raises :class:`PayloadNotFound` or :class:`WrongKey`."""
    got = _extract_one(frame, key, mode, seed, _RobustReader(seed, strength))
    if got is None:
        raise PayloadNotFound("no payload found", frame=frame.index)
    return got


def _extract_one(frame: Frame, key, mode, seed, reader) -> Extracted | None:
    if mode in ("auto", "capacity"):
        got = _try_capacity(frame, seed, key)
        if got is not None:
            return Extracted(got[0], "capacity", frame.index, 1, got[1])
    if mode in ("auto", "robust"):
        got = reader.read(frame, key)
        if got is not None:
            data, enc, gain, errs, _ = got
            return Extracted(data, "robust", frame.index, 1, enc, gain, errs)
    return None


def iter_frames(source, max_frames: int | None = None):
    """Core frames of a video or image file, decoded with PyAV (no host pipeline)."""
    import av

    from vpfilters.hosts.pyav import frame_to_core

    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, OSError) as exc:
        from vpfilters.errors import InputError

        raise InputError(f"cannot open ({exc})", file=source) from None
    with container:
        if not container.streams.video:
            from vpfilters.errors import InputError

            raise InputError("no video stream", file=source)
        for i, f in enumerate(container.decode(video=0)):
            if max_frames is not None and i >= max_frames:
                break
            yield frame_to_core(f, i)[0]


def extract(source, key=None, *, mode: str = "auto", seed: int = 0, strength: float = 100.0,
            max_frames: int | None = 100) -> Extracted:
    """Find the payload in a video or image (a path) or a :class:`Frame` (or frames).

    Reads frame by frame from the start of what it is given (so a clip cut at any keyframe
    works) and stops at the first frame whose payload passes Reed-Solomon and CRC32; in robust
    mode weak frames are also pooled. Raises :class:`PayloadNotFound` ("no payload found") or
    :class:`WrongKey`; never returns unchecked bytes.
    """
    if mode not in ("auto",) + MODES:
        raise ParameterError(f"extract: mode must be auto, robust or capacity; got {mode!r}",
                             parameter="mode")
    if isinstance(source, Frame):
        frames = [source]
    elif isinstance(source, (str, Path)):
        frames = iter_frames(source, max_frames)
    else:
        frames = source
    reader = _RobustReader(seed, strength)
    n = 0
    for frame in frames:
        n += 1
        got = _extract_one(frame, key, mode, seed, reader)
        if got is not None:
            got.frames_read = n
            return got
        if max_frames is not None and n >= max_frames:
            break
    raise PayloadNotFound(f"no payload found (read {n} frame{'s' if n != 1 else ''})",
                          file=None if isinstance(source, Frame) or not isinstance(
                              source, (str, Path)) else source)
