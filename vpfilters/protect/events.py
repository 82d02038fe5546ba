"""Event-stream representation (cl. 7.3, A.2.4): only motion is kept, as coloured optical flow.

Each output frame replaces the picture by the optical flow from frame n - 1 to frame n, coloured
in one of the colour systems of :mod:`vpfilters.protect._colorsystems` (Munsell by default), with
static pixels black. The result is an ordinary video (yuv420p H.264 through any host), in which
people are coloured motion silhouettes while faces and the scene are gone.

How a frame is made (``events=colors=munsell:threshold=1.5:scale=0.25``):

1. Luma of frames n - 1 and n is downscaled by ``scale`` (area filter) and, above 8 bit, cut to 8 bit.
   The default 1/4 was measured on the standard clips: DIS ``fast`` takes about 2-4 ms on
   480x270 against 9-15 ms at 1/2, with the same speed percentiles (50/90/99 %).
2. Flow (pixels per frame) from a pluggable source (:data:`FLOW_SOURCES`,
   :func:`register_flow_source`): OpenCV DIS (``preset`` ultrafast/fast/medium, default fast:
   ultrafast spreads more spurious flow over flat walls) or Farneback; reported in
   full-resolution luma pixels.
3. Sparsity: a pixel moves if its speed is >= ``threshold`` px/frame, or >= ``low`` x ``threshold``
   and 8-connected to such a pixel (spatial hysteresis, as in Canny's edges). With
   ``accumulate=k`` pixels that moved in any of the k earlier frame pairs keep their last flow
   (trails); the window is then k + 1 frames, so output n still depends only on frames n-k-1..n.
   The moving area is then opened and closed with a ``smooth`` x ``smooth`` square and the flow
   box-filtered inside it (smoother silhouettes, cheaper to encode). Before all this a pixel
   counts as moving only where the luma changed by ``contrast`` (DIS spreads flow over flat walls
   from compression noise) and in regions of at least ``min_area`` of the picture.
4. Colour: :func:`vpfilters.kernels.flow_to_color` on a table already converted to the frame's
   code values (matrix, range), speed normalised by ``max_speed`` (px/frame; faster saturates).
5. Up-sampling: the low-resolution Y, U, V codes are resized bilinearly to the planes
   (``upsample=color``, default, faster), or as blocks (``upsample=blocks``: nearest neighbour,
   sharper and about 15 % cheaper to encode), or the flow is resized and coloured at full
   resolution (``upsample=flow``, slower, no better round trip: see benchmarks/events.py).

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
    "write_colors",
]

DEFAULTS = {"threshold": 1.5, "contrast": 2.0, "low": 0.5, "min_area": 0.002, "smooth": 5, "scale": 0.25, "max_speed": 24.0, "preset": "fast"}


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
        Option("upsample", str, "color", "up-sampling to the frame size: colour codes bilinearly "
               "(color), colour codes as blocks (blocks: sharper, ~15 % smaller video), or the flow "
               "(flow: then coloured at full size)", ("color", "blocks", "flow")),
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
        # a moving pixel never rounds into the black "no motion" bin
        lo = self.opts["max_speed"] * 0.51 / (N_MAG - 1)
        speed = np.sqrt(out[..., 0] ** 2 + out[..., 1] ** 2)
        slow = moving & (speed < lo)
        if slow.any():
            sp = speed[slow][:, None]
            out[slow] = np.where(sp > 1e-6, out[slow] * (lo / np.maximum(sp, 1e-6)),
                                 np.float32([lo, 0]))
        return out

    def process(self, frame: Frame, ctx: FrameContext) -> Frame:
        flow = self.motion(frame, ctx)
        lut = cs.code_table(self.opts["colors"], frame.family, frame.matrix, frame.full_range)
        if flow is None:
            flow = np.zeros((*self.small_luma(frame).shape, 2), np.float32)
            frame.props["VPFEventSparsity"] = 0.0
        else:
            # share of moving pixels, measured at the flow resolution
            frame.props["VPFEventSparsity"] = float(np.count_nonzero(
                (flow[..., 0] != 0) | (flow[..., 1] != 0))) / (flow.shape[0] * flow.shape[1])
        write_colors(frame, flow, lut, self.opts["max_speed"], self.opts["upsample"])
        return frame


def write_colors(frame: Frame, flow: np.ndarray, lut: np.ndarray, max_speed: float,
                 upsample: str = "color") -> None:
    """Colour ``flow`` (any size) through the code table ``lut`` into ``frame``'s planes."""
    shift = frame.bits - 8
    if upsample == "flow":
        flow = cv2.resize(flow, (frame.width, frame.height), interpolation=cv2.INTER_LINEAR)
    moving = (flow[..., 0] != 0) | (flow[..., 1] != 0)
    codes = np.empty((*flow.shape[:2], 3), np.uint8)
    codes[...] = lut[0, 0]  # the "no motion" colour (black)
    if moving.any():  # the picture is sparse: colour only what moves
        codes[moving] = flow_to_color(flow[moving][None], lut, max_speed)[0]
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
