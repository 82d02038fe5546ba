"""PyAV host: decode files, image folders and live streams, protect each frame, encode the result.

Frames travel as planar numpy views of the decoded ``av.VideoFrame`` buffers wherever the pixel
format allows (no RGB round trip); everything privacy-related happens in the core pipeline.

Choices this host makes (documented for users in the README):

* **Rotation.** A display matrix (phone videos, EXIF-rotated JPEGs) is *applied* before
  protection, like ffmpeg's autorotate: protectors, boxes (``box=``, ``VPFBoxes``) and the output
  are in display coordinates, and the output carries no rotation. Flips in the matrix are applied
  too. :class:`FrameFilter` and :func:`protect_frames` leave frames in coded coordinates.
* **Metadata.** By default only the tags in :data:`KEPT_STREAM_TAGS` survive (an allow-list), so
  everything in :data:`IDENTIFYING_TAGS` and anything else a camera writes is dropped, as are data,
  subtitle and attachment streams (GoPro ``gpmd`` telemetry, timecode, captions) and chapters.
  ``keep_metadata=True`` copies container/stream tags, data/subtitle streams and chapters.
  Images are re-encoded from their pixels: their EXIF (GPS, camera, dates, thumbnails) is never
  written, with or without ``keep_metadata``.
* **Formats.** 8-16 bit planar YUV, GRAY and GBR planes are used in place; ``yuvj*`` is used in
  place as full range (``_ColorRange=0``); other formats (nv12, p010, rgb24, pal8, yuyv422 ...) are
  repacked to the nearest planar format (alpha is dropped).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from vpfilters.core import FORMATS, Frame, FrameContext, Pipeline, StreamInfo, build
from vpfilters.errors import (FormatError, InputError, OutputError, ParameterError)
from vpfilters.hosts import _io

log = logging.getLogger("vpfilters")

__all__ = [
    "IDENTIFYING_TAGS", "KEPT_CONTAINER_TAGS", "KEPT_STREAM_TAGS", "FrameFilter",
    "core_to_frame", "frame_to_core", "protect_frames", "transcode",
]

# ---------------------------------------------------------------------------------- metadata

#: Stream tags kept when metadata is stripped (everything else goes).
KEPT_STREAM_TAGS = frozenset({"language"})
#: Container tags kept when metadata is stripped (the muxer adds its own ``encoder``).
KEPT_CONTAINER_TAGS: frozenset[str] = frozenset()
#: Tags known to identify a person, place, time or device; all are dropped by default (the
#: allow-list above drops them and any other tag; this list is what the docs and tests name).
IDENTIFYING_TAGS = (
    "location", "location-eng", "com.apple.quicktime.location.ISO6709", "com.apple.quicktime.make",
    "com.apple.quicktime.model", "com.apple.quicktime.software",
    "com.apple.quicktime.creationdate", "com.android.capture.fps", "make", "model",
    "serial_number", "firmware", "gps", "creation_time", "date", "artist", "author", "comment",
    "title", "description", "copyright", "handler_name", "vendor_id", "timecode", "encoder",
)

# written by every muxer itself; not worth reporting as stripped
_MUXER_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder",
                         "duration"})

# ---------------------------------------------------------------------------------- formats

# av pixel formats used in place, and their core names
_AV_TO_CORE = {
    "yuv420p": "yuv420p", "yuv420p10le": "yuv420p10", "yuv420p12le": "yuv420p12",
    "yuv420p16le": "yuv420p16", "yuv422p": "yuv422p", "yuv422p10le": "yuv422p10",
    "yuv444p": "yuv444p", "yuv444p10le": "yuv444p10", "yuv444p16le": "yuv444p16",
    "gray": "gray", "gray10le": "gray10", "gray16le": "gray16",
    "gbrp": "rgbp", "gbrp10le": "rgbp10", "gbrp16le": "rgbp16",
}
# full-range (JPEG) layouts: same planes, _ColorRange = 0
_JPEG_TO_CORE = {"yuvj420p": "yuv420p", "yuvj422p": "yuv422p", "yuvj444p": "yuv444p"}
_CORE_TO_AV = {v: k for k, v in _AV_TO_CORE.items()}
# core rgbp planes are R, G, B; av gbrp planes are G, B, R
_CORE_FROM_AV_RGB = (2, 0, 1)   # core plane i = av plane _CORE_FROM_AV_RGB[i]
_AV_FROM_CORE_RGB = (1, 2, 0)   # av plane j = core plane _AV_FROM_CORE_RGB[j]
_NO_SQUARE_CHROMA = {"yuv422p": "yuv444p", "yuv422p10le": "yuv444p10le", "yuvj422p": "yuvj444p"}

_MATRIX_TO_SWS = {1: "itu709", 5: "itu601", 6: "smpte170m", 7: "smpte240m", 9: "bt2020",
                  10: "bt2020"}

_IMAGE_CODECS = {".png": "png", ".jpg": "mjpeg", ".jpeg": "mjpeg", ".bmp": "bmp", ".tif": "tiff",
                 ".tiff": "tiff", ".webp": "libwebp", ".pgm": "pgm", ".ppm": "ppm"}
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                 "slower", "veryslow", "placebo")


def _nearest_av_format(fmt: av.VideoFormat, square_chroma: bool = False) -> str:
    """The av pixel format this host works in for frames decoded as ``fmt``."""
    name = fmt.name
    if name in _AV_TO_CORE or name in _JPEG_TO_CORE:
        return _NO_SQUARE_CHROMA.get(name, name) if square_chroma else name
    comps = [c for c in fmt.components if not c.is_alpha]
    bits = max((c.bits for c in comps), default=8)
    if fmt.is_rgb or fmt.has_palette or fmt.is_bayer:
        return "gbrp" if bits <= 8 else "gbrp10le" if bits <= 10 else "gbrp16le"
    if len(comps) <= 1:
        return "gray" if bits <= 8 else "gray10le" if bits <= 10 else "gray16le"
    sub = tuple({1: 0, 2: 1, 4: 2}.get(round(64 / max(n, 1)), 0)
                for n in (fmt.chroma_width(64), fmt.chroma_height(64)))
    if sub == (1, 0) and square_chroma:
        sub = (0, 0)
    table = {(1, 1): ((8, "yuv420p"), (10, "yuv420p10le"), (12, "yuv420p12le"),
                      (16, "yuv420p16le")),
             (1, 0): ((8, "yuv422p"), (10, "yuv422p10le"), (16, "yuv444p16le"))}.get(
        sub, ((8, "yuv444p"), (10, "yuv444p10le"), (16, "yuv444p16le")))
    for b, n in table:
        if bits <= b:
            return n
    return table[-1][1]


def _core_name(av_name: str) -> str:
    return _AV_TO_CORE.get(av_name) or _JPEG_TO_CORE[av_name]


def _plane_array(plane, dtype) -> np.ndarray:
    """A 2-D numpy view of an ``av`` plane, honouring its padded ``line_size``."""
    itemsize = np.dtype(dtype).itemsize
    row = plane.line_size // itemsize
    buf = np.frombuffer(plane, dtype)
    return buf[:row * plane.height].reshape(plane.height, row)[:, :plane.width]


def _apply_transform(planes, t):
    out = []
    for p in planes:
        q = p.T if t[0] else p
        if t[1]:
            q = q[::-1]
        if t[2]:
            q = q[:, ::-1]
        out.append(np.ascontiguousarray(q))
    return out


def _colour_props(avf: av.VideoFrame, full_range: bool | None) -> dict:
    """VapourSynth-style colour properties of a decoded frame (``_ColorRange`` 0 = full)."""
    props = {}
    rng = int(avf.color_range or 0)
    if full_range or rng == 2:
        props["_ColorRange"] = 0
    elif rng == 1 or full_range is False:
        props["_ColorRange"] = 1
    for key, val in (("_Matrix", avf.colorspace), ("_Primaries", avf.color_primaries),
                     ("_Transfer", avf.color_trc)):
        v = int(val or 0)
        if v != 2 and (v != 0 or key == "_Matrix" and avf.format.is_rgb):
            props[key] = v
    return props


def _set_colour(avf: av.VideoFrame, props: dict) -> None:
    rng = props.get("_ColorRange")
    avf.color_range = 2 if rng == 0 else 1 if rng == 1 else 0
    for key, attr in (("_Matrix", "colorspace"), ("_Primaries", "color_primaries"),
                      ("_Transfer", "color_trc")):
        if key in props:
            with contextlib.suppress(Exception):
                setattr(avf, attr, int(props[key]))


def frame_to_core(avf: av.VideoFrame, index: int = 0, *, transform=None,
                  full_range: bool | None = None) -> tuple[Frame, av.VideoFrame, bool]:
    """Wrap a decoded ``av.VideoFrame`` as a core :class:`Frame`.

    Returns ``(frame, used, in_place)``: ``used`` is the av frame whose buffers hold the planes
    (``avf`` itself after ``make_writable()``, or a repacked copy for formats that are not planar),
    and ``in_place`` says whether ``frame.planes`` are views into ``used`` (False after a display
    ``transform``, which copies). ``full_range`` gives the range when the frame leaves it
    unspecified (None: limited for YUV).
    """
    target = _nearest_av_format(avf.format, square_chroma=bool(transform and transform[0]))
    if target != avf.format.name:
        rng = int(avf.color_range or 0)
        used = avf.reformat(format=target, src_color_range=rng or None,
                            dst_color_range=rng or None)
        if avf.format.is_rgb or avf.format.has_palette:
            full_range = True
    else:
        used = avf
    # decoded frames share buffers with the decoder's reference pictures (and split filter
    # outputs with each other): copy them before writing, or later frames would be corrupted
    used.make_writable()
    core_fmt = _core_name(used.format.name)
    fam, bits, _, n = FORMATS[core_fmt]
    dtype = np.uint8 if bits == 8 else np.uint16
    planes = [_plane_array(p, dtype) for p in list(used.planes)[:n]]
    if fam == "rgb":
        planes = [planes[k] for k in _CORE_FROM_AV_RGB]
    props = _colour_props(used, True if used.format.name in _JPEG_TO_CORE else full_range)
    in_place = True
    if transform:
        planes = _apply_transform(planes, transform)
        in_place = False
    frame = Frame(planes, core_fmt, int(index), props, avf.pts, avf.time_base)
    return frame, used, in_place


def core_to_frame(frame: Frame, av_format: str | None = None) -> av.VideoFrame:
    """A new ``av.VideoFrame`` holding ``frame``'s planes (pts, time base and colours kept).

    ``av_format`` may be the core format's own av name (default), its ``yuvj`` twin, or for a
    gray frame the matching 4:2:0 YUV format (neutral chroma is added).
    """
    name = av_format or _CORE_TO_AV[frame.format]
    out = av.VideoFrame(frame.width, frame.height, name)
    dtype = np.uint8 if frame.bits == 8 else np.uint16
    aplanes = [_plane_array(p, dtype) for p in out.planes]
    if frame.family == "rgb":
        for j, dst in enumerate(aplanes):
            dst[...] = frame.planes[_AV_FROM_CORE_RGB[j]]
    else:
        for j, dst in enumerate(aplanes):
            if j < len(frame.planes):
                dst[...] = frame.planes[j]
            else:  # gray into YUV: neutral chroma
                dst[...] = 1 << (frame.bits - 1)
    out.pts = frame.pts
    if frame.time_base is not None:
        out.time_base = frame.time_base
    props = dict(frame.props)
    if name in _JPEG_TO_CORE:
        props["_ColorRange"] = 0
    _set_colour(out, props)
    return out


# encoders that reject subsampled chroma on odd picture sizes
_EVEN_ONLY = ("libx264", "libx265", "h264", "hevc", "libvpx-vp9", "libsvtav1", "mjpeg", "mpeg4")
_TO_444 = {"yuv420p": "yuv444p", "yuv422p": "yuv444p", "yuv420p10le": "yuv444p10le",
           "yuv422p10le": "yuv444p10le", "yuv420p12le": "yuv444p12le",
           "yuv420p16le": "yuv444p16le"}


def _encoder_format(frame: Frame, codec: av.codec.Codec) -> tuple[str, str]:
    """(av pixel format, how) for encoding ``frame`` with ``codec``.

    ``how`` is ``direct`` (same planes), ``gray2yuv`` (add neutral chroma), ``chroma444``
    (repeat subsampled chroma: for odd sizes, which x264/x265 cannot encode subsampled) or
    ``swscale``.
    """
    pref = _CORE_TO_AV[frame.format]
    offered = [f.name for f in (codec.video_formats or [])]
    odd = frame.family == "yuv" and any(
        (frame.width if i == 0 else frame.height) % 2 and s
        for i, s in enumerate(frame.subsampling(1)))
    if odd and codec.name in _EVEN_ONLY and _TO_444.get(pref) in offered:
        return _TO_444[pref], "chroma444"
    if not offered or pref in offered:
        return pref, "direct"
    if frame.family == "gray":
        yuv = {"gray": "yuv420p", "gray10le": "yuv420p10le", "gray16le": "yuv420p16le"}[pref]
        if yuv in offered and not (codec.name in _EVEN_ONLY and (frame.width | frame.height) & 1):
            return yuv, "gray2yuv"
    if frame.family == "yuv" and frame.full_range and pref.replace("yuv", "yuvj", 1) in offered:
        return pref.replace("yuv", "yuvj", 1), "direct"

    def score(name):
        f = av.VideoFormat(name)
        bits = max(c.bits for c in f.components)
        fam = "rgb" if f.is_rgb else "gray" if len(f.components) == 1 else "yuv"
        alpha = any(c.is_alpha for c in f.components) or f.has_palette
        return ((fam == frame.family) * 8 + (bits == frame.bits) * 4 - alpha * 16
                + (name.startswith("yuvj") == (frame.family == "yuv" and frame.full_range))
                + (not f.is_big_endian))

    return max(offered, key=score), "swscale"


def _chroma_444(frame: Frame) -> Frame:
    """``frame`` with its chroma planes repeated to full size (exact: no new sample values)."""
    h, w = frame.height, frame.width
    planes = [frame.planes[0]]
    for i in (1, 2):
        sx, sy = frame.subsampling(i)
        p = frame.planes[i]
        planes.append(np.ascontiguousarray(
            np.repeat(np.repeat(p, 1 << sy, axis=0), 1 << sx, axis=1)[:h, :w]))
    fmt = {8: "yuv444p", 10: "yuv444p10", 12: None, 16: "yuv444p16"}[frame.bits]
    if fmt is None:
        raise FormatError(f"no 4:4:4 twin for {frame.format}", frame=frame.index)
    return Frame(planes, fmt, frame.index, dict(frame.props), frame.pts, frame.time_base)


def _to_encoder(frame: Frame, name: str, how: str) -> av.VideoFrame:
    if how == "chroma444" and frame.format in ("yuv420p12",):
        how = "swscale"
    if how == "chroma444":
        return core_to_frame(_chroma_444(frame), name)
    if how in ("direct", "gray2yuv"):
        return core_to_frame(frame, name)
    src = core_to_frame(frame)
    dst_fmt = av.VideoFormat(name)
    kw = {}
    if frame.family == "yuv":
        kw["src_colorspace"] = _MATRIX_TO_SWS.get(frame.props.get("_Matrix"),
                                                  "itu709" if frame.matrix == "bt709" else "itu601")
        kw["src_color_range"] = 2 if frame.full_range else 1
    if not dst_fmt.is_rgb and len(dst_fmt.components) > 1:
        if frame.family == "yuv":
            kw["dst_colorspace"] = kw["src_colorspace"]
        else:
            kw["dst_colorspace"] = "itu709" if frame.height >= 720 else "itu601"
        full = name.startswith("yuvj") or (frame.family == "yuv" and frame.full_range)
        kw["dst_color_range"] = 2 if full else 1
    else:
        kw["dst_color_range"] = 2
    out = src.reformat(format=name, **kw)
    out.pts, out.time_base = src.pts, src.time_base
    props = dict(frame.props)
    if frame.family == "rgb" and "dst_colorspace" in kw:
        props.update(_Matrix=1 if kw["dst_colorspace"] == "itu709" else 6,
                     _ColorRange=0 if kw["dst_color_range"] == 2 else 1)
    elif dst_fmt.is_rgb:
        props.update(_ColorRange=0, _Matrix=0)
    _set_colour(out, props)
    return out


# ---------------------------------------------------------------------------------- pipeline


def _as_pipeline(spec, on_error: str) -> Pipeline:
    if isinstance(spec, Pipeline):
        return spec
    return build(spec, on_error=on_error)


def _run_pipeline(pipeline: Pipeline, frames: Iterable, num_frames=None) -> Iterator:
    """Protect ``(Frame, tag)`` items in order; yield ``(protected Frame, tag, processed_copy)``.

    With a look-ahead ``window`` the frames of ``|m - n| <= window`` are kept as decoded, so a
    protector can read them through ``ctx.frame(m)``; it then works on a copy of frame ``n``.
    Memory holds at most ``2 * window + 1`` frames; the output order is the input order.
    """
    w = pipeline.window
    if w <= 0:
        for f, tag in frames:
            yield pipeline.process(f, FrameContext(f.index, None, 0, num_frames)), tag, False
        return
    buf: dict[int, Frame] = {}
    tags: dict[int, object] = {}
    todo: deque[int] = deque()
    total: list[int | None] = [num_frames]

    def fetch(m: int) -> Frame:
        try:
            return buf[m]
        except KeyError:
            raise IndexError(m) from None

    def emit(i: int):
        out = pipeline.process(buf[i].copy(), FrameContext(i, fetch, w, total[0]))
        for k in [k for k in buf if k < i + 1 - w]:
            del buf[k]
        return out, tags.pop(i), True

    last = -1
    for f, tag in frames:
        buf[f.index], tags[f.index] = f, tag
        todo.append(f.index)
        last = f.index
        while todo and todo[0] + w <= last:
            yield emit(todo.popleft())
    total[0] = last + 1
    while todo:
        yield emit(todo.popleft())


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _record(frame: Frame, **extra) -> dict:
    rec = {"index": frame.index, "pts": frame.pts}
    if frame.pts is not None and frame.time_base is not None:
        rec["time"] = round(float(frame.pts * frame.time_base), 6)
    rec.update(extra)
    rec.update({k: _jsonable(v) for k, v in frame.props.items() if k.startswith("VPF")})
    return rec


def _write_json(path, summary: dict, records: list) -> None:
    with _io.atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"summary": _jsonable(summary), "frames": records}, fh, indent=1)


def _progress(total, progress: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total or None, disable=not progress, unit="frame", desc=desc, leave=False,
                file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


# ---------------------------------------------------------------------------------- public API


class FrameFilter:
    """``av.VideoFrame -> av.VideoFrame`` protection for your own decode/encode loop.

    Parameters
    ----------
    spec : str or Pipeline
        Filter spec, e.g. ``"blur=box=10/10/200/120"``.
    on_error : {"protect", "stop"}
        Fail-closed policy (see :class:`vpfilters.core.Pipeline`).
    fps, num_frames, source :
        Passed to the protectors in :class:`StreamInfo` when known.

    Each call protects one frame and returns it in its own pixel format with its ``pts``,
    ``time_base`` and colour tags (range, matrix, primaries, transfer); where the format allows,
    the very same frame object is edited in place. Only that object changes: buffers it shares
    (the decoder's reference pictures, the other outputs of a filter graph's ``split``) are copied
    first (``make_writable``), so later frames decode as they would have; a repacked format
    (nv12, rgb24 ...) gives a new frame and leaves the one passed in untouched. The
    frame number is counted by calls, or given as ``index=``. Coordinates are coded (not
    display-rotated) pixels. The last frame's properties (``VPFBoxes`` ...) are in ``.props``.
    Protectors with a look-ahead window need :func:`protect_frames` instead.
    """

    def __init__(self, spec, on_error: str = "protect", *, fps=None, num_frames=None,
                 source=None):
        self.pipeline = _as_pipeline(spec, on_error)
        if self.pipeline.window:
            raise ParameterError(f"the spec looks {self.pipeline.window} frame(s) ahead, which a "
                                 "one-frame-in, one-frame-out FrameFilter cannot give; use "
                                 "vpfilters.av.protect_frames() or transcode()", parameter="spec")
        self.fps, self.num_frames, self.source = fps, num_frames, source
        self._opened = None
        self._next = 0
        self.props: dict = {}

    def __call__(self, frame: av.VideoFrame, index: int | None = None) -> av.VideoFrame:
        if not isinstance(frame, av.VideoFrame):
            raise ParameterError(f"FrameFilter: expected an av.VideoFrame, got "
                                 f"{type(frame).__name__}", parameter="frame")
        i = self._next if index is None else int(index)
        self._next = i + 1
        core, used, in_place = frame_to_core(frame, i)
        key = (core.width, core.height, core.format)
        if self._opened != key:
            self.pipeline.open(StreamInfo(core.width, core.height, core.format, self.fps,
                                          self.num_frames, self.source))
            self._opened = key
        out = self.pipeline.process(core, FrameContext(i, None, 0, self.num_frames))
        self.props = out.props
        return _back_to_av(out, core, used, in_place, frame)

    def close(self) -> None:
        self.pipeline.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _back_to_av(out: Frame, core: Frame, used, in_place: bool, original) -> av.VideoFrame:
    """The protected frame as an av frame in ``original``'s pixel format, pts and time base."""
    same = (in_place and out.format == core.format and len(out.planes) == len(core.planes)
            and all(a is b for a, b in zip(out.planes, core.planes)))
    name = original.format.name
    if same:
        res = used
    elif _JPEG_TO_CORE.get(name) == out.format or _CORE_TO_AV.get(out.format) == name:
        res = core_to_frame(out, name)
    else:
        res = core_to_frame(out)
    if res.format.name != name:  # a repacked layout (nv12, rgb24 ...): pack it back, losslessly
        rng = int(res.color_range or 0) or None
        res = res.reformat(format=name, src_color_range=rng, dst_color_range=rng)
    if res is not original:
        res.pts = original.pts
        res.time_base = original.time_base
    return res


def protect_frames(frames: Iterable[av.VideoFrame], spec, on_error: str = "protect", *,
                   fps=None, num_frames=None, source=None) -> Iterator[av.VideoFrame]:
    """Protect a stream of ``av.VideoFrame`` (any spec, look-ahead windows included).

    Yields the protected frames in input order, each in its input pixel format with its pts.
    """
    pipeline = _as_pipeline(spec, on_error)
    state = {"opened": False}

    def cores():
        for i, avf in enumerate(frames):
            core, used, in_place = frame_to_core(avf, i)
            if not state["opened"]:
                pipeline.open(StreamInfo(core.width, core.height, core.format, fps, num_frames,
                                         source))
                state["opened"] = True
            yield core, (core, used, in_place, avf)

    try:
        for out, (core, used, in_place, avf), copied in _run_pipeline(pipeline, cores(),
                                                                      num_frames):
            yield _back_to_av(out, core, used, in_place and not copied, avf)
    finally:
        pipeline.close()


# ---------------------------------------------------------------------------------- transcode


def transcode(src, dst, spec, codec: str = "libx264", crf: float = 23, preset: str = "veryfast",
              keep_metadata: bool = False, on_error: str = "protect", progress: bool = True,
              json_path=None, threads: int | None = None, *, max_frames: int | None = None,
              open_timeout: float = 10.0, read_timeout: float = 5.0,
              input_options: dict | None = None, on_frame=None) -> dict:
    """Decode ``src`` with PyAV, protect every frame with ``spec``, encode to ``dst``.

    Parameters
    ----------
    src : path or URL
        A video file, an image (png/jpg/...), a folder of images, or a live ``rtsp://``,
        ``udp://``, ``tcp://``... URL (opened with low-delay flags and a small probe size).
    dst : path
        The output file (or folder, for a folder of images). It appears only when complete: a
        failure, Ctrl-C or SIGTERM leaves nothing there.
    spec : str or Pipeline
        The filter spec (``"blur=box=10/10/200/120,fill=..."``).
    codec, crf, preset :
        Video encoder and its quality settings (crf/preset apply to x264/x265/vp9/svt-av1).
    keep_metadata : bool
        Keep container/stream tags, data and subtitle streams (stripped by default). Image
        EXIF is never kept (it can hold a thumbnail of the unprotected picture).
    on_error : {"protect", "stop"}
        Fail closed by hiding the whole frame (default) or stop with :class:`ProtectionError`.
    progress : bool
        Show a progress bar on stderr.
    json_path : path, optional
        Write the summary and per-frame metadata (``VPFBoxes`` ...) there as JSON.
    threads : int, optional
        Decoder and encoder thread count (FFmpeg's automatic choice when omitted).
    max_frames : int, optional
        Stop after this many frames (bounds a live input).
    open_timeout, read_timeout : float
        Seconds to wait for a live input to connect (or, listening, for a sender to come), and
        for each read.
    input_options : dict, optional
        Options for opening the input (FFmpeg demuxer and protocol options, values as strings),
        merged last over the host's own, e.g. ``{"rtsp_flags": "listen"}`` to take an RTSP push
        at ``rtsp://0.0.0.0:PORT/path``, ``{"rtsp_transport": "udp"}``, ``{"fflags":
        "nobuffer"}``; ``format`` (or ``f``) names the demuxer. Not for images or folders.
    on_frame : callable, optional
        ``on_frame(index, seconds, frame)``, called for every frame once it is protected and
        handed to the encoder, in output order: its number (from 0), its presentation time in
        seconds (pts x time base, as the output gets it) and the protected
        :class:`~vpfilters.core.Frame` (planes and ``props`` such as ``VPFBoxes``; read them
        during the call only, the buffers are reused). For progress, latency or per-frame
        metadata without a custom protector; an exception raised there stops the run (no output
        is written). Images: once per image, written, in name order, ``seconds`` None.

    Returns
    -------
    dict
        ``frames``, ``fps`` (processing speed), ``seconds``, ``output``, ``fail_closed``
        (frame numbers hidden whole), ``truncated``, ``warnings``, ``audio``, ``dropped_streams``,
        ``stripped_tags``, ``rotation`` (degrees clockwise applied to the pixels) and
        ``mirrored``, ``codec``, ``pix_fmt``. For one image: ``rotation`` and ``mirrored`` (from
        its EXIF orientation); for a folder each image's JSON record has them when not upright.
    """
    pipeline = _as_pipeline(spec, on_error)
    src_s = str(src)
    live = _io.is_live(src_s)
    if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
        raise ParameterError(f"max_frames must be a positive integer, got {max_frames!r}",
                             parameter="max_frames")
    if _io.is_live(str(dst)):
        raise ParameterError("the PyAV host writes files; stream out with the ffmpeg host",
                             parameter="output")
    input_options = _check_input_options(input_options)
    if live:
        open_timeout = _check_timeout(open_timeout, "open_timeout")
        read_timeout = _check_timeout(read_timeout, "read_timeout")
    if on_frame is not None and not callable(on_frame):
        raise ParameterError(f"on_frame must be callable, got {type(on_frame).__name__}",
                             parameter="on_frame")
    if not live and input_options:
        p = _io.check_input(src)
        if p.is_dir() or _io.is_image(p):
            raise ParameterError("input_options apply to videos and streams, not to images or "
                                 "folders of images", parameter="input_options")
    if not live:
        p = _io.check_input(src)
        if p.is_dir():
            return _transcode_images(p, Path(dst), pipeline, keep_metadata, progress, json_path,
                                     folder=True, on_frame=on_frame)
        if _io.is_image(p):
            return _transcode_images(p, Path(dst), pipeline, keep_metadata, progress, json_path,
                                     folder=False, on_frame=on_frame)
    dst_p = _io.check_output(dst, None if live else src)
    if _io.is_image(dst_p):
        raise ParameterError(f"{dst_p} is an image name, but the input is a video; give a video "
                             "file name (.mp4, .mkv, .mov ...)", parameter="output")
    if json_path is not None:
        _check_json_path(json_path, src_s, dst_p)
    enc = _check_encoder(codec, crf, preset)
    info = None
    if not live:
        try:
            info = _io.probe(src_s)
        except InputError:
            if not input_options:
                raise
            # the probe opens without them (a raw stream needs its format and size given):
            # the input's own open with them decides

    t0 = time.monotonic()
    records: list = []
    _bind_output(pipeline, dst_p)
    try:
        with _io.atomic_output(dst_p) as tmp:
            summary = _VideoJob(src_s, dst_p, tmp, pipeline, enc, crf, preset, keep_metadata,
                                progress, threads, max_frames, live, info, open_timeout,
                                read_timeout, records, input_options, on_frame).run()
            _finalize_output(pipeline, tmp)
    finally:
        pipeline.close()
    summary["seconds"] = round(time.monotonic() - t0, 3)
    summary["fps"] = round(summary["frames"] / max(summary["seconds"], 1e-9), 2)
    if json_path is not None:
        _write_json(json_path, summary, records)
    return summary


def _bind_output(pipeline, dst) -> None:
    """Output hooks of protectors that store side data with the video (rescale's restore data):
    ``bind_output(final_path)`` before the run; ``finalize_output(tmp_path)`` once the video is
    complete in its temporary file, before that is renamed (a failure there leaves no output)."""
    for p in pipeline.protectors:
        if hasattr(p, "bind_output"):
            p.bind_output(dst)


def _finalize_output(pipeline, tmp) -> None:
    for p in pipeline.protectors:
        if hasattr(p, "finalize_output"):
            p.finalize_output(tmp)


def _check_json_path(json_path, src, dst) -> None:
    jp = _io.check_output(json_path, None if _io.is_live(str(src)) else src)
    if Path(jp).resolve() == Path(dst).resolve():
        raise OutputError("the JSON path is the output path; choose another", file=jp,
                          parameter="json")


def _check_encoder(codec: str, crf, preset) -> av.codec.Codec:
    try:
        enc = av.codec.Codec(str(codec), "w")
    except Exception:
        raise ParameterError(f"unknown video encoder {codec!r} (try libx264, libx265, ffv1, "
                             "mjpeg)", parameter="codec") from None
    if enc.type != "video":
        raise ParameterError(f"{codec!r} is not a video encoder", parameter="codec")
    try:
        crf_f = float(crf)
    except (TypeError, ValueError):
        raise ParameterError(f"crf must be a number, got {crf!r}", parameter="crf") from None
    if not (math.isfinite(crf_f) and 0 <= crf_f <= 63):
        raise ParameterError(f"crf must be within 0..63, got {crf!r}", parameter="crf")
    if enc.name in ("libx264", "libx265") and preset not in _X26X_PRESETS:
        raise ParameterError(f"preset for {enc.name} must be one of {', '.join(_X26X_PRESETS)}; "
                             f"got {preset!r}", parameter="preset")
    return enc


def _check_input_options(options) -> dict:
    """``input_options`` as a dict of str -> str (FFmpeg reads every option value as text)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ParameterError(f"input_options must be a dict, got {type(options).__name__}",
                             parameter="input_options")
    out = {}
    for k, v in options.items():
        key = str(k).lstrip("-")
        if not key or v is None:
            raise ParameterError(f"input_options: {k!r}={v!r} is not an option and a value",
                                 parameter="input_options")
        out[key] = str(v)
    return out


def _check_timeout(value, name: str) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number of seconds, got {value!r}",
                             parameter=name) from None
    if not (math.isfinite(t) and t > 0):
        raise ParameterError(f"{name} must be > 0 seconds, got {value!r}", parameter=name)
    return t


def _open_input(src: str, live: bool, open_timeout: float, read_timeout: float,
                input_options: dict | None = None):
    extra = dict(input_options or {})
    fmt = extra.pop("f", None)
    fmt = extra.pop("format", fmt)
    if not live:
        try:
            return av.open(src, format=fmt, options=extra or None)
        except av.error.FFmpegError as exc:
            raise InputError(f"not a readable video ({exc.strerror or exc})", file=src) from None
        except ValueError as exc:  # an unknown format name
            raise ParameterError(f"input_options: {exc}", file=src,
                                 parameter="input_options") from None
    # Latency stays bounded by the small probe (128 KiB / 1 s) and low-delay decoding.
    # fflags=nobuffer is left out: it throws away the packets read while probing, and with them
    # the first key frame, so a stream with one key frame per long GOP showed nothing.
    options = {"flags": "low_delay", "probesize": "131072", "analyzeduration": "1000000"}
    if src.lower().startswith(("rtsp://", "rtsps://")):
        options["rtsp_transport"] = "tcp"
    options.update(extra)
    if "listen" in options.get("rtsp_flags", "") and "listen_timeout" not in options:
        # waiting for a sender to connect is the open; FFmpeg's default (-1, forever) is
        # refused by newer libavformat ("Numerical result out of range")
        options["listen_timeout"] = str(max(1, math.ceil(open_timeout)))
    deadline = time.monotonic() + open_timeout
    while True:
        try:
            return av.open(src, format=fmt, options=options, timeout=(open_timeout, read_timeout))
        except (av.error.ConnectionRefusedError, av.error.ConnectionResetError) as exc:
            if time.monotonic() > deadline:
                raise InputError(f"cannot connect within {open_timeout:g} s ({exc.strerror})",
                                 file=src, parameter="open_timeout") from None
            time.sleep(0.1)
        except av.error.ExitError:  # the interrupt callback: open_timeout passed
            raise InputError(f"the live input did not open within {open_timeout:g} s",
                             file=src, parameter="open_timeout") from None
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot open the live input ({exc.strerror or exc})",
                             file=src) from None
        except ValueError as exc:
            raise ParameterError(f"input_options: {exc}", file=src,
                                 parameter="input_options") from None


class _VideoJob:
    """One file-to-file (or live-to-file) run; split out so the state has names."""

    def __init__(self, src, dst, tmp, pipeline, enc, crf, preset, keep_metadata, progress,
                 threads, max_frames, live, info, open_timeout, read_timeout, records,
                 input_options=None, on_frame=None):
        self.src, self.dst, self.tmp = src, dst, tmp
        self.pipeline, self.enc, self.crf, self.preset = pipeline, enc, crf, preset
        self.keep, self.progress, self.threads = keep_metadata, progress, threads
        self.max_frames, self.live, self.info = max_frames, live, info
        self.open_timeout, self.read_timeout = open_timeout, read_timeout
        self.records = records
        self.input_options, self.on_frame = input_options, on_frame
        self.warnings: list[str] = []
        self.pending: deque = deque()
        self.read_error = None
        self.bad_packets = 0
        self.decoded = 0
        self.last_pts = None
        self.vout = None
        self.pix_fmt = None
        self.how = None
        self.matrix = None  # the display matrix applied (the stream's, or a still's frame's)

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)
        log.warning("%s", msg)

    # -- input ---------------------------------------------------------------------------------
    def _decode(self, inp, vin, others) -> Iterator:
        try:
            for packet in inp.demux(vin, *others):
                if packet.stream_index == vin.index:
                    try:
                        frames = vin.decode(packet)
                    except av.error.EOFError:
                        frames = []
                    except av.error.FFmpegError as exc:
                        self.bad_packets += 1
                        self.warn(f"{self.src}: a packet after frame {self.decoded - 1} could not "
                                  f"be decoded ({exc.strerror or exc}); going on")
                        continue
                    yield from frames
                elif packet.size and (packet.pts is not None or packet.dts is not None):
                    self.pending.append(packet)
        except av.error.FFmpegError as exc:
            self.read_error = exc
            with contextlib.suppress(av.error.FFmpegError):
                yield from vin.decode(None)

    def _frames(self, inp, vin, others, transform) -> Iterator:
        first = None
        for avf in self._decode(inp, vin, others):
            if self.max_frames is not None and self.decoded >= self.max_frames:
                break
            if first is None:
                first = (avf.width, avf.height, avf.format.name)
                if self.matrix is None and not self.live:
                    # a still's orientation (EXIF) comes with its frame, not its stream
                    self.matrix = _io.display_matrix(avf)
                    transform = _io.matrix_transform(self.matrix)
            elif (avf.width, avf.height, avf.format.name) != first:
                if not getattr(self, "_size_warned", False):
                    self.warn(f"{self.src}: the picture changes to {avf.width}x{avf.height} "
                              f"{avf.format.name} at frame {self.decoded}; scaled back to "
                              f"{first[0]}x{first[1]} {first[2]}")
                    self._size_warned = True
                avf = avf.reformat(width=first[0], height=first[1], format=first[2])
            core, used, in_place = frame_to_core(avf, self.decoded, transform=transform)
            core.pts = self._pts(core.pts, vin)
            core.time_base = vin.time_base
            if self.decoded == 0:
                fps = vin.average_rate or vin.guessed_rate
                self.pipeline.open(StreamInfo(core.width, core.height, core.format,
                                              float(fps) if fps else None,
                                              self.info.num_frames if self.info else None,
                                              self.src))
            self.decoded += 1
            yield core, (used, in_place)

    def _pts(self, pts, vin):
        """Each frame's own pts (VFR kept); invented or nudged only when missing or repeated."""
        if pts is None:
            rate = vin.average_rate or vin.guessed_rate or Fraction(25)
            step = max(1, round(1 / (rate * vin.time_base))) if vin.time_base else 1
            pts = 0 if self.last_pts is None else self.last_pts + step
        elif self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1
        self.last_pts = pts
        return pts

    # -- output --------------------------------------------------------------------------------
    def _add_streams(self, inp, out, vin):
        """Output streams for the non-video inputs: {input index: (mode, out stream)}."""
        self.dropped: list[str] = []
        plan = {}
        for s in inp.streams:
            if s.index == vin.index:
                continue
            cname = s.codec_context.name if s.codec_context is not None else None
            label = f"#{s.index} {s.type}" + (f" ({cname})" if cname else "")
            if s.type == "audio":
                if cname in out.supported_codecs:
                    try:
                        plan[s.index] = ("copy", out.add_stream_from_template(s))
                        continue
                    except Exception:  # some templates are refused; re-encode below
                        pass
                a = out.add_stream("aac", rate=s.codec_context.sample_rate or 48000)
                with contextlib.suppress(Exception):
                    a.codec_context.layout = s.codec_context.layout
                plan[s.index] = ("aac", a)
                self.warn(f"{self.src}: audio stream {label} cannot be stored as is in "
                          f"{self.dst.suffix or 'this container'}; re-encoded to AAC")
            elif s.type in ("data", "subtitle") and self.keep:
                if self._copyable(s, out):
                    plan[s.index] = ("copy", out.add_stream_from_template(s))
                else:
                    self.dropped.append(label)
                    tc = " (its timecode is kept as a tag)" if "timecode" in s.metadata else ""
                    self.warn(f"{self.src}: stream {label} cannot be stored in "
                              f"{self.dst.suffix or 'this container'}; dropped{tc}")
            else:
                self.dropped.append(label)
        return plan

    def _copyable(self, s, out) -> bool:
        """Whether stream ``s`` can be copied into ``out``'s format: a dry run in memory with its
        first packet (muxers refuse some data streams only when a packet or the trailer comes)."""
        import io

        cname = s.codec_context.name if s.codec_context is not None else None
        if cname and cname not in out.supported_codecs:
            return False
        if self.live:
            return True
        try:
            with av.open(self.src) as again:
                first = None
                for i, pkt in enumerate(again.demux(again.streams[s.index])):
                    if pkt.size:
                        first = pkt
                        break
                    if i > 10000:
                        break
                with av.open(io.BytesIO(), "w", format=out.format.name) as dry:
                    ds = dry.add_stream_from_template(again.streams[s.index])
                    if first is not None:
                        first.stream = ds
                        dry.mux(first)
                    else:
                        dry.start_encoding()
            return True
        except Exception:  # any refusal means: this container cannot carry the stream
            return False

    def _tags(self, src_tags, allowed) -> dict:
        tags = dict(src_tags or {})
        if self.keep:
            tags.pop("rotate", None)  # applied to the pixels
            return tags
        kept = {k: v for k, v in tags.items() if k in allowed}
        self.stripped.update(k for k in tags if k not in kept and k not in _MUXER_TAGS)
        return kept

    def _configure(self, out, frame: Frame, vin):
        name, how = _encoder_format(frame, self.enc)
        if how == "swscale":
            self.warn(f"{self.enc.name} cannot store {frame.format}; frames are converted to "
                      f"{name}")
        elif how == "chroma444":
            self.warn(f"{self.enc.name} cannot encode {frame.width}x{frame.height} with "
                      f"subsampled chroma (odd size); writing {name} (or use --codec ffv1)")
        cc = self.vout.codec_context
        cc.width, cc.height, cc.pix_fmt = frame.width, frame.height, name
        cc.time_base = vin.time_base
        self.vout.time_base = vin.time_base
        rate = vin.average_rate or vin.guessed_rate
        if rate:
            with contextlib.suppress(Exception):
                cc.framerate = rate
        # the stream is tagged like the frames it will get (range, matrix, primaries, transfer)
        tagged = _to_encoder(frame, name, how)
        for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
            val = int(getattr(tagged, attr) or 0)
            if val and not (attr != "color_range" and val == 2):
                with contextlib.suppress(Exception):
                    setattr(cc, attr, val)
        opts = {}
        if self.enc.name in ("libx264", "libx265", "libvpx-vp9", "libsvtav1"):
            opts["crf"] = f"{float(self.crf):g}"
        if self.enc.name in ("libx264", "libx265"):
            opts["preset"] = self.preset
        if self.enc.name == "libx265":
            opts["x265-params"] = "log-level=error"
        if self.enc.name == "libvpx-vp9":
            opts["b"] = "0"
        if self.enc.name == "mjpeg":
            with contextlib.suppress(Exception):
                cc.qscale = 2
        # PyAV's default (SLICE) makes x264 slice-thread, which encodes markedly slower than its
        # own frame threading; FRAME/AUTO matches the ffmpeg command line.
        with contextlib.suppress(Exception):
            cc.thread_type = "AUTO"
        if self.threads:
            cc.thread_count = int(self.threads)
        self.vout.options = opts
        self.pix_fmt, self.how = name, how

    def _encode(self, out, frame: Frame, used, in_place: bool) -> None:
        if (in_place and self.how == "direct" and used.format.name == self.pix_fmt
                and used.width == frame.width and used.height == frame.height):
            avf = used
            avf.pts = frame.pts
            avf.time_base = frame.time_base
        else:
            avf = _to_encoder(frame, self.pix_fmt, self.how)
        try:
            for pkt in self.vout.encode(avf):
                out.mux(pkt)
        except av.error.FFmpegError as exc:
            raise OutputError(f"the {self.enc.name} encoder failed ({exc.strerror or exc}) with "
                              f"pix_fmt={self.pix_fmt}, crf={self.crf}, preset={self.preset}",
                              file=self.dst, frame=frame.index, parameter="codec") from None

    def _flush_pending(self, out, plan, audio_enc) -> None:
        while self.pending:
            pkt = self.pending.popleft()
            mode, ostream = plan.get(pkt.stream_index, (None, None))
            if mode == "copy":
                pkt.stream = ostream
                out.mux(pkt)
            elif mode == "aac":
                with contextlib.suppress(av.error.FFmpegError):
                    for af in pkt.decode():
                        af.pts = None
                        for p in ostream.encode(af):
                            out.mux(p)
                audio_enc.add(pkt.stream_index)

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> dict:
        self.stripped: set[str] = set()
        inp = _open_input(self.src, self.live, self.open_timeout, self.read_timeout,
                          self.input_options)
        try:
            vin = inp.streams.video[0] if inp.streams.video else None
            if vin is None:
                raise InputError("no video stream", file=self.src)
            vin.thread_type = "SLICE" if self.live else "AUTO"
            if self.threads:
                vin.codec_context.thread_count = int(self.threads)
            self.matrix = _io.display_matrix(vin)
            transform = _io.matrix_transform(self.matrix)
            try:
                fmt = _muxer_for(self.dst)
                # MP4/MOV drop tags they have no atom for unless asked to write them all
                opts = ({"movflags": "use_metadata_tags"}
                        if self.keep and fmt in ("mp4", "mov") else {})
                out = av.open(self.tmp, "w", format=fmt, container_options=opts)
            except (av.error.FFmpegError, ValueError) as exc:
                raise OutputError(f"cannot write this kind of file ({exc}); use .mp4, .mkv or "
                                  ".mov", file=self.dst, parameter="output") from None
            try:
                with out:
                    return self._run(inp, out, vin, transform)
            except av.error.FFmpegError as exc:  # muxing or the trailer
                raise OutputError(f"writing the output failed ({exc.strerror or exc})",
                                  file=self.dst) from None
        finally:
            inp.close()

    def _run(self, inp, out, vin, transform) -> dict:
        out.metadata.update(self._tags(inp.metadata, KEPT_CONTAINER_TAGS))
        self.vout = out.add_stream(self.enc.name)
        self.vout.metadata.update(self._tags(vin.metadata, KEPT_STREAM_TAGS))
        plan = self._add_streams(inp, out, vin)
        for s in inp.streams:
            if s.index in plan:
                plan[s.index][1].metadata.update(self._tags(s.metadata, KEPT_STREAM_TAGS))
        if self.keep:
            with contextlib.suppress(Exception):
                out.set_chapters(inp.chapters())
        others = [s for s in inp.streams if s.index in plan]
        total = self.info.num_frames if self.info else None
        if self.max_frames:
            total = min(total or self.max_frames, self.max_frames)
        audio_enc: set[int] = set()
        on_frame = self.on_frame
        n = 0
        with _progress(total, self.progress, Path(self.src).name[:30]) as bar:
            frames = self._frames(inp, vin, others, transform)
            for frame, (used, in_place), copied in _run_pipeline(self.pipeline, frames):
                if n == 0:
                    self._configure(out, frame, vin)
                self._encode(out, frame, used, in_place and not copied)
                self._flush_pending(out, plan, audio_enc)
                self.records.append(_record(frame))
                if on_frame is not None:
                    on_frame(n, _seconds(frame), frame)
                n += 1
                bar.update(1)
            if n == 0:
                why = f" ({self.read_error.strerror or self.read_error})" if self.read_error else ""
                raise InputError(f"no video frame could be decoded{why}", file=self.src)
            try:
                for pkt in self.vout.encode(None):
                    out.mux(pkt)
            except av.error.FFmpegError as exc:
                raise OutputError(f"the {self.enc.name} encoder failed while finishing "
                                  f"({exc.strerror or exc})", file=self.dst) from None
            self._flush_pending(out, plan, audio_enc)
            for idx in audio_enc:
                for p in plan[idx][1].encode(None):
                    out.mux(p)
        truncated = self._check_truncation(vin, n)
        audio = [f"#{i} {'aac' if m == 'aac' else 'copy'}"
                 for i, (m, s) in plan.items() if s.type == "audio"]
        return {
            "input": self.src, "output": str(self.dst), "spec": self.pipeline.spec, "frames": n,
            "fail_closed": sorted(set(self.pipeline.failed_frames)), "truncated": truncated,
            "last_good_frame": n - 1, "warnings": self.warnings, "audio": audio,
            "dropped_streams": self.dropped, "stripped_tags": sorted(self.stripped),
            "rotation": _io.display_orientation(self.matrix)[0],
            "mirrored": _io.display_orientation(self.matrix)[1],
            "codec": self.enc.name, "pix_fmt": self.pix_fmt, "host": "pyav",
        }

    def _check_truncation(self, vin, n: int) -> bool:
        if self.max_frames is not None and n >= self.max_frames:
            return False
        expected = vin.frames or 0
        if self.read_error is None and not (expected and n < expected - 1):
            return False
        why = (f"reading failed: {self.read_error.strerror or self.read_error}"
               if self.read_error is not None else
               f"the container announces {expected} frames but only {n} decoded")
        self.warn(f"{self.src}: the input looks truncated or damaged ({why}); the output holds "
                  f"the {n} frames that decoded, the last good frame is {n - 1}")
        return True


def _seconds(frame: Frame) -> float | None:
    """A frame's presentation time in seconds (None when it has no pts or time base)."""
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


def _muxer_for(dst: Path) -> str | None:
    """The output container format for ``dst`` (None: let FFmpeg guess from the name)."""
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
            ".ts": "mpegts", ".avi": "avi", ".nut": "nut"}.get(dst.suffix.lower())


# ---------------------------------------------------------------------------------- stills


def _image_pairs(src: Path, dst: Path, folder: bool) -> list[tuple[Path, Path]]:
    if not folder:
        if dst.is_dir():
            dst = dst / src.name
        if not _io.is_image(dst):
            raise ParameterError(f"{dst} is not an image name, but the input is an image; give "
                                 f"an image output ({', '.join(sorted(_IMAGE_CODECS))})",
                                 parameter="output")
        _io.check_output(dst, src)
        return [(src, dst)]
    _io.check_output_dir(dst, src)
    files = sorted(p for p in src.iterdir() if p.is_file() and _io.is_image(p))
    if not files:
        raise InputError("the folder holds no images (png, jpg, bmp, tif, webp, pgm, ppm)",
                         file=src)
    return [(p, dst / p.name) for p in files]


def _decode_image(path: Path) -> av.VideoFrame:
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise InputError("not an image (no picture inside)", file=path)
            for f in c.decode(video=0):
                return f
    except av.error.FFmpegError as exc:
        raise InputError(f"not a readable image ({exc.strerror or exc})", file=path) from None
    raise InputError("no picture could be decoded", file=path)


def _encode_image(frame: Frame, path: Path, tmp: str) -> None:
    codec = _IMAGE_CODECS.get(path.suffix.lower())
    try:
        enc = av.codec.Codec(codec, "w")
    except Exception:
        raise OutputError(f"cannot write {path.suffix} images with this FFmpeg", file=path,
                          parameter="output") from None
    name, how = _encoder_format(frame, enc)
    avf = _to_encoder(frame, name, how)
    avf.pts, avf.time_base = 0, Fraction(1, 1)
    with av.open(tmp, "w", format="image2") as out:
        st = out.add_stream(enc.name, rate=1)
        st.width, st.height, st.pix_fmt = frame.width, frame.height, name
        cc = st.codec_context
        cc.color_range = avf.color_range
        if enc.name == "mjpeg":
            cc.qscale = 2
        for pkt in st.encode(avf):
            out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)


def _transcode_images(src: Path, dst: Path, pipeline: Pipeline, keep_metadata: bool,
                      progress: bool, json_path, folder: bool, on_frame=None) -> dict:
    """Protect one image, or every image of a folder (same names in the output folder).

    Images are re-encoded from pixels, so EXIF (GPS, camera serials, dates, and the thumbnails
    and maker-note previews of the *unprotected* picture) never reaches the output; an EXIF
    orientation is applied to the pixels. ``keep_metadata`` does not keep EXIF and says so; the
    summary's ``stripped_tags`` names what was dropped (``exif``, ``Make``, ``GPSInfo/...``).
    """
    pairs = _image_pairs(src, dst, folder)
    if json_path is not None:
        _check_json_path(json_path, str(src), pairs[0][1] if not folder else dst / ".json")
    warnings: list[str] = []
    if keep_metadata:
        warnings.append("image metadata (EXIF) is not kept: images are re-encoded from pixels, "
                        "and EXIF can hold a thumbnail of the unprotected picture")
        log.warning("%s", warnings[-1])
    t0 = time.monotonic()
    records: list = []
    orientations: list[tuple[int, bool]] = []
    stripped: set[str] = set()
    out_dir, tmp_dir = dst, None
    if folder and not dst.exists():
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent))
        out_dir = tmp_dir
    old = _io.signal_to_interrupt()
    try:
        with _progress(len(pairs), progress and folder, src.name[:30]) as bar:
            for i, (s, d) in enumerate(pairs):
                avf = _decode_image(s)
                matrix = _io.display_matrix(avf)
                transform = _io.matrix_transform(matrix)
                orientations.append(_io.display_orientation(matrix))
                stripped |= _image_tags(avf)
                core, _, _ = frame_to_core(avf, i, transform=transform, full_range=True)
                core.pts, core.time_base = 0, Fraction(1, 1)
                pipeline.open(StreamInfo(core.width, core.height, core.format, None, 1, str(s),
                                         still=True))
                ctx = FrameContext(i, lambda m, f=core, i=i: f if m == i else _no_frame(m),
                                   pipeline.window, i + 1)
                out = pipeline.process(core, ctx)
                target = out_dir / d.name if folder else d
                with _io.atomic_output(target) as tmp:
                    try:
                        _encode_image(out, target, tmp)
                    except av.error.FFmpegError as exc:
                        raise OutputError(f"cannot encode the image ({exc.strerror or exc})",
                                          file=d) from None
                extra = ({"rotation": orientations[-1][0], "mirrored": orientations[-1][1]}
                         if transform else {})
                records.append(_record(out, file=s.name, **extra))
                if on_frame is not None:
                    on_frame(i, None, out)
                bar.update(1)
        if tmp_dir is not None:
            os.chmod(tmp_dir, 0o777 & ~_io._umask())
            os.rename(tmp_dir, dst)
            tmp_dir = None
    finally:
        _io.restore_signal(old)
        pipeline.close()
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    seconds = round(time.monotonic() - t0, 3)
    summary = {
        "input": str(src), "output": str(dst if folder else pairs[0][1]),
        "spec": pipeline.spec, "frames": len(pairs), "seconds": seconds,
        "fps": round(len(pairs) / max(seconds, 1e-9), 2),
        "fail_closed": sorted(set(pipeline.failed_frames)), "truncated": False,
        "warnings": warnings, "audio": [], "dropped_streams": [], "stripped_tags": sorted(stripped),
        "host": "pyav", "still": True,
    }
    if not folder:  # applied to the pixels, like a video's display matrix
        summary["rotation"], summary["mirrored"] = orientations[0]
    if json_path is not None:
        _write_json(json_path, summary, records)
    return summary


def _no_frame(m):
    raise IndexError(m)


def _image_tags(avf: av.VideoFrame) -> set[str]:
    """What a decoded image carried that its re-encoded output will not: ``exif`` for an EXIF
    block, and the tags FFmpeg read from it or from other metadata (``Make``, ``Model``,
    ``GPSInfo/GPSLatitude`` ...)."""
    found = {str(k) for k in (avf.metadata or {})}
    with contextlib.suppress(Exception):
        if avf.side_data.get(av.sidedata.sidedata.Type.EXIF) is not None:
            found.add("exif")
    return found
