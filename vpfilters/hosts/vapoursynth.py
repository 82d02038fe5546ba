"""VapourSynth host: protect a clip with a filter spec inside VapourSynth's own frame graph."""

# `vapoursynth` below must be the real VapourSynth module, never this file: absolute imports only.
from __future__ import annotations

import os
import weakref
from fractions import Fraction

# OpenBLAS, numpy's BLAS, starts a worker per core that spins for ~0.1 s of CPU before it sleeps.
# The hosts do no BLAS work, and on a small machine that spin is taken from the decoder and the
# encoder; with a short timeout idle workers sleep at once (BLAS keeps its threads). Effective only
# before numpy's first import, and never over the user's own setting.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np
import vapoursynth as vs

from vpfilters.core import Frame, FrameContext, Pipeline, StreamInfo, build
from vpfilters.core.frame import FORMATS
from vpfilters.core.protector import fail_closed
from vpfilters.core.region import boxes_array, flat_boxes
from vpfilters.errors import FormatError, ParameterError, ProtectionError
from vpfilters.kernels import mask_blur
from vpfilters.kernels._params import plane_boxes
from vpfilters.protect.mask import Fill, MaskProtector, record_regions

__all__ = ["MAX_WINDOW", "as_frame", "core_format", "has_plugin", "protect"]

#: The widest neighbour window a protector may declare here (each frame of it is a clip to request).
MAX_WINDOW = 32

# Between two native mask stages, VPFBoxes holds only the stage's own boxes (core.vpf.MaskBlur
# covers every box it finds there); the boxes of all stages so far wait under this key until the
# last stage is done.
_SO_FAR = "VPFBoxesSoFar"

_FAMILY = {vs.YUV: "yuv", vs.GRAY: "gray", vs.RGB: "rgb"}
_PREFIX = {"yuv": {(1, 1): "yuv420p", (1, 0): "yuv422p", (0, 0): "yuv444p"},
           "gray": {(0, 0): "gray"}, "rgb": {(0, 0): "rgbp"}}
# VapourSynth's names of the formats vpfilters takes, for error messages.
_VS_NAMES = ("YUV420P8", "YUV420P10", "YUV420P12", "YUV420P16", "YUV422P8", "YUV422P10",
             "YUV444P8", "YUV444P10", "YUV444P16", "GRAY8", "GRAY10", "GRAY16", "RGB24", "RGB30",
             "RGB48")


# ------------------------------------------------------------------------------------ formats


def core_format(fmt, func: str = "protect") -> str:
    """The :data:`vpfilters.core.FORMATS` name of a VapourSynth format (RGB24 -> ``'rgbp'``).

    Raises :class:`FormatError` naming ``func`` and the format for anything else (float samples,
    9-bit, 4:1:0, variable format ...).
    """
    if fmt is None:
        raise FormatError(f"{func}: clip must have a constant format and size, got a variable "
                          f"format; supported: {', '.join(_VS_NAMES)}", parameter="clip")
    name = None
    family = _FAMILY.get(fmt.color_family)
    if family and fmt.sample_type == vs.INTEGER:
        base = _PREFIX[family].get((fmt.subsampling_w, fmt.subsampling_h))
        if base:
            name = base if fmt.bits_per_sample == 8 else f"{base}{fmt.bits_per_sample}"
    if name not in FORMATS:
        raise FormatError(f"{func}: clip format {fmt.name} is not supported; supported: "
                          f"{', '.join(_VS_NAMES)}", parameter="clip")
    return name


def _props_in(vsprops) -> dict:
    """VapourSynth frame properties -> plain Python values, in the core's conventions.

    The core names the range ``_ColorRange`` (0 = full, 1 = limited); VapourSynth API 4.2+ (R7x,
    R81) stores ``_Range`` with the opposite numbers (0 = limited, 1 = full) and keeps
    ``_ColorRange`` only as a deprecated alias. The host translates both ways.
    """
    out = {}
    for k, v in vsprops.items():
        if k in ("_ColorRange", "_Range"):
            continue
        if isinstance(v, (int, float, str, bytes)):
            out[k] = int(v) if isinstance(v, int) else v  # IntEnum (_Matrix ...) -> int
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str, bytes)) for x in v):
            out[k] = [int(x) if isinstance(x, int) else x for x in v]
        # nodes, frames and functions stay in VapourSynth
    if "_Range" in vsprops:
        out["_ColorRange"] = 0 if int(vsprops["_Range"]) == 1 else 1
    elif "_ColorRange" in vsprops:  # VapourSynth before API 4.2: same meaning as the core's
        out["_ColorRange"] = int(vsprops["_ColorRange"])
    return out


def _vs_value(key, v):
    if isinstance(v, np.ndarray):
        v = v.tolist()
    elif isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (list, tuple)):
        return [_vs_value(key, x) for x in v]
    if isinstance(v, (int, float, str, bytes)):
        return v
    raise ProtectionError(f"frame property {key} has a value of type {type(v).__name__}, which "
                          f"VapourSynth cannot store (use numbers, strings, bytes or lists)",
                          parameter=key)


def _props_out(vsprops, before: dict, after: dict) -> None:
    """Write what a protector added, changed or removed in ``Frame.props`` back to ``vsprops``."""
    for k in before.keys() - after.keys():
        k = "_Range" if k == "_ColorRange" else k
        if k in vsprops:
            del vsprops[k]
    for k, v in after.items():
        if k in before and _same(before[k], v):
            continue
        if k == "_ColorRange":
            k, v = "_Range", 1 if int(v) == 0 else 0
        v = _vs_value(k, v)
        if isinstance(v, list) and not v:
            # VapourSynth cannot hold an empty array: an empty list is an absent key.
            if k in vsprops:
                del vsprops[k]
        else:
            vsprops[k] = v


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple, np.ndarray)) or isinstance(b, (list, tuple, np.ndarray)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def as_frame(f, n: int = 0, fmt: str | None = None) -> Frame:
    """A :class:`vpfilters.core.Frame` viewing the planes of VapourSynth frame ``f``.

    The planes are numpy views (no copies): writable when ``f`` is (a ``f.copy()``), read-only
    for frames straight from ``get_frame``. Properties are converted with the core's conventions.
    """
    fmt = fmt or core_format(f.format, "as_frame")
    planes = [np.asarray(f[i]) for i in range(f.format.num_planes)]
    return Frame(planes, fmt, n, _props_in(f.props))


def has_plugin(core=None) -> bool:
    """True when the native plug-in ``core.vpf`` (MaskBlur ...) is loaded."""
    core = core or vs.core
    return hasattr(core, "vpf") and hasattr(core.vpf, "MaskBlur")


# ------------------------------------------------------------------------------------ windows


def _shifted(clip, d: int):
    """``clip`` moved by ``d`` frames: frame n of the result is frame clamp(n + d) of ``clip``."""
    n = clip.num_frames
    if d == 0:
        return clip
    if abs(d) >= n:
        return (clip[-1] if d > 0 else clip[0]) * n
    if d > 0:
        return clip[d:] + clip[-1] * d
    return clip[0] * (-d) + clip[:n + d]


class _Window:
    """The decoded neighbours of frame n that a protector with ``window`` > 0 may look at."""

    def __init__(self, source, window: int, fmt: str):
        self.window = window
        self.fmt = fmt
        self.num_frames = source.num_frames
        self.clips = [_shifted(source, d) for d in range(-window, window + 1)] if window else []

    def context(self, n: int, frames) -> FrameContext:
        """``frames``: the frames of :attr:`clips` for frame n (offsets -window..window)."""
        if not self.window:
            return FrameContext(n, None, 0, self.num_frames)
        cache = {}

        def fetch(m: int) -> Frame:
            if m not in cache:
                cache[m] = as_frame(frames[m - n + self.window], m, self.fmt)
            return cache[m]
        return FrameContext(n, fetch, self.window, self.num_frames)


# ------------------------------------------------------------------------------------ stages


def _writable(fout, fmt: str, n: int, props: dict) -> tuple[Frame, list]:
    views = [np.asarray(fout[i]) for i in range(fout.format.num_planes)]
    return Frame(list(views), fmt, n, props), views


def _store_planes(out: Frame, views: list, fmt: str, n: int) -> None:
    if out.format != fmt or len(out.planes) != len(views):
        raise ProtectionError(f"a protector turned the {fmt} frame into {out.format}; the "
                              f"VapourSynth host keeps formats", frame=n)
    for view, plane in zip(views, out.planes):
        if plane is view:
            continue
        if plane.shape != view.shape or plane.dtype != view.dtype:
            raise ProtectionError(f"a protector returned a plane of shape {plane.shape} "
                                  f"{plane.dtype}, expected {view.shape} {view.dtype}", frame=n)
        np.copyto(view, plane)


class _PythonStage:
    """Protectors run in Python on writable numpy views of each frame (std.ModifyFrame)."""

    def __init__(self, protectors, on_error: str, fmt: str, source):
        self.pipeline = Pipeline(protectors, on_error=on_error)
        self.fmt = fmt
        self.win = _Window(source, self.pipeline.window, fmt)
        weakref.finalize(self, self.pipeline.close)  # lives as long as VapourSynth holds the node

    def apply(self, clip):
        clips = [clip] + self.win.clips
        return vs.core.std.ModifyFrame(clip, clips if len(clips) > 1 else clip, self._frame)

    def _frame(self, n, f):
        frames = f if isinstance(f, list) else [f]
        fout = frames[0].copy()  # decoded planes are read-only
        before = _props_in(fout.props)
        props = dict(before)
        if _SO_FAR in props:
            props["VPFBoxes"] = props.pop(_SO_FAR)
        frame, views = _writable(fout, self.fmt, n, props)
        out = self.pipeline.process(frame, self.win.context(n, frames[1:]))
        _store_planes(out, views, self.fmt, n)
        _props_out(fout.props, before, out.props)
        return fout


def _output_size(pipeline: Pipeline, width: int, height: int, fmt: str) -> tuple[int, int]:
    """The (width, height) of the output clip when protectors change the frame size, known before
    any frame (:meth:`Pipeline.output_size`); it must fit the format's chroma subsampling."""
    try:
        size = pipeline.output_size(width, height, fmt)
    except FormatError as exc:
        raise FormatError(f"protect: {exc}", parameter="clip") from None
    if size is None:
        p = next(p for p in pipeline.protectors
                 if p.changes_size and not callable(getattr(p, "output_size", None)))
        raise ParameterError(f"protect: {p.name} changes the frame size but does not say to "
                             f"what size (an output_size(width, height, format) method), which "
                             f"the VapourSynth host needs to build the output clip",
                             parameter="spec")
    w, h = size
    _fam, _bits, (sx, sy), _n = FORMATS[fmt]
    if w <= 0 or h <= 0 or w % (1 << sx) or h % (1 << sy):
        names = ", ".join(p.name for p in pipeline.protectors if p.changes_size)
        raise FormatError(f"protect: {names} would turn the {width}x{height} {fmt} clip into "
                          f"{w}x{h} frames, which a {fmt} clip cannot hold (chroma subsampling); "
                          f"crop or pad the clip first", parameter="clip")
    return w, h


class _ResizeStage:
    """The whole pipeline in Python when a protector changes the frame size (``rescale`` with
    ``size=small``): std.ModifyFrame over a blank clip of the new size, fed the source frames.

    The output frame is a copy of the blank template's frame (the new size) that gets the
    pipeline's planes and the source frame's properties (``_Matrix``, ``_Range``, durations ...)
    plus the protectors' ``VPF...`` ones. A frame that fails is hidden (fail closed): a mid-grey
    frame of the new size with ``VPFFailClosed=1``, never the source picture.
    """

    def __init__(self, protectors, on_error: str, fmt: str, source, width: int, height: int):
        self.pipeline = Pipeline(protectors, on_error=on_error)
        self.on_error = on_error
        self.fmt = fmt
        self.width, self.height = width, height
        self.win = _Window(source, self.pipeline.window, fmt)
        self.template = vs.core.std.BlankClip(source, width=width, height=height, keep=True)
        self.source = source
        self.hider = next((p for p in protectors if p.changes_size), protectors[-1])
        weakref.finalize(self, self.pipeline.close)  # lives as long as VapourSynth holds the node

    def apply(self):
        clips = [self.template, self.source] + self.win.clips
        return vs.core.std.ModifyFrame(self.template, clips, self._frame)

    def _frame(self, n, f):
        blank, src = f[0], f[1]
        fout = blank.copy()
        props = fout.props
        for k in list(props.keys()):
            del props[k]
        for k, v in src.props.items():
            props[k] = v
        before = _props_in(src.props)
        frame, _ = _writable(src.copy(), self.fmt, n, dict(before))  # decoded planes: read-only
        small, views = _writable(fout, self.fmt, n, {})
        try:
            out = self.pipeline.process(frame, self.win.context(n, f[2:]))
            if out.props.get("VPFFailClosed") and [p.shape for p in out.planes] != \
                    [v.shape for v in views]:
                # a protector failed before the size changed: hide the new-size frame instead
                small.props = dict(out.props)
                out = self.hider.protect_all(small)
            _store_planes(out, views, self.fmt, n)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            fail_closed(exc, self.on_error, "protect", n)
            small.props = dict(before)
            out = self.hider.protect_all(small)
        _props_out(props, before, out.props)
        return fout


def _offloadable(p) -> bool:
    """A mask protector whose pixels core.vpf.MaskBlur can do: MaskProtector.process, boxes."""
    return (isinstance(p, MaskProtector) and type(p).process is MaskProtector.process
            and p.opts.get("shape") == "box")


class _MaskStage:
    """One mask protector: regions in Python (std.ModifyFrame), pixels in ``core.vpf.MaskBlur``.

    Mirrors :meth:`MaskProtector.process` under :class:`Pipeline`'s fail-closed rule; the tests
    hold it to bit-identical output. A frame whose fill colour differs from the one MaskBlur was
    built with (per-frame ``_Matrix``/``_Range`` changes) is done by the numpy kernel instead.
    """

    def __init__(self, p: MaskProtector, on_error: str, fmt: str, source, first: Frame | None):
        self.p = p
        self.on_error = on_error
        self.fmt = fmt
        self.win = _Window(source, p.window, fmt)
        strength = p.opts["strength"]
        self.strength = float(p.default_strength if strength is None else strength)
        self.feather = float(p.opts["feather"])
        self.values = None
        if p.mode == "fill":
            # MaskBlur takes one fill colour per plane; the colour depends on _Matrix and the range,
            # so take it from frame 0 (frames that differ are checked and done in numpy).
            self.values = [round(float(v)) for v in p.fill_values(first)]
        weakref.finalize(self, p.close)  # the stage lives as long as VapourSynth holds the node

    def apply(self, clip):
        clips = [clip] + self.win.clips
        planned = vs.core.std.ModifyFrame(clip, clips if len(clips) > 1 else clip, self._plan)
        kw = {"mode": self.p.mode, "strength": self.strength, "feather": self.feather}
        if FORMATS[self.fmt][0] != "rgb":
            if self.values is not None:
                kw["value"] = self.values
            return vs.core.vpf.MaskBlur(planned, **kw)
        # MaskBlur takes YUV/GRAY: RGB planes go through as three GRAY clips (no subsampling).
        out = []
        for i in range(3):
            if self.values is not None:
                kw["value"] = [self.values[i]]
            out.append(vs.core.vpf.MaskBlur(vs.core.std.ShufflePlanes(planned, i, vs.GRAY), **kw))
        return vs.core.std.ShufflePlanes(out, [0, 0, 0], vs.RGB, prop_src=planned)

    def _plan(self, n, f):
        frames = f if isinstance(f, list) else [f]
        cur = frames[0]
        props = _props_in(cur.props)
        so_far = list(props.pop(_SO_FAR, props.get("VPFBoxes", [])))
        props["VPFBoxes"] = list(so_far)
        frame = Frame([np.asarray(cur[i]) for i in range(cur.format.num_planes)], self.fmt, n,
                      props)
        p = self.p
        fout = cur.copy()
        own: list[float] = []
        ids = None
        done = False  # pixels already done here (numpy) rather than by MaskBlur
        try:
            # regions() gives the final regions: padded, with detections (MaskProtector).
            regions = p.regions(frame, self.win.context(n, frames[1:]))
            own = flat_boxes(regions)
            ids_props = {"VPFTrackIds": props.get("VPFTrackIds", [])} if "VPFTrackIds" in \
                props else {}
            record_regions(ids_props, so_far, regions)
            ids = ids_props.get("VPFTrackIds")
            boxes = boxes_array(regions)
            plane_boxes(boxes, 0, 0, frame.width, frame.height)  # NaN/inf boxes fail here
            if any(r.mask is not None for r in regions):
                # soft masks: MaskBlur takes boxes only, so the numpy kernel does this frame
                wframe, _ = _writable(fout, self.fmt, n, {})
                p.apply_regions(wframe, regions)
                done = True
            elif regions and self.values is not None:
                values = p.fill_values(frame)
                if [round(float(v)) for v in values] != self.values:
                    wframe, _ = _writable(fout, self.fmt, n, {})
                    for i, plane in enumerate(wframe.planes):
                        mask_blur(plane, boxes, mode=p.mode, strength=self.strength,
                                  feather=self.feather, subsampling=wframe.subsampling(i),
                                  value=values[i], out=plane)
                    done = True
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            fail_closed(exc, self.on_error, p.name, n)
            wframe, _ = _writable(fout, self.fmt, n, dict(props))
            p.protect_all(wframe)
            fout.props["VPFFailClosed"] = 1
            ids = None
            done = True
        so_far += own
        if ids:
            fout.props["VPFTrackIds"] = [int(v) for v in ids]
        for key, value in (("VPFBoxes", [] if done else own), (_SO_FAR, so_far)):
            if value:
                fout.props[key] = [float(v) for v in value]
            elif key in fout.props:
                del fout.props[key]
        return fout


def _fixed(p) -> bool:
    """A mask protector on fixed boxes only: its regions and colours are known before any frame."""
    return (_offloadable(p) and not p.targets and type(p).regions is MaskProtector.regions
            and type(p).fill_values in (MaskProtector.fill_values, Fill.fill_values))


def _dummy(fmt: str, width: int, height: int, props: dict) -> Frame:
    """A frame of the clip's format and size with no pixels to speak of (read-only zeros)."""
    _fam, bits, (sx, sy), n = FORMATS[fmt]
    shapes = [(height, width)] + [(-(-height >> sy), -(-width >> sx))] * (n - 1)
    zero = np.zeros((1, 1), np.uint8 if bits == 8 else np.uint16)
    return Frame([np.broadcast_to(zero, s) for s in shapes], fmt, 0, props)


def _fill_map(p: MaskProtector, fmt: str, width: int, height: int) -> list[float]:
    """``fillmap`` of core.vpf.MaskBlur: the fill values for BT.709/601, limited/full frames."""
    out: list[float] = []
    for matrix in (1, 6):
        for rng in (1, 0):  # the core's _ColorRange: 1 limited, 0 full
            frame = _dummy(fmt, width, height, {"_Matrix": matrix, "_ColorRange": rng})
            out += [float(round(float(v))) for v in p.fill_values(frame)]
    return out


class _FixedStage:
    """A mask protector on fixed boxes, wholly native: ``core.vpf.MaskBlur(boxes=...)``.

    The boxes (padded, as :meth:`MaskProtector.regions` gives them) and the fill colour of every
    matrix/range are worked out once, so no Python runs per frame; MaskBlur appends the boxes to
    ``VPFBoxes`` itself. Nothing can fail per frame (the boxes are checked here).
    """

    def __init__(self, p: MaskProtector, fmt: str, width: int, height: int):
        self.p = p
        strength = p.opts["strength"]
        regions = p.regions(_dummy(fmt, width, height, {}), FrameContext(0, None, 0, None))
        self.boxes = [float(v) for v in flat_boxes(regions)]
        plane_boxes(boxes_array(regions), 0, 0, width, height)  # NaN/inf boxes fail here
        self.kw = {"mode": p.mode, "feather": float(p.opts["feather"]),
                   "strength": float(p.default_strength if strength is None else strength)}
        if p.mode == "fill":
            self.kw["fillmap"] = _fill_map(p, fmt, width, height)
        weakref.finalize(self, p.close)

    def apply(self, clip):
        return vs.core.vpf.MaskBlur(clip, boxes=self.boxes, **self.kw)


def _finish(n, f):
    """After the last native stage: VPFBoxes gets the boxes of every stage again."""
    if _SO_FAR not in f.props:  # no boxes in any stage (so none of its own either)
        return f
    fout = f.copy()
    fout.props["VPFBoxes"] = fout.props[_SO_FAR]
    del fout.props[_SO_FAR]
    return fout


# ------------------------------------------------------------------------------------ public


def protect(clip, spec, on_error: str = "protect", *, use_plugin: bool | None = None):
    """Protect ``clip`` with the filters of ``spec``; returns a new clip.

    Parameters
    ----------
    clip : vapoursynth.VideoNode
        Constant format and size: YUV420P8/10/12/16, YUV422P8/10, YUV444P8/10/16, GRAY8/10/16,
        RGB24/30/48 (planar R, G, B). Other formats raise :class:`FormatError`.
    spec : str, list of FilterSpec, or Pipeline
        E.g. ``"fill=box=10/10/200/120:color=white,blur=box=300/40/520/300:feather=4"``.
    on_error : {"protect", "stop"}
        A frame on which a protector fails is wholly hidden and gets ``VPFFailClosed=1``
        ("protect"), or is a VapourSynth frame error naming the frame ("stop").
    use_plugin : bool, optional
        Do the pixels of mask protectors (blur, pixelate, fill with box regions) in the native
        ``core.vpf.MaskBlur``: None (default) when it is loaded, True to require it, False for the
        pure-Python path (numpy kernels through std.ModifyFrame). Both give identical frames.
        When every protector of the spec masks fixed boxes only (no detection; YUV or GRAY
        clips), the whole chain is native, ``MaskBlur(boxes=..., fillmap=...)`` per protector:
        no Python runs per frame.

    Size changes: a protector that changes the frame size (``rescale=...:size=small``, the LL
    picture) makes the returned clip that size, known when the clip is built (e.g. 768x432 at
    x8 -> 96x54; sizes that do not divide are padded first, 762x426 -> 96x54); the whole spec then
    runs in Python (std.ModifyFrame over a blank clip of the new size). A failing frame is a
    mid-grey frame of the new size. ``restore=exact:key=K:data=SIDECAR`` records are written as
    frames are requested, in any order; the sidecar is complete once the clip is released.
    Formats the protector refuses (16-bit for rescale) raise :class:`FormatError` here.

    Frame properties: ``VPFBoxes`` (x1, y1, x2, y2 per region, luma pixels; absent when there
    are none), ``VPFFailClosed`` and whatever else protectors set under ``VPF...`` keys;
    ``_Matrix``, ``_Range`` and the other properties of the input are kept. Output for frame n
    depends only on frames n - window .. n + window, so frames may be requested in any order
    and in parallel.

    Rotation: boxes are in the clip's own coordinates. ``core.bs.VideoSource`` turns rotated
    input upright by default (``apply_rotation``), so boxes are display coordinates, the same as
    the PyAV and ffmpeg hosts'. A clip read with ``apply_rotation=0`` keeps the coded picture and
    its ``Rotation`` property: turn it first (``std.Transpose`` / ``std.FlipVertical``...) if
    boxes are meant in display coordinates.
    """
    if not isinstance(clip, vs.VideoNode):
        raise ParameterError(f"protect: clip must be a vapoursynth.VideoNode, got "
                             f"{type(clip).__name__}", parameter="clip")
    if clip.width == 0 or clip.height == 0:
        raise FormatError("protect: clip must have a constant size, got a variable size",
                          parameter="clip")
    fmt = core_format(clip.format, "protect")
    if isinstance(spec, Pipeline):
        pipeline = spec
        if on_error != pipeline.on_error:
            pipeline = Pipeline(pipeline.protectors, on_error=on_error, spec=pipeline.spec)
    else:
        pipeline = build(spec, on_error=on_error)
    for p in pipeline.protectors:
        if p.window > MAX_WINDOW or p.window < 0:
            raise ParameterError(f"protect: {p.name} asks for a window of {p.window} frames; "
                                 f"the VapourSynth host allows 0..{MAX_WINDOW}", parameter="spec")
    resizes = any(p.changes_size for p in pipeline.protectors)
    if resizes:  # the output clip gets the new size
        size = _output_size(pipeline, clip.width, clip.height, fmt)
    fps = float(Fraction(clip.fps_num, clip.fps_den)) if clip.fps_num and clip.fps_den else None
    pipeline.open(StreamInfo(clip.width, clip.height, fmt, fps, clip.num_frames))
    if resizes:
        return _ResizeStage(pipeline.protectors, pipeline.on_error, fmt, clip, *size).apply()

    plugin = has_plugin() if use_plugin is None else bool(use_plugin)
    if use_plugin and not has_plugin():
        raise ParameterError("protect: use_plugin=True but the native plug-in core.vpf is not "
                             "loaded (build vpfilters with VPF_BUILD_VAPOURSYNTH=ON)",
                             parameter="use_plugin")
    if (plugin and FORMATS[fmt][0] != "rgb" and pipeline.protectors
            and all(_fixed(p) for p in pipeline.protectors)):
        # fixed boxes only: every stage native, no Python per frame
        out = clip
        for p in pipeline.protectors:
            out = _FixedStage(p, fmt, clip.width, clip.height).apply(out)
        return out

    first = None
    stages: list = []
    for p in pipeline.protectors:
        if plugin and _offloadable(p):
            if first is None and p.mode == "fill":
                first = as_frame(clip.get_frame(0), 0, fmt)
            stages.append(_MaskStage(p, pipeline.on_error, fmt, clip, first))
        elif stages and isinstance(stages[-1], list):
            stages[-1].append(p)
        else:
            stages.append([p])

    out = clip
    for st in stages:
        if isinstance(st, list):
            st = _PythonStage(st, pipeline.on_error, fmt, clip)
        out = st.apply(out)
    if stages and isinstance(stages[-1], _MaskStage):
        out = vs.core.std.ModifyFrame(out, out, _finish)
    return out
