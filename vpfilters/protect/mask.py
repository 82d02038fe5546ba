"""Masking (cl. 6.2): blur, pixelate or fill faces, licence plates, people or fixed boxes.

Regions come from fixed boxes (``box=``) and/or detectors (``targets=face+plate+person``).

Video without per-frame detection (``mode=fast``, the default for video)
--------------------------------------------------------------------------
Detection runs only on the grid frames ``g = 0, k, 2k ...`` (``every=k``), on a copy of the frame
scaled to ``scale`` px wide. Frame ``n`` with ``g0 <= n < g1 = g0 + k`` is covered by the union of
the detections of ``g0`` and ``g1``: detections of the two grid frames are matched (same label,
greedy by centre distance, gated by size; fast movers up to 6 box sides apart are paired last), and
each matched pair becomes the box spanning both positions grown by a margin proportional to the
displacement, so an object moving between the two detections stays covered; unmatched detections
are kept, grown by a fixed share of their size. The neighbours are read through ``ctx.frame``
(``window = every``), detections are cached per grid frame (bounded LRU), so the output for frame
``n`` depends only on frames ``g0`` and ``g1`` whatever order frames are asked for in
(VapourSynth). Track ids (``VPFTrackIds``, one per box of ``VPFBoxes``; -1 for fixed boxes) name
the same object from ``g0`` up to ``g1``: ``g0 * 1000 + i`` for the ``i``-th detection of ``g0``,
``g1 * 1000 + j`` for one first seen at ``g1``. Faces are kept down to a score of
:data:`VIDEO_THRESHOLD` (0.06) on grid frames: a miss there would leak on up to ``2k - 1`` frames.

Stills and image folders (``StreamInfo.still``) default to ``mode=thorough`` on every picture.

Soft masks: a region that carries its own mask (``Region.mask``, e.g. from a subclass's
``regions``/``detected``) is protected by that mask instead of its box or ellipse: nothing where
it is 0, fully where it is 255 (1.0), a blend of protected and original pixels in between
(``(src * (256 - a) + F * a + 128) >> 8`` with ``a = m + (m >> 7)``). Subsampled chroma takes the
maximum of the luma mask over each chroma sample's pixels (protection never shrinks). ``feather``
applies to boxes only. Frames without such regions take exactly the paths they took before.

Fail closed: a detector error raises out of :meth:`MaskProtector.process`, so the pipeline hides
the whole frame (or stops with ``on_error=stop``); every frame that depends on a failed grid frame
fails the same way.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from vpfilters.core.frame import Frame, color_values, parse_color
from vpfilters.core.protector import (FrameContext, Option, Protector, StreamInfo, non_negative,
                                      parse_boxes, positive)
from vpfilters.core.region import Region, boxes_array, flat_boxes
from vpfilters.errors import ParameterError
from vpfilters.kernels import mask_blur

#: Detection interval of fast (video) mode: at 25 fps one detection every 0.12 s.
DEFAULT_EVERY = 3
#: Detection width of fast mode, px.
DEFAULT_SCALE = 640
#: The least padding of ``shape=ellipse`` (an ellipse inscribed in a box covers less of a face;
#: vpfilters/models/centerface.md: pad 0.3 leaks about as much as boxes at the tuned pad).
ELLIPSE_PAD = 0.3
#: Grid-frame pairs: the margin added per pixel of displacement between the two detections,
#: the gate of a match (centre distance over the larger box side), and the growth of a detection
#: without a partner (share of its size per side).
MOTION_MARGIN = 0.5
MATCH_GATES = (2.0, 6.0)
UNMATCHED_GROW = 0.15
CACHE_SIZE = 32
#: Score threshold of fast mode on video (grid detections), below the detector's still-picture
#: default (0.15): a face missed on a grid frame leaks on up to 2k - 1 frames, and on the Intel
#: clips 0.06 brings the leak between detections from 3.6 % to under 1 % of faces for a few
#: tenths of a percent more masked area (benchmarks/mask_quality.py).
VIDEO_THRESHOLD = 0.06


def ellipse_mask(regions: list[Region], width: int, height: int) -> np.ndarray | None:
    """uint8 luma mask of the ellipses inscribed in the regions' boxes (None when no regions)."""
    if not regions:
        return None
    m = np.zeros((height, width), np.uint8)
    for r in regions:
        x1, y1, x2, y2 = r.box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ax, ay = max((x2 - x1) / 2, 0.5), max((y2 - y1) / 2, 0.5)
        ys = slice(max(0, int(np.floor(y1))), min(height, int(np.ceil(y2))))
        xs = slice(max(0, int(np.floor(x1))), min(width, int(np.ceil(x2))))
        yy, xx = np.mgrid[ys, xs]
        inside = ((xx + 0.5 - cx) / ax) ** 2 + ((yy + 0.5 - cy) / ay) ** 2 <= 1.0
        m[ys, xs][inside] = 255
    return m


def soft_mask(regions: list[Region], width: int, height: int,
              base: np.ndarray | None = None) -> np.ndarray:
    """uint8 luma mask holding the regions' own soft masks (``Region.mask``) at their boxes'
    integer bounds (parts off the frame are cut), combined by maximum with ``base`` (which is
    edited in place when given). Regions without a mask add nothing."""
    m = np.zeros((height, width), np.uint8) if base is None else base
    for r in regions:
        rm = r.mask_u8()
        if rm is None:
            continue
        x0, y0 = r.mask_origin()
        ys, xs = max(0, y0), max(0, x0)
        ye, xe = min(height, y0 + rm.shape[0]), min(width, x0 + rm.shape[1])
        if ye <= ys or xe <= xs:
            continue
        dst = m[ys:ye, xs:xe]
        np.maximum(dst, rm[ys - y0:ye - y0, xs - x0:xe - x0], out=dst)
    return m


def parse_targets(text) -> tuple[str, ...]:
    """``face+plate+person`` (or ``none``) -> a tuple of detector names."""
    from vpfilters.detect import parse_targets as known

    items = [t.strip() for t in (text.split("+") if isinstance(text, str) else text)]
    items = [t for t in items if t]
    if items in (["none"], []):
        return ()
    return known(items)


def unit_float(text) -> float:
    v = float(text)
    if not 0 < v <= 1:
        raise ValueError("must be in (0, 1]")
    return v


@dataclass
class GridDetections:
    """Raw (unpadded) detections of one analysed frame, in luma pixels."""

    boxes: np.ndarray   # (N, 4) float64
    labels: np.ndarray  # (N,) str
    scores: np.ndarray  # (N,) float64


def match_pairs(a: GridDetections, b: GridDetections, gates=MATCH_GATES):
    """One-to-one matching of two detection sets: same label, sides within a factor 2, centre
    distance below ``gate`` times the larger side. Greedy, closest first (ties by index), one
    pass per gate on what is still unmatched (a far gate last pairs fast movers that nothing
    else claims), so the result is deterministic. Returns a list of (i, j)."""
    if not len(a.boxes) or not len(b.boxes):
        return []
    ca = (a.boxes[:, :2] + a.boxes[:, 2:]) / 2
    cb = (b.boxes[:, :2] + b.boxes[:, 2:]) / 2
    sa = np.maximum(a.boxes[:, 2] - a.boxes[:, 0], a.boxes[:, 3] - a.boxes[:, 1])
    sb = np.maximum(b.boxes[:, 2] - b.boxes[:, 0], b.boxes[:, 3] - b.boxes[:, 1])
    dist = np.linalg.norm(ca[:, None] - cb[None], axis=2)
    side = np.maximum(np.maximum(sa[:, None], sb[None]), 1.0)
    ratio = np.maximum(sa[:, None], 1e-6) / np.maximum(sb[None], 1e-6)
    same = (a.labels[:, None] == b.labels[None]) & (ratio <= 2.0) & (ratio >= 0.5)
    cost = dist / side
    used_a, used_b, pairs = set(), set(), []
    for gate in gates:
        cand = sorted((float(cost[i, j]), int(i), int(j))
                      for i, j in zip(*np.nonzero(same & (cost <= gate))))
        for _, i, j in cand:
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def _grown(box, px: float, py: float, width: int, height: int):
    x1, y1, x2, y2 = box
    return (max(0.0, x1 - px), max(0.0, y1 - py), min(float(width), x2 + px),
            min(float(height), y2 + py))


class MaskProtector(Protector):
    """Shared by blur, pixelate and fill: regions from fixed boxes and/or detectors."""

    mode = "gaussian"
    default_strength = 8.0
    options = (
        Option("box", parse_boxes, [], "fixed regions, x1/y1/x2/y2 in luma pixels, '+'-separated"),
        Option("targets", parse_targets, None,
               "what to detect and mask: face, plate, person joined by '+', or none (default "
               "face; none when box= is given alone)"),
        Option("mode", str, None, "detection mode (default thorough for stills and image "
               "folders, fast for video)", ("fast", "thorough")),
        Option("strength", non_negative(float), None, "blur sigma / mosaic block size, luma px"),
        Option("feather", non_negative(float), 0.0, "soft edge outside each region, luma px"),
        Option("shape", str, "box", "region shape", ("box", "ellipse")),
        Option("pad", non_negative(float), None,
               "grow regions by this (fraction of the box if < 1, else px); default: the "
               "detector's tuned padding (at least 0.3 for ellipses), 0 for fixed boxes"),
        Option("every", positive(int), None,
               f"video: detect on every k-th frame and cover the frames between from the two "
               f"nearest detections (default {DEFAULT_EVERY} in fast mode, 1 in thorough mode)"),
        Option("scale", positive(int), DEFAULT_SCALE, "fast mode: detection width, px"),
        Option("threshold", unit_float, None, "detection score threshold (default: tuned per "
               f"detector and mode; faces in video fast mode {VIDEO_THRESHOLD})"),
    )

    def __init__(self, **opts):
        super().__init__(**opts)
        targets = self.opts["targets"]
        if targets is None:
            targets = () if self.opts["box"] else ("face",)
        self.targets: tuple[str, ...] = tuple(targets)
        if self.opts["scale"] < 32:
            raise ParameterError(f"{self.name}: scale must be >= 32 px, got {self.opts['scale']}",
                                 parameter="scale")
        every = self.opts["every"]
        if every is not None and every > 32:
            raise ParameterError(f"{self.name}: every must be <= 32, got {every}",
                                 parameter="every")
        # The window is fixed before the stream opens (hosts read it first): with detection and
        # no explicit mode, it is the fast mode's interval.
        if not self.targets:
            self.window = 0
        elif every is not None:
            self.window = every if every > 1 else 0
        else:
            self.window = 0 if self.opts["mode"] == "thorough" else DEFAULT_EVERY
        self._cache: OrderedDict[int, GridDetections] = OrderedDict()
        self._lock = threading.Lock()
        self._pads: dict[str, float] = {}
        self._plans: dict = {}  # fixed boxes only: see _fixed_plan

    # -- configuration resolved when the stream opens ---------------------------------------
    def open(self, info: StreamInfo) -> None:
        super().open(info)
        with self._lock:
            self._cache.clear()
        self._plans = {}

    @property
    def detect_mode(self) -> str:
        m = self.opts["mode"]
        if m is None:
            m = "thorough" if (self.info is not None and self.info.still) else "fast"
        return m

    @property
    def every(self) -> int:
        e = self.opts["every"]
        if e is None:
            e = DEFAULT_EVERY if self.detect_mode == "fast" else 1
        return min(int(e), max(self.window, 1)) if self.window else 1

    def _detector_options(self) -> dict:
        return {"face": {"width": self.opts["scale"]}} if self.detect_mode == "fast" else {}

    def pad_for(self, label: str) -> float:
        """The padding of detections with ``label`` (explicit ``pad``, else the detector's)."""
        if self.opts["pad"] is not None:
            return float(self.opts["pad"])
        key = f"{label}/{self.detect_mode}"
        if key not in self._pads:
            from vpfilters.detect import _options_for, get_detector

            try:
                p = float(getattr(get_detector(label, **_options_for(
                    label, self.detect_mode, None, None, self._detector_options())), "pad", 0.0))
            except Exception:
                p = 0.25
            self._pads[key] = p
        p = self._pads[key]
        return max(p, ELLIPSE_PAD) if self.opts["shape"] == "ellipse" else p

    # -- detection ---------------------------------------------------------------------------
    def analyse(self, frame: Frame) -> GridDetections:
        """Detect the targets in one frame (fast: scaled to ``scale`` px wide first)."""
        from vpfilters.detect import detect
        from vpfilters.detect._onnx import frame_to_rgb

        mode = self.detect_mode
        image, fx, fy = frame, 1.0, 1.0
        if mode == "fast":
            sw = min(int(self.opts["scale"]), frame.width)
            sh = max(1, round(frame.height * sw / frame.width))
            image = frame_to_rgb(frame, (sw, sh))
            fx, fy = frame.width / sw, frame.height / sh
        thr = self.opts["threshold"]
        if thr is None and mode == "fast" and not (self.info is not None and self.info.still):
            thr = {t: VIDEO_THRESHOLD for t in self.targets if t == "face"} or None
        found = detect(image, self.targets, mode=mode, threshold=thr,
                       options=self._detector_options())
        boxes = found.boxes.astype(np.float64).reshape(-1, 4) * np.array([fx, fy, fx, fy])
        return GridDetections(boxes, np.asarray(found.labels, str),
                              found.scores.astype(np.float64))

    def grid_detections(self, g: int, ctx: FrameContext, frame: Frame) -> GridDetections:
        """Detections of grid frame ``g`` (cached; read through ``ctx`` unless it is ``frame``)."""
        with self._lock:
            hit = self._cache.get(g)
            if hit is not None:
                self._cache.move_to_end(g)
                return hit
        src = ctx.frame(g) if (self.window and ctx is not None and ctx.window) else frame
        dets = self.analyse(src)
        with self._lock:
            self._cache[g] = dets
            self._cache.move_to_end(g)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return dets

    def _padded(self, box, label, w, h, size=None) -> tuple:
        p = self.pad_for(label)
        bw, bh = size if size is not None else (box[2] - box[0], box[3] - box[1])
        px, py = (p * bw, p * bh) if p < 1 else (p, p)
        return _grown(box, px, py, w, h)

    def detected(self, frame: Frame, ctx: FrameContext) -> list[Region]:
        """The padded detection regions of ``frame`` (with track ids)."""
        if not self.targets:
            return []
        w, h = frame.width, frame.height
        n = frame.index if ctx is None else ctx.index
        k = self.every
        if k <= 1:
            d = self.analyse(frame)
            return [Region(self._padded(tuple(b), lab, w, h), lab, float(s), i)
                    for i, (b, lab, s) in enumerate(zip(d.boxes.tolist(), d.labels.tolist(),
                                                        d.scores.tolist()))]
        g0 = n - n % k
        d0 = self.grid_detections(g0, ctx, frame)
        d1 = None
        if n != g0:
            try:
                d1 = self.grid_detections(g0 + k, ctx, frame)
            except IndexError:  # past the end of the stream
                d1 = None
        out = []
        pairs = match_pairs(d0, d1) if d1 is not None else []
        in_a = {i for i, _ in pairs}
        in_b = {j for _, j in pairs}
        for i, j in pairs:
            a, b = d0.boxes[i], d1.boxes[j]
            lab = str(d0.labels[i])
            u = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
            ca, cb = (a[:2] + a[2:]) / 2, (b[:2] + b[2:]) / 2
            dx, dy = abs(cb - ca) * MOTION_MARGIN
            size = ((a[2] - a[0] + b[2] - b[0]) / 2, (a[3] - a[1] + b[3] - b[1]) / 2)
            box = self._padded(_grown(u, dx, dy, w, h), lab, w, h, size)
            out.append(Region(box, lab, float(max(d0.scores[i], d1.scores[j])), g0 * 1000 + i))
        grow = UNMATCHED_GROW if n != g0 else 0.0
        for dets, skip, base in ((d0, in_a, g0), (d1, in_b, g0 + k)):
            if dets is None:
                continue
            for i, (b, lab, s) in enumerate(zip(dets.boxes.tolist(), dets.labels.tolist(),
                                                dets.scores.tolist())):
                if i in skip:
                    continue
                bw, bh = b[2] - b[0], b[3] - b[1]
                box = _grown(tuple(b), grow * bw, grow * bh, w, h)
                out.append(Region(self._padded(box, lab, w, h, (bw, bh)), lab, float(s),
                                  base * 1000 + i))
        return out

    # -- regions and pixels ------------------------------------------------------------------
    def regions(self, frame: Frame, ctx: FrameContext) -> list[Region]:
        """Every region to mask in ``frame``, padded and clipped: fixed boxes, then detections."""
        pad = self.opts["pad"]
        fixed = [Region(tuple(b), "box") for b in self.opts["box"]]
        if pad:
            fixed = [r.grown(pad, frame.width, frame.height) for r in fixed]
        return fixed + self.detected(frame, ctx)

    def fill_values(self, frame: Frame) -> list[float]:
        return [0.0] * len(frame.planes)

    def touched_rows(self, info: StreamInfo) -> list[list[tuple[int, int]]] | None:
        """Rows of each plane (core order) that :meth:`process` may read or write, as merged
        ``[y0, y1)`` ranges, for every frame of the stream ``info`` describes; None when any row
        may be (detection). Only fixed boxes give ranges: each box's rows grown by the feather,
        the blur or mosaic reach and a safety margin. Hosts may pass the other rows on untouched.
        """
        if self.targets or not self.opts["box"] or not self._fixed_only() \
                or type(self).process is not MaskProtector.process:
            return None
        from vpfilters.core.frame import FORMATS
        from vpfilters.kernels._params import plane_boxes, plane_feather, plane_param

        fam, _bits, (fsx, fsy), n = FORMATS[info.format]
        regions = [Region(tuple(b), "box") for b in self.opts["box"]]
        if self.opts["pad"]:
            regions = [r.grown(self.opts["pad"], info.width, info.height) for r in regions]
        boxes = boxes_array(regions)
        strength = self.opts["strength"]
        strength = float(self.default_strength if strength is None else strength)
        out = []
        for i in range(n):
            sx, sy = (fsx, fsy) if (i and fam == "yuv") else (0, 0)
            h, w = -(-info.height // (1 << sy)), -(-info.width // (1 << sx))
            param, passes = plane_param(self.mode, strength, sx, sy)
            _fx, fy = plane_feather(float(self.opts["feather"]), sx, sy)
            margin = fy + (passes + 1) * param + 2
            ranges: list[tuple[int, int]] = []
            for _x0, y0, _x1, y1 in sorted(plane_boxes(boxes, sx, sy, w, h).tolist(),
                                            key=lambda b: b[1]):
                a, b = max(0, y0 - margin), min(h, y1 + margin)
                if ranges and a <= ranges[-1][1]:
                    ranges[-1] = (ranges[-1][0], max(ranges[-1][1], b))
                else:
                    ranges.append((a, b))
            out.append(ranges)
        return out

    def _fixed_plan(self, frame: Frame):
        """What :meth:`process` does to a frame of this kind when only fixed boxes are masked.

        The regions, their ``VPFBoxes`` and, per plane, the kernel and its exact arguments (the
        ones :func:`~vpfilters.kernels.mask_blur` would compute: boxes rounded outward, fill value,
        radius) depend only on the format, size, matrix and range, so they are computed once per
        kind of frame and each frame costs one kernel call per plane. None where the general path
        must run (detection, ellipses, arrays other than numpy planes with packed pixels).
        """
        if self.targets or self.opts["shape"] != "box" or not self.opts["box"] \
                or not self._fixed_only():
            return None
        planes = frame.planes
        for p in planes:
            if type(p) is not np.ndarray or p.strides[1] != p.itemsize:
                return None
        props = frame.props
        key = (frame.format, planes[0].shape, props.get("_Matrix"), props.get("_ColorRange"),
               os.environ.get("VPF_BACKEND"), os.environ.get("VPF_THREADS"))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._make_fixed_plan(frame)
        return plan

    def _fixed_only(self) -> bool:
        """True when the regions are this class's fixed boxes (no subclass computes its own per
        frame), so that they, and the fill values, depend only on the kind of frame."""
        cls = type(self)
        return (cls.regions is MaskProtector.regions and cls.detected is MaskProtector.detected
                and cls.apply_regions is MaskProtector.apply_regions
                and cls.fill_values in (MaskProtector.fill_values, Fill.fill_values))

    def _make_fixed_plan(self, frame: Frame):
        from vpfilters.kernels import _backend, _fill_value, _reference
        from vpfilters.kernels._params import plane_boxes, plane_feather, plane_param

        regions = self.regions(frame, None)
        flat = flat_boxes(regions)
        strength = self.opts["strength"]
        strength = float(self.default_strength if strength is None else strength)
        feather = float(self.opts["feather"])
        values = self.fill_values(frame)
        boxes = boxes_array(regions)
        nthreads = _backend.threads(None)
        calls = []
        for i, plane in enumerate(frame.planes):
            sx, sy = frame.subsampling(i)
            impl, _xp = _backend.implementation(None, plane)
            h, w = plane.shape
            param, passes = plane_param(self.mode, strength, sx, sy)
            fx, fy = plane_feather(feather, sx, sy)
            calls.append((impl.mask_apply, plane_boxes(boxes, sx, sy, w, h),
                          _reference.MODES[self.mode], param, passes, fx, fy,
                          _fill_value(values[i], plane.dtype), nthreads))
        return flat, len(regions), tuple(calls)

    def process(self, frame: Frame, ctx: FrameContext) -> Frame:
        plan = self._fixed_plan(frame)
        if plan is not None:  # fixed boxes only: the precomputed calls, bit-identical
            flat, n, calls = plan
            props = frame.props
            before = list(props.get("VPFBoxes", []))
            props["VPFBoxes"] = before + flat
            old = list(props.get("VPFTrackIds", []))
            if old:  # as record_regions: one id per box, -1 for fixed boxes
                props["VPFTrackIds"] = (old + [-1] * (len(before) // 4))[:len(before) // 4] \
                    + [-1] * n
            for plane, (apply, pboxes, mode_id, param, passes, fx, fy, fill, nthreads) in zip(
                    frame.planes, calls):
                apply(plane, plane, pboxes, mode_id, param, passes, fx, fy, None, fill, nthreads)
            return frame
        regions = self.regions(frame, ctx)
        record_regions(frame.props, frame.props.get("VPFBoxes", []), regions)
        return self.apply_regions(frame, regions)

    def apply_regions(self, frame: Frame, regions: list[Region]) -> Frame:
        """The pixels of :meth:`process` for ``regions`` (already padded; props untouched):
        boxes (feathered), ellipses with ``shape=ellipse``, and each region's own soft mask
        where it has one (alpha = the mask; no feather, the mask carries its own edge;
        max-pooled onto subsampled planes). The kernel takes the maximum of them all."""
        if not regions:
            return frame
        strength = self.opts["strength"]
        strength = self.default_strength if strength is None else strength
        boxes, mask = boxes_array(regions), None
        if any(r.mask is not None for r in regions):
            plain = [r for r in regions if r.mask is None]
            if self.opts["shape"] == "ellipse":
                boxes, mask = None, ellipse_mask(plain, frame.width, frame.height)
            else:
                boxes = boxes_array(plain)
            mask = soft_mask(regions, frame.width, frame.height, mask)
        elif self.opts["shape"] == "ellipse":
            boxes, mask = None, ellipse_mask(regions, frame.width, frame.height)
        values = self.fill_values(frame)
        for i, plane in enumerate(frame.planes):
            mask_blur(plane, boxes, mode=self.mode, strength=strength,
                      feather=self.opts["feather"], subsampling=frame.subsampling(i), mask=mask,
                      value=values[i], out=plane)
        return frame


def record_regions(props: dict, before_boxes, regions: list[Region]) -> None:
    """``VPFBoxes`` += the regions' boxes; ``VPFTrackIds`` (one per box, -1 when none) likewise."""
    before_boxes = list(before_boxes)
    props["VPFBoxes"] = before_boxes + flat_boxes(regions)
    ids = [-1 if r.track_id is None else int(r.track_id) for r in regions]
    old = list(props.get("VPFTrackIds", []))
    if any(i >= 0 for i in ids) or old:
        old = (old + [-1] * (len(before_boxes) // 4))[:len(before_boxes) // 4]
        props["VPFTrackIds"] = old + ids


class Blur(MaskProtector):
    name = "blur"
    summary = "Gaussian-like blur of faces, plates, people or boxes (cl. 6.2)"
    mode = "gaussian"
    default_strength = 12.0


class Pixelate(MaskProtector):
    name = "pixelate"
    summary = "mosaic (pixelate) faces, plates, people or boxes (cl. 6.2)"
    mode = "pixelate"
    default_strength = 16.0


class Fill(MaskProtector):
    name = "fill"
    summary = "cover faces, plates, people or boxes with a solid colour (cl. 6.2)"
    mode = "fill"
    options = MaskProtector.options + (
        Option("color", parse_color, (0, 0, 0), "fill colour: a name or #RRGGBB (sRGB)"),
    )

    def fill_values(self, frame: Frame) -> list[float]:
        return color_values(self.opts["color"], frame)
