"""Event-stream representation (cl. 7.3, A.2.4): only motion is kept, as coloured optical flow.

Each output frame replaces the picture by the optical flow from frame n - 1 to frame n, coloured
in one of the colour systems of :mod:`vpfilters.protect._colorsystems` (Munsell by default), with
static pixels black. The result is an ordinary video (yuv420p H.264 through any host), in which
people are coloured motion silhouettes while faces and the scene are gone.

How a frame is made (``events=colors=munsell:threshold=2:scale=0.25``):

1. Luma of frames n - 1 and n is downscaled by ``scale`` (area filter) and, above 8 bit, cut to 8 bit.
   The default 1/4 was measured on the standard clips: DIS ``fast`` takes about 2-4 ms on
   480x270 against 9-15 ms at 1/2, with the same speed percentiles (50/90/99 %).
2. Flow (pixels per frame) from a pluggable source (:data:`FLOW_SOURCES`,
   :func:`register_flow_source`): OpenCV DIS (``preset`` ultrafast/fast/medium, default fast:
   ultrafast spreads more spurious flow over flat walls) or Farneback; reported in
   full-resolution luma pixels.
3. Sparsity: a pixel moves if its speed is >= ``threshold`` px/frame, or >= ``low`` x ``threshold``
   and 8-connected to such a pixel (spatial hysteresis, as in Canny's edges). The default
   threshold 2 (was 1.5) lights 4.4 % instead of 4.9 % of the standard 1080p clip and makes its
   event video 7.6 % instead of 8.1 % of the source's size (Middlebury and HSV under 10 %). With
   ``accumulate=k`` pixels that moved in any of the k earlier frame pairs keep their last flow
   (trails); the window is then k + 1 frames, so output n still depends only on frames n-k-1..n.
   The moving area is then opened and closed with a ``smooth`` x ``smooth`` square and the flow
   box-filtered inside it (smoother silhouettes, cheaper to encode). Before all this a pixel
   counts as moving only where the luma changed by ``contrast`` (DIS spreads flow over flat walls
   from compression noise) and in regions of at least ``min_area`` of the picture.
4. Blocks (``block``, default ``auto``: 16 px per 540 px of the shorter side, i.e. 32 px at 1080p,
   16 px at 720p):
   the picture is cut into ``block`` x ``block`` squares aligned with the codec's macroblocks. A
   block moves when at least half of it moves in the current pair; its flow is the mean flow of
   the moving pixels of the current and the previous pair (the window already holds both; with
   ``persist=0`` the current one only) over the block and its 8 neighbours. Each block is one flat
   colour, so the event video costs the codec little: on the standard 1080p clip 7.6 % of the
   source's size at equal CRF, against 25 % for per-pixel colour, where the ragged, ever-changing
   silhouettes and the colours that change every frame are what x264 spends its bits on
   (benchmarks/events.py). The price: the decoded direction is that of the block (median 7 deg
   from the per-pixel flow on that clip). ``block=0`` keeps the per-pixel picture (then step 6
   applies).
5. Colour: :func:`vpfilters.kernels.flow_to_color` (native C++ when built, CuPy or numpy
   otherwise) on a table already converted to the frame's code values (matrix, range), speed
   normalised by ``max_speed`` (px/frame; faster saturates); its ``min_mag`` mask makes static
   (zero-flow) blocks black and keeps slow moving ones out of the black bin in the same pass.
6. Up-sampling (``block=0`` only): the low-resolution Y, U, V codes are resized bilinearly to the
   planes (``upsample=color``), or as blocks (``upsample=blocks``: nearest neighbour), or the flow
   is resized and coloured at full resolution (``upsample=flow``).

Frame 0 (and a still image) has no predecessor and comes out black (no motion). With temporal
hysteresis (``persist``, default on) a pixel moves only if motion was also found near it in the
pair (n - 2, n - 1), so one-frame flicker is dropped and frame 1 is black too. Output n depends only
on frames n - 2 .. n (``window = 2``; 1 with ``persist=0``), as VapourSynth's random access
requires; pair results are cached by frame index, which keeps the output a pure function of the
frames.

:func:`decode_events` reads an event frame back into (direction, normalised speed).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import ClassVar

import cv2
import numpy as np

from vpfilters.core.frame import Frame
from vpfilters.core.protector import (
    FrameContext,
    Option,
    Protector,
    non_negative,
    parse_bool,
    positive,
)
from vpfilters.errors import FormatError, ParameterError
from vpfilters.kernels import flow_to_color
from vpfilters.protect import _colorsystems as cs
from vpfilters.protect._colorsystems import N_DIR, N_MAG, SYSTEMS

__all__ = [
    "DEFAULTS",
    "FLOW_SOURCES",
    "Events",
    "color_wheel",
    "decode_events",
    "event_mask",
    "register_flow_source",
    "write_blocks",
    "write_colors",
]

DEFAULTS = {"threshold": 2.0, "contrast": 2.0, "low": 0.5, "min_area": 0.002, "smooth": 5,
            "scale": 0.25, "max_speed": 24.0, "preset": "fast", "block": "auto"}
#: Flow (px/frame) below which the kernel paints "no motion": only exactly static pixels/blocks,
#: whose flow the mask set to zero, are black; any motion gets at least the slowest colour.
MOVING_MIN = 1e-4


# ------------------------------------------------------------------------------ flow sources


class DISFlow:
    """OpenCV's Dense Inverse Search flow (Kroeger et al. 2016) with one of its presets."""

    PRESETS: ClassVar[dict[str, int]] = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                                         "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                                         "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}

    def __init__(self, preset: str = "ultrafast"):
        if preset not in self.PRESETS:
            raise ParameterError(f"events: preset must be one of {', '.join(self.PRESETS)}, got "
                                 f"{preset!r}", parameter="preset")
        self.preset = preset
        self._local = threading.local()  # a DIS object is not re-entrant; hosts may use threads

    def __call__(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        dis = getattr(self._local, "dis", None)
        if dis is None:
            dis = self._local.dis = cv2.DISOpticalFlow_create(self.PRESETS[self.preset])
        return dis.calc(prev, cur, None)


class FarnebackFlow:
    """OpenCV's Farneback polynomial-expansion flow (slower, smoother)."""

    def __init__(self, preset: str = "ultrafast"):
        self.levels = {"ultrafast": 2, "fast": 3}.get(preset, 4)

    def __call__(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, self.levels, 9, 2, 5, 1.1, 0)


#: Flow sources by name: ``factory(preset) -> callable(prev_u8, cur_u8) -> (h, w, 2) float32``.
FLOW_SOURCES = {"dis": DISFlow, "farneback": FarnebackFlow}


def register_flow_source(name: str, factory) -> None:
    """Add a flow source (e.g. a learned model) usable as ``events=flow=name``."""
    FLOW_SOURCES[name] = factory


# ------------------------------------------------------------------------------ sparsity


def event_mask(speed: np.ndarray, threshold: float, low: float = 0.5,
               change: np.ndarray | None = None, contrast: float = 0.0,
               min_area: float = 0.0) -> np.ndarray:
    """Moving pixels with spatial hysteresis: bool mask of ``speed`` (px/frame).

    A pixel moves if ``speed >= threshold`` (and, with ``change`` given, the local brightness
    change there is ``>= contrast``: flow that no brightness change supports, as DIS spreads it
    over flat walls, is not motion), or if ``speed >= low * threshold``, it lies within a few
    pixels of some brightness change, and it is 8-connected to a pixel that moves.
    """
    high = speed >= threshold
    evidence = None
    if change is not None and contrast > 0:
        evidence = change >= contrast
        high &= evidence
    if not high.any():
        return high
    weak = speed >= low * threshold
    if evidence is not None:
        near = cv2.dilate(evidence.astype(np.uint8), _NEAR_KERNEL)
        weak &= near.astype(bool)
    weak |= high
    n, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[labels[high]] = True
    if min_area > 0:
        keep &= np.bincount(labels.ravel(), minlength=n) >= min_area * labels.size
    keep[0] = False
    return keep[labels]


_NEAR_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
_PERSIST_KERNEL = _NEAR_KERNEL  # 9 flow px = 36 luma px at scale 1/4: more than max_speed


def smooth_motion(mask: np.ndarray, flow: np.ndarray, k: int):
    """Open then close ``mask`` with a k x k square; box-filter ``flow`` (k x k) inside it."""
    kernel = np.ones((k, k), np.uint8)
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel).astype(bool)
    return m, cv2.blur(flow, (k, k))


def brightness_change(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Local mean absolute luma difference (3x3), float32 code values (8-bit)."""
    d = cv2.absdiff(prev, cur)
    return cv2.blur(d, (3, 3)).astype(np.float32) if d.dtype != np.float32 else cv2.blur(d, (3, 3))


# ------------------------------------------------------------------------------ protector


def _parse_system(text: str) -> str:
    return str(text).strip().lower()


def _parse_block(text) -> str | int:
    t = str(text).strip().lower()
    if t == "auto":
        return "auto"
    v = int(t)
    if v < 0 or v % 2 or v > 4096:
        raise ValueError("must be auto, 0 (per-pixel colour) or an even size 2..4096")
    return v


def block_size(block, height: int, width: int | None = None) -> int:
    """Block size in luma pixels for ``block`` (``'auto'``: 16 per 540 px of the shorter side,
    at least 16: 32 at 1080p, 16 at 720p, 64 at 2160p)."""
    if block == "auto":
        side = min(height, width) if width else height
        return 16 * max(1, round(side / 540))
    return int(block)


class Events(Protector):
    """Replace the picture by its optical flow coloured in a colour system (cl. 7.3, A.2.4)."""

    name = "events"
    summary = "event stream: optical flow coloured in Munsell/Middlebury/HSV/YUV, static = black"
    window = 2  # with persist (default); 1 + max(accumulate, persist) per instance
    options = (
        Option("colors", _parse_system, "munsell", "colour system", SYSTEMS),
        Option("threshold", non_negative(float), DEFAULTS["threshold"],
               "speed (luma px/frame) from which a pixel moves"),
        Option("contrast", non_negative(float), DEFAULTS["contrast"],
               "brightness change (8-bit codes, 3x3 mean at flow size) that motion must show; 0: off"),
        Option("low", non_negative(float), DEFAULTS["low"],
               "hysteresis: weaker pixels (>= low x threshold) move if connected to moving ones"),
        Option("min_area", non_negative(float), DEFAULTS["min_area"],
               "smallest moving region kept, as a share of the picture"),
        Option("smooth", non_negative(int), DEFAULTS["smooth"],
               "size (flow pixels) of the opening/closing of the moving area and of the flow's box "
               "filter inside it: smoother shapes and colours, cheaper to encode; 0: off"),
        Option("scale", positive(float), DEFAULTS["scale"], "flow resolution as a share of the frame"),
        Option("max_speed", positive(float), DEFAULTS["max_speed"],
               "speed (luma px/frame) of full colour; faster saturates"),
        Option("flow", str, "dis", "flow source", tuple(FLOW_SOURCES)),
        Option("preset", str, DEFAULTS["preset"], "flow preset", ("ultrafast", "fast", "medium")),
        Option("persist", parse_bool, True, "temporal hysteresis: a pixel moves only if motion "
               "was also found near it in the previous frame pair (window 2; drops one-frame "
               "flicker, ~25 % smaller video, motion shows one frame later)"),
        Option("accumulate", non_negative(int), 0, "keep the last flow of pixels that moved in "
               "up to this many earlier frame pairs (trails)"),
        Option("block", _parse_block, DEFAULTS["block"], "flat-colour blocks (luma px, even; auto: "
               "16 per 540 px of the shorter side) holding the mean flow around them: ~3x smaller video; 0: "
               "per-pixel colour"),
        Option("upsample", str, "color", "with block=0: up-sampling to the frame size: colour codes "
               "bilinearly (color), colour codes as blocks (blocks), or the flow (flow: then "
               "coloured at full size)", ("color", "blocks", "flow")),
        Option("threads", positive(int), 1, "OpenCV threads"),
    )

    def __init__(self, **opts):
        super().__init__(**opts)
        if self.opts["scale"] > 1:
            raise ParameterError(f"events: scale must be in (0, 1], got {self.opts['scale']}",
                                 parameter="scale")
        if self.opts["accumulate"] > 8:
            raise ParameterError("events: accumulate must be <= 8", parameter="accumulate")
        self.window = 1 + max(self.opts["accumulate"], 1 if self.opts["persist"] else 0)
        self.flow_source = FLOW_SOURCES[self.opts["flow"]](self.opts["preset"])
        self._lock = threading.Lock()
        self._small: OrderedDict = OrderedDict()
        self._flows: OrderedDict = OrderedDict()
        self._cache_size = 2 * self.window + 4

    def open(self, info) -> None:
        super().open(info)
        cv2.setNumThreads(int(self.opts["threads"]))
        with self._lock:
            self._small.clear()
            self._flows.clear()

    # -- steps ------------------------------------------------------------------------------
    def _cached(self, cache: OrderedDict, key, make):
        with self._lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = make()
        with self._lock:
            cache[key] = value
            while len(cache) > self._cache_size:
                cache.popitem(last=False)
        return value

    def small_luma(self, frame: Frame) -> np.ndarray:
        """Downscaled 8-bit luma of ``frame`` (cached by frame index: output stays a pure function)."""
        def make():
            y = frame.planes[0]
            if frame.bits > 8:
                y = (y >> (frame.bits - 8)).astype(np.uint8)
            h, w = y.shape
            s = self.opts["scale"]
            size = (max(8, round(w * s)), max(8, round(h * s)))
            if size == (w, h):
                return np.ascontiguousarray(y)
            # exact halvings first: bilinear at exactly 1/2 is the 2x2 mean, ~10x cheaper than
            # INTER_AREA on a full plane (1080p to 1/4: 0.25 against 1 ms)
            while w % 2 == 0 and h % 2 == 0 and size[0] * 2 <= w and size[1] * 2 <= h:
                w, h = w // 2, h // 2
                y = cv2.resize(y, (w, h), interpolation=cv2.INTER_LINEAR)
            if size == (w, h):
                return y
            return cv2.resize(y, size, interpolation=cv2.INTER_AREA)
        return self._cached(self._small, frame.index, make)

    def pair_flow(self, prev: Frame, cur: Frame) -> np.ndarray:
        """Raw flow from ``prev`` to ``cur`` at the reduced size, in full-resolution luma px/frame."""
        a, b = self.small_luma(prev), self.small_luma(cur)
        f = self.flow_source(a, b)
        f *= np.float32(cur.width / a.shape[1])
        return f

    def pair_motion(self, prev: Frame, cur: Frame) -> tuple[np.ndarray, np.ndarray]:
        """``(moving mask, flow)`` of one frame pair at the reduced size (cached by ``cur.index``)."""
        def make():
            f = self.pair_flow(prev, cur)
            speed = np.sqrt(f[..., 0] ** 2 + f[..., 1] ** 2)
            change = brightness_change(self.small_luma(prev), self.small_luma(cur))
            mask = event_mask(speed, self.opts["threshold"], self.opts["low"], change,
                              self.opts["contrast"], self.opts["min_area"])
            k = self.opts["smooth"]
            if k > 1:
                mask, f = smooth_motion(mask, f, k)
            return mask, f
        return self._cached(self._flows, cur.index, make)

    def motion(self, frame: Frame, ctx: FrameContext) -> np.ndarray | None:
        """The sparse flow of frame n at the reduced size (zero where static); None for frame 0."""
        got = self._motion(frame, ctx)
        return None if got is None else got[0]

    def _motion(self, frame: Frame, ctx: FrameContext):
        """``(sparse flow, pairs)``: the flow as :meth:`motion`, and the window's pair results."""
        frames = {frame.index: frame}

        def get(m):
            if m not in frames:
                frames[m] = ctx.frame(m)
            return frames[m]

        n = frame.index
        if n < 1 or (self.info is not None and self.info.still):
            return None  # no predecessor: nothing moved
        pairs = {}
        for j in range(self.window):
            if n - 1 - j < 0:
                break
            try:
                pairs[j] = self.pair_motion(get(n - 1 - j), get(n - j))
            except IndexError:  # before the first frame the host has
                break
        if 0 not in pairs:
            return None
        mask, f = pairs[0]
        if self.opts["persist"]:
            # temporal hysteresis: motion must continue from the previous pair, near where it was
            prev = pairs[1][0] if 1 in pairs else np.zeros_like(mask)
            mask = mask & cv2.dilate(prev.astype(np.uint8), _PERSIST_KERNEL).astype(bool)
        out = np.zeros_like(f)
        moving = np.zeros(mask.shape, bool)
        for j in range(self.opts["accumulate"], 0, -1):  # trails, oldest first
            if j in pairs:
                m_j, f_j = pairs[j]
                out[m_j] = f_j[m_j]
                moving |= m_j
        out[mask] = f[mask]
        moving |= mask
        # a moving pixel whose flow is exactly zero would be painted static: nudge it
        stuck = moving & (out[..., 0] == 0) & (out[..., 1] == 0)
        out[stuck] = (MOVING_MIN * 2, 0)
        return out, pairs

    def block_flow(self, frame: Frame, ctx: FrameContext) -> tuple[np.ndarray, int]:
        """``(grid, block)``: the flow of each ``block`` x ``block`` square (zero where static).

        ``grid`` is (ceil(H / block), ceil(W / block), 2) float32, in luma px/frame.
        """
        b = block_size(self.opts["block"], frame.height, frame.width)
        gh, gw = -(-frame.height // b), -(-frame.width // b)
        grid = np.zeros((gh, gw, 2), np.float32)
        got = self._motion(frame, ctx)
        if got is None:
            return grid, b
        flow, pairs = got
        hs, ws = flow.shape[:2]
        # the reduced picture padded so that whole blocks map onto whole cells
        ph = max(gh, round(gh * b * hs / frame.height))
        pw = max(gw, round(gw * b * ws / frame.width))

        def sums(m, f):
            mf = m[:ph, :pw].astype(np.float32)
            ff = f[:ph, :pw] * mf[..., None]
            if (ph, pw) != mf.shape:
                pad = (0, ph - mf.shape[0], 0, pw - mf.shape[1], cv2.BORDER_CONSTANT)
                mf, ff = cv2.copyMakeBorder(mf, *pad, value=0), cv2.copyMakeBorder(ff, *pad, value=0)
            return (cv2.resize(mf, (gw, gh), interpolation=cv2.INTER_AREA),
                    cv2.resize(ff, (gw, gh), interpolation=cv2.INTER_AREA))

        moving = (flow[..., 0] != 0) | (flow[..., 1] != 0)
        share, num = sums(moving, flow)
        den = share.copy()
        if 1 in pairs:  # the previous pair, already computed for the temporal hysteresis
            s1, n1 = sums(*pairs[1])
            num += n1
            den += s1
        num = cv2.blur(num, (3, 3))
        den = cv2.blur(den, (3, 3))
        keep = (share >= 0.5) & (den > 1e-6)
        grid[keep] = num[keep] / den[keep][:, None]
        stuck = keep & (grid[..., 0] == 0) & (grid[..., 1] == 0)
        grid[stuck] = (MOVING_MIN * 2, 0)
        return grid, b

    def coloured_flow(self, frame: Frame, ctx: FrameContext) -> np.ndarray:
        """The flow each pixel of the output is coloured with, (H, W, 2) float32 (zero: black).

        Blocks are repeated; the per-pixel path's reduced flow is resized bilinearly.
        """
        if self.opts["block"] != 0:
            grid, b = self.block_flow(frame, ctx)
            return np.repeat(np.repeat(grid, b, 0), b, 1)[:frame.height, :frame.width]
        flow = self.motion(frame, ctx)
        if flow is None:
            return np.zeros((frame.height, frame.width, 2), np.float32)
        return cv2.resize(flow, (frame.width, frame.height), interpolation=cv2.INTER_LINEAR)

    def process(self, frame: Frame, ctx: FrameContext) -> Frame:
        lut = cs.code_table(self.opts["colors"], frame.family, frame.matrix, frame.full_range)
        if self.opts["block"] != 0:
            grid, b = self.block_flow(frame, ctx)
            moving = (grid[..., 0] != 0) | (grid[..., 1] != 0)
            # share of the picture's pixels that are lit (blocks clipped at the right/bottom edge)
            rows = np.minimum(b, frame.height - b * np.arange(grid.shape[0]))
            cols = np.minimum(b, frame.width - b * np.arange(grid.shape[1]))
            frame.props["VPFEventSparsity"] = float(rows @ moving @ cols) / (frame.width *
                                                                            frame.height)
            write_blocks(frame, grid, b, lut, self.opts["max_speed"])
            return frame
        flow = self.motion(frame, ctx)
        if flow is None:
            flow = np.zeros((*self.small_luma(frame).shape, 2), np.float32)
            frame.props["VPFEventSparsity"] = 0.0
        else:
            # share of moving pixels, measured at the flow resolution
            frame.props["VPFEventSparsity"] = float(np.count_nonzero(
                (flow[..., 0] != 0) | (flow[..., 1] != 0))) / (flow.shape[0] * flow.shape[1])
        write_colors(frame, flow, lut, self.opts["max_speed"], self.opts["upsample"])
        return frame


def write_blocks(frame: Frame, grid: np.ndarray, block: int, lut: np.ndarray,
                 max_speed: float) -> None:
    """Colour the block ``grid`` (zero flow: black) into ``frame``, each block one flat colour."""
    shift = frame.bits - 8
    if not grid.any():  # nothing moves: the "no motion" colour everywhere
        for i, plane in enumerate(frame.planes):
            plane.fill(int(lut[0, 0, i]) << shift)
        return
    codes = flow_to_color(grid, lut, max_speed, min_mag=MOVING_MIN)
    for i, plane in enumerate(frame.planes):
        h, w = plane.shape
        sx, sy = frame.subsampling(i)
        c = codes[..., i]
        if shift:
            c = c.astype(np.uint16) << shift
        # np.repeat is ~7x faster than a nearest-neighbour cv2.resize for whole blocks
        rows = np.repeat(c, block >> sy, axis=0)[:h]
        plane[...] = np.repeat(rows, block >> sx, axis=1)[:, :w]


def write_colors(frame: Frame, flow: np.ndarray, lut: np.ndarray, max_speed: float,
                 upsample: str = "color") -> None:
    """Colour ``flow`` (any size) through the code table ``lut`` into ``frame``'s planes."""
    shift = frame.bits - 8
    if upsample == "flow":
        flow = cv2.resize(flow, (frame.width, frame.height), interpolation=cv2.INTER_LINEAR)
    # one pass of the kernel: zero flow (static) -> the "no motion" colour (black)
    codes = flow_to_color(flow, lut, max_speed, min_mag=MOVING_MIN)
    for i, plane in enumerate(frame.planes):
        h, w = plane.shape
        if codes.shape[:2] == (h, w):
            src = codes[..., i]
        elif upsample == "flow":
            sx, sy = frame.subsampling(i)
            src = codes[::1 << sy, ::1 << sx, i][:h, :w]
        else:
            src = cv2.resize(np.ascontiguousarray(codes[..., i]), (w, h),
                             interpolation=cv2.INTER_NEAREST if upsample == "blocks"
                             else cv2.INTER_LINEAR)
        if shift:
            plane[...] = src.astype(np.uint16) << shift
        else:
            plane[...] = src


# ------------------------------------------------------------------------------ going back


def decode_events(image, colors: str = "munsell", *, matrix: str | None = None,
                  full_range: bool | None = None, bits: int = 6):
    """Read an event frame back into flow direction and normalised speed.

    Parameters
    ----------
    image : Frame or array (H, W, 3) uint8
        An event frame as decoded (any YUV or RGB :class:`~vpfilters.core.frame.Frame`; chroma is
        repeated up to luma size), or an sRGB picture.
    colors : str
        The colour system it was made with.
    matrix, full_range :
        Override the frame's ``_Matrix`` / ``_ColorRange`` (YUV frames only).
    bits : int
        Resolution of the inverse cube per channel (6: 64^3 cells of 4 code values).

    Returns
    -------
    angle : array (H, W) float32
        Direction in radians, 0..2*pi, ``atan2(v, u)`` with v pointing down; NaN where black.
    speed : array (H, W) float32
        Normalised speed 0..1 (1 = ``max_speed`` or faster); 0 where no motion.
    """
    cs._check(colors)
    if isinstance(image, Frame):
        if image.family == "gray":
            raise FormatError("decode_events: a gray frame has no colour to decode",
                              parameter="image")
        shift = image.bits - 8
        h, w = image.height, image.width
        chans = []
        for i, p in enumerate(image.planes):
            sx, sy = image.subsampling(i)
            if sx or sy:
                p = np.repeat(np.repeat(p, 1 << sy, axis=0), 1 << sx, axis=1)[:h, :w]
            chans.append(p >> shift if shift else p)
        codes = np.stack(chans, -1).astype(np.uint8)
        family = image.family
        matrix = matrix or image.matrix
        full_range = image.full_range if full_range is None else full_range
    else:
        codes = np.asarray(image)
        if codes.ndim != 3 or codes.shape[2] != 3 or codes.dtype != np.uint8:
            raise FormatError(f"decode_events: image must be a Frame or (H, W, 3) uint8 RGB, got "
                              f"{codes.shape} {codes.dtype}", parameter="image")
        family, matrix, full_range = "rgb", "bt709", True
    if family == "rgb":
        matrix, full_range = "bt709", True  # unused for RGB; one cache key
    dcube, mcube = cs.inverse_cube(colors, family, matrix or "bt709", bool(full_range), bits)
    q = codes >> (8 - bits)
    idx = (q[..., 0], q[..., 1], q[..., 2])
    d = dcube[idx]
    m = mcube[idx]
    angle = ((d.astype(np.float32) + 0.5) * np.float32(2 * np.pi / N_DIR))
    angle[m == 0] = np.nan
    speed = m.astype(np.float32) / np.float32(N_MAG - 1)
    return angle, speed


# ------------------------------------------------------------------------------ legend


def color_wheel(colors: str = "munsell", size: int = 256) -> np.ndarray:
    """A legend: (size, size, 3) uint8 sRGB disc, direction around, speed 0 (centre) to 1 (rim)."""
    c = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    flow = np.stack([(x - c) / c, (y - c) / c], -1).astype(np.float32)
    rim = np.sqrt((flow ** 2).sum(-1)) > 1
    flow[rim] = 0
    return flow_to_color(flow, cs.rgb_table(colors), 1.0)
