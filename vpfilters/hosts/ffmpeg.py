"""ffmpeg-python host: one ffmpeg process decodes, the pipeline protects, a second ffmpeg encodes.

How frames travel
-----------------
::

    ffmpeg (decoder)  --raw frames (CFR files)----->  Python  --raw------>  ffmpeg (encoder) -> dst
      -i SRC, autorotate,  or NUT: rawvideo + audio     protect in place  or NUT  -c:v libx264 ...
      -fps_mode passthrough                                                       -c:a copy

* **Raw video in the input's own pixel format.** The decoder ends its filter chain with
  ``format=pix_fmts=<the formats the pipeline accepts>``, so ffmpeg keeps the decoded format when
  the core model has it (``yuv420p``, ``yuv420p10le``, ``yuv444p``, ``gray``, ``gray10le``, ...) and
  otherwise converts to the nearest one (``nv12`` -> ``yuv420p``, ``p010le`` -> ``yuv420p10le``,
  ``rgb24``/``pal8`` -> ``gbrp``). ``yuvj*`` pictures travel as they are and become
  ``yuv*`` frames with ``_ColorRange=0`` (full range), with no range conversion. ``gbrp`` planes are
  reordered (views, no copy) to the core ``rgbp`` order R, G, B. See :data:`RAW_FORMATS`.
* **Constant frame rate files: bare raw pipes** (``-f rawvideo`` out of the decoder and into the
  encoder, 1 MiB pipe buffers). Python reads each frame with one ``readv`` into a reused buffer,
  the protectors edit numpy views of it in place and the same bytes are written to the encoder:
  no container, no allocation and no copy per frame beyond the two pipe transfers. Frame n is at
  start + n / rate (``-framerate`` and ``-itsoffset`` on the raw input); audio is copied by the
  encoder straight from the source file. Chosen when ffprobe's base and average frame rates agree
  and the input is a plain file (not live, not an image pattern, not rotated, no
  ``input_kwargs``); ``VPF_FFMPEG_PIPE=nut`` forces the NUT pipes.
* **Rows no protector touches skip Python** (raw pipes, Linux): when every protector declares
  the rows it may read or write (``touched_rows(info)``; fixed-box masks do, detection does not)
  and no look-ahead is needed, only those rows are read into the frame buffer; the others move
  from the decoder's pipe to the encoder's with ``splice(2)`` (page references, no copy): rows
  before the first touched ones at once, gaps between touched rows through holding pipes until
  the frame is protected, rows after them once it is. The encoder gets the same bytes as with the
  full read (``VPF_FFMPEG_SPLICE=0``). A protection error on such a frame stops the run (the
  output is discarded): rows already passed on cannot be replaced by a hidden frame.
* **Otherwise timestamps travel with the frames.** The raw frames go through a NUT pipe: NUT
  carries each frame's pts in the source's own time base, so variable frame rate input keeps its
  exact timing (``-fps_mode passthrough`` and ``-enc_time_base -1`` on both sides; nothing is
  dropped, duplicated or re-timed). Audio is copied (``-c:a copy``) through the same pipe, so it
  stays in sync and a live input is opened only once. Frames are numpy views into the demuxed
  packet, edited in place and written on as the same packet.
* In both modes the encoder writes the source's colour properties (range, matrix, primaries,
  transfer) on the output, and protectors that declare a look-ahead ``window`` get one copy per
  frame (their neighbours must stay as decoded). ``threads`` sets ``-threads`` on both sides.
* **Protectors that change the frame size** (``changes_size``, e.g. ``rescale=size=small``):
  the encoder starts once the first frame is protected, at that frame's size (NUT or raw pipes;
  never spliced), and each protected frame is copied into a buffer of the output's size (audio
  that arrives before it waits). A frame hidden whole by the fail-closed rule is hidden at the
  output's size; any other frame of another size stops the run.
* **Side data stored with the output** (rescale's restore data), as in the PyAV host: protectors
  with ``bind_output(final_path)`` get the output path before the run, and
  ``finalize_output(tmp_path)`` once the encoder has exited, before the temporary output is
  renamed (an ``.mkv`` then holds the data as an attachment, other outputs get
  ``OUTPUT.vpfr``); a failure there leaves nothing at the output path.

Rotation: ffmpeg autorotates on decode, so frames are protected in *display* orientation (boxes
are display coordinates) and the output carries no rotation tag (the picture is already upright).
That includes a JPEG's EXIF Orientation (photos, MJPEG cut from them), which ffmpeg reads from
each decoded frame rather than from the stream: the host peeks at the first frame of MJPEG input
to know (such input takes the NUT pipes, whose frames carry their upright size).

Identifying metadata (container and stream tags such as GPS location and creation time,
chapters, subtitle and data streams) is dropped unless ``keep_metadata=True``.

ffmpeg-python has had no release since 2019, so this module uses only its command-line builder
(:func:`ffmpeg.input`, :func:`ffmpeg.output`, ``compile``); inputs are probed in-process with
PyAV (the same libav probing as ffprobe, without a third process), and processes are started and
reaped here.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

# OpenBLAS, numpy's BLAS, starts a worker per core that spins for ~0.1 s of CPU before it sleeps.
# The hosts do no BLAS work, and on a small machine that spin is taken from the decoder and the
# encoder; with a short timeout idle workers sleep at once (BLAS keeps its threads). Effective only
# before numpy's first import, and never over the user's own setting.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np

from vpfilters.core import (FORMATS, Frame, FrameContext, Pipeline, StreamInfo, build,
                            color_values)
from vpfilters.errors import (
    FormatError,
    InputError,
    OutputError,
    ParameterError,
    VpfError,
)
from vpfilters.hosts import _io

log = logging.getLogger("vpfilters")

__all__ = ["RAW_FORMATS", "decoder_command", "encoder_command", "nearest_raw_format", "run"]

#: ffmpeg raw pixel format -> (core format, plane order in memory -> core order, forced _ColorRange).
#: Only these travel through the pipe; ffmpeg converts anything else to the nearest of them.
RAW_FORMATS: dict[str, tuple[str, tuple[int, ...] | None, int | None]] = {
    "yuv420p": ("yuv420p", None, None),
    "yuvj420p": ("yuv420p", None, 0),
    "yuv422p": ("yuv422p", None, None),
    "yuvj422p": ("yuv422p", None, 0),
    "yuv444p": ("yuv444p", None, None),
    "yuvj444p": ("yuv444p", None, 0),
    "yuv420p10le": ("yuv420p10", None, None),
    "yuv420p12le": ("yuv420p12", None, None),
    "yuv420p16le": ("yuv420p16", None, None),
    "yuv422p10le": ("yuv422p10", None, None),
    "yuv444p10le": ("yuv444p10", None, None),
    "yuv444p16le": ("yuv444p16", None, None),
    "gray": ("gray", None, None),
    "gray10le": ("gray10", None, None),
    "gray16le": ("gray16", None, None),
    "gbrp": ("rgbp", (2, 0, 1), 0),       # memory order G, B, R -> core R, G, B
    "gbrp10le": ("rgbp10", (2, 0, 1), 0),
    "gbrp16le": ("rgbp16", (2, 0, 1), 0),
}

# ffmpeg colour names -> the integer codes of VapourSynth's _Matrix/_Primaries/_Transfer (H.273)
_MATRIX = {"gbr": 0, "bt709": 1, "fcc": 4, "bt470bg": 5, "smpte170m": 6, "smpte240m": 7,
           "ycgco": 8, "bt2020nc": 9, "bt2020c": 10}
_PRIMARIES = {"bt709": 1, "bt470m": 4, "bt470bg": 5, "smpte170m": 6, "smpte240m": 7, "film": 8,
              "bt2020": 9, "smpte428": 10, "smpte431": 11, "smpte432": 12}
_TRANSFER = {"bt709": 1, "gamma22": 4, "gamma28": 5, "smpte170m": 6, "smpte240m": 7, "linear": 8,
             "log100": 9, "log316": 10, "iec61966-2-4": 11, "bt1361e": 12, "iec61966-2-1": 13,
             "bt2020-10": 14, "bt2020-12": 15, "smpte2084": 16, "smpte428": 17,
             "arib-std-b67": 18}
_RANGES = {"tv": "tv", "mpeg": "tv", "limited": "tv", "pc": "pc", "jpeg": "pc", "full": "pc"}

_CRF_PRESET = {"libx264", "libx264rgb", "libx265"}
_CRF_ONLY = {"libvpx", "libvpx-vp9", "libaom-av1", "libsvtav1"}
_STDERR_LINES = 200
_TAIL = 15  # lines of ffmpeg's stderr quoted in errors


# ---------------------------------------------------------------------------------- plumbing


class _Stderr(threading.Thread):
    """Drain a child's stderr (so a full pipe never blocks it) and keep the last lines."""

    def __init__(self, proc: subprocess.Popen, name: str):
        super().__init__(name=f"vpf-{name}-stderr", daemon=True)
        self.proc = proc
        self.lines: deque[str] = deque(maxlen=_STDERR_LINES)
        self.video_line: str | None = None
        self.header = threading.Event()  # the input is described (or the process ended)
        self.start()

    def run(self):
        try:
            for raw in iter(self.proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                if not line:
                    continue
                self.lines.append(line)
                if self.video_line is None and "Stream #0:" in line and "Video:" in line:
                    self.video_line = line
                if line.startswith(("Output #0", "Stream mapping")):
                    self.header.set()
        except (OSError, ValueError):
            pass
        finally:
            self.header.set()

    def text(self) -> str:
        return "\n".join(self.lines)

    def tail(self, n: int = _TAIL) -> str:
        self.join(timeout=2)
        lines = list(self.lines)[-n:]
        return ("\n  ffmpeg: " + "\n  ffmpeg: ".join(lines)) if lines else " (ffmpeg said nothing)"


def _popen(args: list[str], **kw) -> subprocess.Popen:
    # a session of its own: Ctrl-C in a terminal reaches Python only, which then kills the child
    # (a child that saw SIGINT itself would end its output "cleanly" and race the clean-up)
    try:
        return subprocess.Popen(args, start_new_session=True, **kw)
    except FileNotFoundError:
        raise VpfError(f"'{args[0]}' was not found; install ffmpeg (Debian: apt install ffmpeg)",
                       parameter="ffmpeg") from None


def _wait(proc: subprocess.Popen, timeout: float) -> int:
    """``proc.wait(timeout)`` that returns as soon as the child exits.

    Popen.wait with a timeout polls with sleeps of up to 50 ms, which the end of every run would
    wait out; a pidfd (Linux 5.3+) wakes up at the exit. Raises subprocess.TimeoutExpired.
    """
    if proc.returncode is None and hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:
            fd = None
        if fd is not None:
            import select

            try:
                if not select.select([fd], [], [], timeout)[0]:
                    raise subprocess.TimeoutExpired(proc.args, timeout)
            finally:
                os.close(fd)
    return proc.wait(timeout=timeout)


def _kill(proc: subprocess.Popen | None) -> None:
    """Kill a child and wait for it, leaving its pipes open (a container may still hold them)."""
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()


def _reap(proc: subprocess.Popen | None, kill: bool) -> None:
    """Kill (when asked) and wait for a child; never leaves a zombie or an open pipe."""
    if proc is None:
        return
    if kill and proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                pipe.close()
    try:
        proc.wait(timeout=None if kill else 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            proc.stderr.close()


class _Watchdog(threading.Thread):
    """Kill a live decoder that sends nothing for ``limit`` seconds (its output then ends)."""

    def __init__(self, proc: subprocess.Popen, first: float, limit: float):
        super().__init__(name="vpf-live-watchdog", daemon=True)
        self.proc, self.first, self.limit = proc, first, limit
        self.last = time.monotonic()
        self.seen = False
        self.fired = False
        self.done = threading.Event()
        self.start()

    def feed(self):
        self.last = time.monotonic()
        self.seen = True

    def run(self):
        while not self.done.wait(0.1):
            quiet = time.monotonic() - self.last
            if quiet > (self.limit if self.seen else self.first) and self.proc.poll() is None:
                self.fired = True
                with contextlib.suppress(OSError):
                    self.proc.kill()
                return


# ---------------------------------------------------------------------------------- the source


@dataclass
class _Source:
    path: str
    live: bool
    still: bool = False
    fps: float | None = None
    expected: int | None = None      # frame count from the container (exact) when it has one
    estimate: int | None = None      # for the progress bar: expected, else duration x rate
    rotation: int = 0
    turned: bool = False             # ffmpeg turns or mirrors the picture on decode (any angle)
    pix_fmt: str | None = None       # as decoded (files only)
    colour: dict = field(default_factory=dict)   # ffmpeg names: range, space, primaries, trc
    others: list = field(default_factory=list)   # subtitle / data / attachment streams
    width: int | None = None         # coded picture size (files only)
    height: int | None = None
    rate: Fraction | None = None     # the frame rate when the stream is constant frame rate
    start: float = 0.0               # the video's start after the file's (earliest stream's), s
    audio: int = 0                   # audio streams (files only)


def _ffprobe(src: str) -> dict:
    import ffmpeg

    try:
        return ffmpeg.probe(src)
    except ffmpeg.Error as exc:
        tail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-3:]
        raise InputError(f"ffprobe cannot read it ({' / '.join(tail) or 'no details'})",
                         file=src) from None
    except FileNotFoundError:
        raise VpfError("'ffprobe' was not found; install ffmpeg (it includes ffprobe)",
                       parameter="ffmpeg") from None


_RANGE_NAMES = {1: "tv", 2: "pc"}
_MATRIX_NAMES = {v: k for k, v in _MATRIX.items()}
_PRIMARIES_NAMES = {v: k for k, v in _PRIMARIES.items()}
_TRANSFER_NAMES = {v: k for k, v in _TRANSFER.items()}


def _probe_info(src: str, vp: _io.VideoProbe | None = None) -> dict:
    """ffprobe's ``-show_streams`` fields this host reads, from the PyAV probe (no extra process).

    Same libav probing as ffprobe (avformat_find_stream_info); colours are H.273 codes, named as
    ffprobe names them.
    """
    vp = vp or _io.probe(src)
    streams = []
    for f in vp.streams:
        d: dict = {"codec_type": f["type"], "codec_name": f["codec"]}
        if f["type"] == "video" and "width" in f:
            d.update(width=f["width"], height=f["height"], pix_fmt=f["pix_fmt"],
                     nb_frames=str(f["frames"]))
            for key, table, value in (("color_range", _RANGE_NAMES, f["range"]),
                                      ("color_space", _MATRIX_NAMES, f["matrix"]),
                                      ("color_primaries", _PRIMARIES_NAMES, f["primaries"]),
                                      ("color_transfer", _TRANSFER_NAMES, f["transfer"])):
                if value in table:
                    d[key] = table[value]
            for key in ("base_rate", "average_rate"):
                rate = f[key]
                name = "r_frame_rate" if key == "base_rate" else "avg_frame_rate"
                d[name] = f"{rate.numerator}/{rate.denominator}" if rate else "0/0"
            if f["start"] is not None:
                d["start_time"] = str(f["start"])
        streams.append(d)
    fmt = {} if vp.start_time is None else {"start_time": str(vp.start_time)}
    return {"streams": streams, "format": fmt}


def _colour_from(d: dict) -> dict:
    out = {}
    for key, name in (("color_range", "range"), ("color_space", "space"),
                      ("color_primaries", "primaries"), ("color_transfer", "trc")):
        v = d.get(key)
        if v and v not in ("unknown", "unspecified", "reserved"):
            out[name] = _RANGES.get(v, v) if name == "range" else v
    return out


def _probe_source(src: str, input_kwargs: dict | None = None) -> _Source:
    """Validate a file / image pattern (typed errors) and read what the run needs to know."""
    if _io.is_live(src):
        return _Source(src, live=True)
    if Path(src).is_dir():
        raise InputError("a folder: give an image pattern such as folder/img%04d.png, or use the "
                         "PyAV host for folders of images", file=src)
    try:
        vp = _io.probe(src)  # InputError for anything that is not a decodable video
    except InputError:
        if not input_kwargs or _io.is_sequence(src):
            raise
        # probed without the input options (a raw stream needs its format and size given):
        # the decoder, which has them, decides; NUT pipes carry what it delivers
        _io.check_input(src)
        return _Source(src, live=False)
    info = _probe_info(src, vp)
    streams = info.get("streams", [])
    v = next((s for s in streams if s.get("codec_type") == "video"), {})
    expected = None
    with contextlib.suppress(TypeError, ValueError):
        expected = int(v.get("nb_frames")) or None
    if _io.is_sequence(src):
        expected = len(_io.check_sequence(src))
    estimate = expected or vp.num_frames
    others = [f"{s.get('codec_type')}:{s.get('codec_name') or '?'}" for s in streams
              if s.get("codec_type") not in ("video", "audio")]
    # ffmpeg's autorotate turns (or mirrors) the picture on decode: the stream's display matrix,
    # else the first frame's (EXIF in a JPEG or an MJPEG video); the probe reads both
    rotation, turned = vp.rotation, bool(vp.rotation or vp.mirrored)
    return _Source(src, live=False, still=_io.is_image(src),
                   fps=float(vp.fps) if vp.fps else None, expected=expected, estimate=estimate,
                   rotation=rotation, turned=turned,
                   pix_fmt=v.get("pix_fmt") or vp.pix_fmt or None,
                   colour=_colour_from(v), others=others, width=_int(v.get("width")),
                   height=_int(v.get("height")), rate=_constant_rate(v),
                   # ffmpeg moves every input by its file's start: the video's own lead remains
                   start=_float(v.get("start_time")) - _float(
                       info.get("format", {}).get("start_time", v.get("start_time"))),
                   audio=sum(s.get("codec_type") == "audio" for s in streams))


#: Decoders that put an orientation on each decoded frame (EXIF Orientation in JPEG), where the
#: stream has none: ffmpeg's autorotate applies it, so the host must know before it picks pipes.
def _int(v) -> int | None:
    try:
        return int(v) or None
    except (TypeError, ValueError):
        return None


def _float(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def _constant_rate(v: dict) -> Fraction | None:
    """The stream's frame rate when ffprobe reports it constant (r_frame_rate == avg_frame_rate).

    Variable frame rate streams (frames dropped or spaced unevenly) have an average rate other
    than their base rate; they keep the NUT path, which carries every frame's timestamp.
    """
    try:
        r, avg = Fraction(v.get("r_frame_rate", "")), Fraction(v.get("avg_frame_rate", ""))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return r if r > 0 and r == avg else None


_STREAM_RX = re.compile(r"Video: .*?, (\w+)\(([^)]*)\)")


def _colour_from_log(line: str | None) -> dict:
    """Colour properties from ffmpeg's input description (live inputs are not probed twice)."""
    m = _STREAM_RX.search(line or "")
    if not m:
        return {}
    out = {}
    for item in (t.strip() for t in m.group(2).split(",")):
        if item in _RANGES:
            out["range"] = _RANGES[item]
        elif "/" in item:
            sp, pr, tr = (item.split("/") + ["", ""])[:3]
            out.update({k: v for k, v in (("space", sp), ("primaries", pr), ("trc", tr))
                        if v and v != "unknown"})
        elif item in _MATRIX or item in _PRIMARIES or item in _TRANSFER:
            out.update({k: item for k, table in (("space", _MATRIX), ("primaries", _PRIMARIES),
                                                 ("trc", _TRANSFER)) if item in table})
    return out


def nearest_raw_format(pix_fmt: str | None) -> str | None:
    """The :data:`RAW_FORMATS` entry that holds ``pix_fmt`` without loss (None if unknown).

    Family (YUV, gray, RGB), chroma subsampling and bit depth are kept (depth rounded up to
    10, 12 or 16); alpha is dropped; semi-planar and packed layouts become planar.
    """
    import av

    if not pix_fmt:
        return None
    if pix_fmt in RAW_FORMATS:
        return pix_fmt
    try:
        f = av.VideoFormat(pix_fmt, 64, 32)
    except (ValueError, TypeError):
        return None
    comps = [c for c in f.components if not c.is_alpha]
    if not comps:
        return None
    bits = max(c.bits for c in comps)
    if f.is_rgb or f.has_palette or pix_fmt.startswith("xyz"):
        stem = "rgbp"
    elif len(comps) == 1:
        stem = "gray"
    else:
        sub = {(32, 16): "420", (32, 32): "422", (64, 32): "444"}.get(
            (comps[1].width, comps[1].height))
        if sub is None:
            return None
        stem = f"yuv{sub}p"
    by_core = {core: ff for ff, (core, _, forced) in RAW_FORMATS.items()
               if not ff.startswith("yuvj")}
    for depth in (8, 10, 12, 16):
        if depth >= bits:
            name = stem if depth == 8 else f"{stem}{depth}"
            if name in by_core:
                return by_core[name]
    return None


def _frame_props(colour: dict, family: str, forced_range: int | None) -> dict:
    props = {}
    if colour.get("range"):
        props["_ColorRange"] = 0 if colour["range"] == "pc" else 1
    if forced_range is not None:
        props["_ColorRange"] = forced_range
    if family == "rgb":
        props["_Matrix"] = 0
    elif colour.get("space") in _MATRIX:
        props["_Matrix"] = _MATRIX[colour["space"]]
    if colour.get("primaries") in _PRIMARIES:
        props["_Primaries"] = _PRIMARIES[colour["primaries"]]
    if colour.get("trc") in _TRANSFER:
        props["_Transfer"] = _TRANSFER[colour["trc"]]
    return props


def _encoder_colour(colour: dict, family: str, forced_range: int | None) -> dict:
    """The ffmpeg colour options that make the output carry the source's properties."""
    c = dict(colour)
    if forced_range == 0 and family == "yuv":
        c["range"] = "pc"
    if family == "rgb":
        # the encoder may convert RGB to YUV with its own matrix: tag nothing that could lie
        c.pop("space", None)
        c.pop("range", None)
    return {k: c[n] for k, n in (("color_range", "range"), ("colorspace", "space"),
                                 ("color_primaries", "primaries"), ("color_trc", "trc")) if n in c}


# ---------------------------------------------------------------------------------- commands


def _live_input_options(src: str, read_timeout: float) -> dict:
    """Low-latency demuxing for network inputs: no input buffer, a small probe.

    ``-fflags nobuffer`` drops what the probe read (about the first ``analyzeduration``,
    0.5 s), so the run starts at the live edge instead of behind it;
    ``input_kwargs={"fflags": "-nobuffer"}`` keeps those frames.
    """
    us = int(read_timeout * 1_000_000)
    opts = {"fflags": "nobuffer", "flags": "low_delay", "probesize": 131072,
            "analyzeduration": 500_000}
    if src.lower().startswith(("rtsp://", "rtsps://")):
        opts.update(rtsp_transport="tcp", timeout=us)
    else:
        opts["rw_timeout"] = us
    return opts


def decoder_command(src: str, pix_fmts, *, live: bool = False, input_kwargs: dict | None = None,
                    read_timeout: float = 10.0, raw: bool = False,
                    threads: int | None = None) -> list[str]:
    """The decoder's command: ``src`` -> NUT (rawvideo in ``pix_fmts``, copied audio) on stdout.

    ``raw``: bare raw frames of the video stream instead (no container, no audio; see ``run``).
    ``threads``: decoder threads (``-threads`` before ``-i``; default ffmpeg's choice).
    """
    import ffmpeg

    in_kw = _live_input_options(src, read_timeout) if live else {}
    if threads:
        in_kw["threads"] = int(threads)
    in_kw.update(input_kwargs or {})
    if isinstance(in_kw.get("video_size"), str):
        # ffmpeg-python writes an input's video_size as "{v[0]}x{v[1]}" ("768x432" -> "7x6");
        # -s before -i is the same option
        in_kw["s"] = in_kw.pop("video_size")
    inp = ffmpeg.input(src, **in_kw)
    out_kw = {"vf": "format=pix_fmts=" + "|".join(pix_fmts), "c:v": "rawvideo", "c:a": "copy",
              "fps_mode": "passthrough", "enc_time_base:v": -1, "format": "nut",
              "map_metadata": -1, "map_chapters": -1}  # kept metadata comes from the source
    if live:
        out_kw["flush_packets"] = 1
    if raw:
        out_kw.update(format="rawvideo")
        del out_kw["c:a"], out_kw["enc_time_base:v"]
        out = ffmpeg.output(inp["v:0"], "pipe:1", **out_kw)
        return out.global_args("-hide_banner", "-nostdin", "-nostats", "-loglevel",
                               "info").compile()
    out = ffmpeg.output(inp["v:0"], inp["a?"], "pipe:1", **out_kw)
    return out.global_args("-hide_banner", "-nostdin", "-nostats", "-loglevel", "info").compile()


_ALIASES = {"vcodec": "c:v", "codec:v": "c:v", "acodec": "c:a", "codec:a": "c:a",
            "scodec": "c:s", "codec:s": "c:s", "f": "format"}


def encoder_command(dst: str, *, codec: str | None = "libx264", crf=23, preset="veryfast",
                    colour: dict | None = None, audio: int = 1, keep_metadata: bool = False,
                    metadata_src: str | None = None,
                    output_kwargs: dict | None = None, raw: dict | None = None,
                    threads: int | None = None) -> list[str]:
    """The encoder's command: NUT on stdin (+ ``metadata_src`` for kept metadata) -> ``dst``.

    ``raw``: bare raw frames on stdin instead, described by ``pix_fmt``, ``size`` (WxH),
    ``rate`` and ``start`` (seconds); audio is then copied from ``raw["audio_src"]`` (the source
    file). ``threads``: encoder threads (``-threads`` on the output).
    """
    import ffmpeg

    colour = colour or {}
    if raw:
        in_kw = {"format": "rawvideo", "pix_fmt": raw["pix_fmt"], "s": raw["size"],
                 "framerate": str(raw["rate"]), **colour}
        if raw.get("start"):  # the video's lead over the file's other streams
            in_kw["itsoffset"] = repr(float(raw["start"]))
        pipe = ffmpeg.input("pipe:0", **in_kw)
        audio_in = ffmpeg.input(raw["audio_src"]) if audio else None
    else:
        pipe = ffmpeg.input("pipe:0", format="nut", **colour)
        audio_in = pipe
    streams = [pipe["v:0"]]
    out_kw: dict = {"fps_mode": "passthrough", **colour}
    if not raw:
        out_kw["enc_time_base:v"] = -1
    if threads:
        out_kw["threads"] = int(threads)
    image = _io.is_image(dst)
    if image:
        if "%" not in Path(dst).name:
            out_kw["update"] = 1
        if codec == "libx264":
            codec = None  # let the image muxer pick its codec (png, mjpeg...)
    else:
        if audio:
            streams.append(audio_in["a?"])
            out_kw["c:a"] = "copy"
    if codec:
        out_kw["c:v"] = codec
        if codec in _CRF_PRESET | _CRF_ONLY and crf is not None:
            out_kw["crf"] = crf
        if codec in _CRF_PRESET and preset is not None:
            out_kw["preset"] = preset
    if keep_metadata and metadata_src is not None and not image:
        src = ffmpeg.input(metadata_src)
        streams += [src["s?"], src["d?"]]
        out_kw.update({"c:s": "copy", "c:d": "copy", "map_metadata": "{src}",
                       "map_chapters": "{src}"})
        # stream tags from the source too (the pipe carries none), but never a rotation: the
        # picture is already upright
        out_kw.update({"map_metadata:s:v:0": "{src}:s:v:0", "metadata:s:v:0": "rotate="})
        out_kw.update({f"map_metadata:s:a:{i}": f"{{src}}:s:a:{i}" for i in range(audio)})
    elif not keep_metadata:
        out_kw.update(map_metadata=-1, map_chapters=-1)
    for k, v in (output_kwargs or {}).items():
        out_kw[_ALIASES.get(k, k)] = v
    out = ffmpeg.output(*streams, str(dst), **out_kw)
    args = out.global_args("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error").compile()
    if keep_metadata and metadata_src is not None and not image:
        # ffmpeg-python numbers the inputs itself: point the metadata maps at the source's
        inputs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-i"]
        idx = str(inputs.index(str(metadata_src)))
        for i, a in enumerate(args[:-1]):
            if a.startswith(("-map_metadata", "-map_chapters")):
                args[i + 1] = args[i + 1].replace("{src}", idx)
    return args + ["-y"]


# ---------------------------------------------------------------------------------- frames


def _geometry(core: str, width: int, height: int) -> list[tuple[int, int]]:
    fam, _bits, (sx, sy), n = FORMATS[core]
    shapes = [(height, width)]
    for _ in range(1, n):
        shapes.append((-(-height // (1 << sy)), -(-width // (1 << sx))) if fam == "yuv"
                      else (height, width))
    return shapes


def _views(buf, core: str, shapes, order, index: int, src: str) -> list[np.ndarray]:
    """Planar numpy views into one raw frame (no copy; writable when the buffer is)."""
    dtype = np.uint8 if FORMATS[core][1] == 8 else np.dtype("<u2")
    arr = np.frombuffer(buf, dtype=np.uint8)
    size = sum(h * w for h, w in shapes) * np.dtype(dtype).itemsize
    if arr.size != size:
        raise FormatError(f"a raw {core} frame of {arr.size} bytes arrived; expected {size}",
                          file=src, frame=index)
    arr = arr.view(dtype)
    planes, at = [], 0
    for h, w in shapes:
        planes.append(arr[at:at + h * w].reshape(h, w))
        at += h * w
    if order is not None:
        planes = [planes[i] for i in order]
    return planes



def _protect_in_place(pipeline, frame: Frame, ctx: FrameContext, src) -> None:
    """Run the protectors on ``frame`` and leave the result in the frame's own planes (the pipe
    buffer that is written out next)."""
    planes = frame.planes
    out = pipeline.process(frame, ctx)
    for dst_plane, out_plane in zip(planes, out.planes, strict=True):
        if not _same_view(dst_plane, out_plane):
            if out_plane.shape != dst_plane.shape:
                raise FormatError("a protector changed the picture size; the ffmpeg host keeps "
                                  "it", file=src, frame=frame.index)
            dst_plane[...] = out_plane


class _Resized:
    """Frames that leave the pipeline at another size than they came (``changes_size``
    protectors, e.g. ``rescale=size=small``): the pipes' frame size is the output's, known once
    the first frame is protected (:meth:`learn`, before the encoder starts); every protected
    frame is then copied into a buffer of that size (:meth:`pack`)."""

    def __init__(self, core: str, order, src: str, declared: tuple[int, int] | None = None):
        self.core, self.order, self.src = core, order, src
        self.declared = declared  # the size the protectors say they give (output_size)
        self.width = self.height = None
        self.shapes: list[tuple[int, int]] = []
        self.size = 0  # bytes per output frame
        self.first_hidden = False  # the first frame failed closed (at the input's size)

    def learn(self, out: Frame) -> tuple[int, int]:
        """The output's size: the protectors' declared one, else the first protected frame's."""
        if out.format != self.core:
            raise FormatError(f"a protector turned {self.core} into {out.format}; the ffmpeg "
                              "host keeps the pixel format", file=self.src, frame=out.index)
        self.width, self.height = self.declared or (out.width, out.height)
        self.first_hidden = bool(out.props.get("VPFFailClosed")) and not self.declared
        self.shapes = _geometry(self.core, self.width, self.height)
        bps = 1 if FORMATS[self.core][1] == 8 else 2
        self.size = sum(h * w for h, w in self.shapes) * bps
        return self.width, self.height

    def pack(self, out: Frame, buf, index: int) -> Frame:
        """Copy ``out`` into ``buf`` (a writable buffer of :attr:`size` bytes, memory plane
        order); returns the frame as written (views into ``buf``). A frame hidden whole by the
        fail-closed rule at another size is hidden whole at the output's."""
        planes = _views(buf, self.core, self.shapes, self.order, index, self.src)
        shown = Frame(planes, self.core, out.index, out.props, out.pts, out.time_base)
        if out.format == self.core and all(
                a.shape == b.shape for a, b in zip(planes, out.planes, strict=True)):
            for dst_plane, out_plane in zip(planes, out.planes):
                dst_plane[...] = out_plane
        elif out.props.get("VPFFailClosed"):
            for plane, v in zip(planes, color_values((128, 128, 128), shown)):
                plane[...] = v
        else:
            why = (" (declared by the protectors)" if self.declared else
                   " (the first frame was hidden whole by the fail-closed rule, at the input's "
                   "size)" if self.first_hidden else " (the size of the first protected frame)")
            raise FormatError(f"frame {index} left the protectors at {out.width}x{out.height} "
                              f"{out.format}; the output is {self.width}x{self.height} "
                              f"{self.core}{why}", file=self.src, frame=index)
        return shown


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``b`` is ``a`` (the protector edited in place); cheap, unlike shares_memory."""
    return a is b or (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
                      and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype)


def _as_pipeline(spec, on_error: str) -> Pipeline:
    if isinstance(spec, Pipeline):
        return spec
    return build(spec, on_error=on_error)


# ---------------------------------------------------------------------------------- the run


class _Run:
    """One decode -> protect -> encode run; state in one place, children always reaped."""

    def __init__(self, src: str, dst: Path, pipeline: Pipeline, source: _Source, *, codec, crf,
                 preset, keep_metadata, progress, input_kwargs, output_kwargs, max_frames,
                 open_timeout, read_timeout, threads=None, on_frame=None):
        self.src, self.dst, self.pipeline, self.source = src, dst, pipeline, source
        self.codec, self.crf, self.preset = codec, crf, preset
        self.keep_metadata, self.progress = keep_metadata, progress
        self.input_kwargs, self.output_kwargs = input_kwargs, output_kwargs
        self.max_frames = max_frames
        self.open_timeout, self.read_timeout = open_timeout, read_timeout
        self.dec = self.enc = None
        self.dec_log = self.enc_log = None
        self.demux = self.mux = None
        self.watchdog = None
        self.frames_in = 0
        self.frames_out = 0
        self.stopped = False  # we stopped the decoder (max_frames)
        self.threads = threads
        self.on_frame = on_frame
        self.raw_fmt = self._raw_format()  # bare raw pipes (None: NUT pipes)
        # a protector declares a new frame size: the encoder starts with the first protected
        # frame, whose size it takes (no splice: the decoder's rows are not the encoder's)
        self.resizes = any(p.changes_size for p in pipeline.protectors)
        self.aout: dict = {}

    def _formats(self) -> list[str]:
        formats = [f for f, (core, _, _) in RAW_FORMATS.items() if core in self.pipeline.formats]
        near = nearest_raw_format(self.source.pix_fmt)
        if near in formats:
            # ask for it by name: ffmpeg's own choice from a list may lose depth (p010le -> gbrp)
            formats = [near]
        return formats

    def _raw_format(self) -> str | None:
        """The pixel format of bare raw pipes, when this input can take them (else None).

        Bare raw frames carry no timestamps, so they are used for constant frame rate files
        only, whose frame n is at start + n / rate: one read and one write of each frame in
        Python, no container on either pipe. Live inputs, image patterns, variable frame rate
        and rotated files, and anything unusual take the NUT pipes.
        """
        src = self.source
        if (src.live or src.still or _io.is_sequence(self.src) or src.turned or not src.rate
                or not src.width or not src.height or self.input_kwargs
                or os.environ.get("VPF_FFMPEG_PIPE") == "nut"):
            return None
        formats = self._formats()
        near = nearest_raw_format(src.pix_fmt)
        if len(formats) != 1 or formats[0] != near:
            return None
        return near

    # -- decoder ------------------------------------------------------------------------------
    def open_decoder(self):
        import av

        formats = self._formats()
        if not formats:
            raise FormatError("the protectors of this spec accept no format the ffmpeg host can "
                              "deliver", file=self.src)
        args = decoder_command(self.src, formats, live=self.source.live,
                               input_kwargs=self.input_kwargs, read_timeout=self.read_timeout,
                               raw=self.raw_fmt is not None, threads=self.threads)
        log.debug("decoder: %s", subprocess.list2cmdline(args))
        if self.raw_fmt is not None:
            self.dec = _popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, bufsize=0)
            self.dec_log = _Stderr(self.dec, "decoder")
            _grow_pipe(self.dec.stdout)
            return
        deadline = time.monotonic() + self.open_timeout
        while True:
            self.dec = _popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
            self.dec_log = _Stderr(self.dec, "decoder")
            if self.source.live:
                self.watchdog = _Watchdog(self.dec, self.open_timeout + self.read_timeout,
                                          self.read_timeout + 1)
            try:
                # libav reads the pipe's fd directly (and does not close it: _reap does)
                self.demux = av.open(f"pipe:{self.dec.stdout.fileno()}", format="nut",
                                     options={"probesize": "32", "analyzeduration": "0"})
                break
            except av.error.FFmpegError:
                _reap(self.dec, kill=True)
                self.dec_log.join(timeout=2)
                if self.watchdog is not None:
                    self.watchdog.done.set()
                text = self.dec_log.text()
                refused = self.source.live and "Connection refused" in text
                if refused and time.monotonic() < deadline:
                    time.sleep(0.2)  # a live server that is not listening yet
                    continue
                if refused:
                    raise InputError(f"cannot connect within {self.open_timeout:g} s "
                                     "(connection refused)", file=self.src,
                                     parameter="open_timeout") from None
                if self.watchdog is not None and self.watchdog.fired:
                    raise InputError(f"no data from the live input within "
                                     f"{self.open_timeout + self.read_timeout:g} s",
                                     file=self.src, parameter="open_timeout") from None
                raise InputError(f"ffmpeg cannot decode it{self.dec_log.tail()}",
                                 file=self.src) from None
        if not self.demux.streams.video:
            raise InputError(f"ffmpeg delivered no video{self.dec_log.tail()}", file=self.src)

    # -- encoder ------------------------------------------------------------------------------
    def open_encoder(self, tmp: str, vin, raw_fmt: str, colour: dict,
                     size: tuple[int, int] | None = None):
        """The encoder behind a NUT pipe; ``size`` (width, height) when the protected frames'
        differs from the decoded ones'."""
        import av

        audio = list(self.demux.streams.audio)
        args = encoder_command(
            tmp, codec=self.codec, crf=self.crf, preset=self.preset, colour=colour,
            audio=len(audio), keep_metadata=self.keep_metadata,
            metadata_src=None if self.source.live else self.src,
            output_kwargs=self.output_kwargs, threads=self.threads)
        log.debug("encoder: %s", subprocess.list2cmdline(args))
        self.enc = _popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
        self.enc_log = _Stderr(self.enc, "encoder")
        self.mux = av.open(f"pipe:{self.enc.stdin.fileno()}", "w", format="nut")
        cc = vin.codec_context
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        vout = self.mux.add_stream("rawvideo", rate=rate)
        vout.width, vout.height = size or (cc.width, cc.height)
        # yuvj* travels as yuv* (+ color_range=pc): no encoder converts the range on the way
        vout.pix_fmt = raw_fmt.replace("yuvj", "yuv")
        vout.time_base = vin.time_base
        self.vout = vout
        self.aout = {s.index: self.mux.add_stream_from_template(s) for s in audio}

    def write(self, pkt, index: int | None, stream=None):
        """Mux ``pkt`` (frame ``index``) into the encoder's NUT pipe, on ``stream`` (default:
        the video)."""
        import av

        pkt.stream = self.vout if stream is None else stream
        try:
            self.mux.mux(pkt)
        except (OSError, av.error.FFmpegError) as exc:
            self.encoder_failed(index, exc)

    def encoder_failed(self, index, exc=None):
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.enc.wait(timeout=10)
        what = f" ({exc})" if exc is not None and not self.enc_log.lines else ""
        raise OutputError(f"the ffmpeg encoder failed{what}{self.enc_log.tail()}",
                          file=self.dst, frame=index) from None

    def open_raw_encoder(self, tmp: str, colour: dict, size: tuple[int, int] | None = None):
        src = self.source
        width, height = size or (src.width, src.height)
        raw = {"pix_fmt": self.raw_fmt.replace("yuvj", "yuv"), "size": f"{width}x{height}",
               "rate": src.rate, "start": src.start, "audio_src": self.src}
        args = encoder_command(
            tmp, codec=self.codec, crf=self.crf, preset=self.preset, colour=colour,
            audio=src.audio, keep_metadata=self.keep_metadata, metadata_src=self.src,
            output_kwargs=self.output_kwargs, raw=raw, threads=self.threads)
        log.debug("encoder: %s", subprocess.list2cmdline(args))
        self.enc = _popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, bufsize=0)
        self.enc_log = _Stderr(self.enc, "encoder")
        _grow_pipe(self.enc.stdin)

    # -- main loop ----------------------------------------------------------------------------
    def run(self, tmp: str) -> dict:
        import av

        t0 = time.monotonic()
        if self.raw_fmt is not None:
            return self.run_raw(tmp, t0)
        self.open_decoder()
        vin = self.demux.streams.video[0]
        cc = vin.codec_context
        raw_fmt = cc.pix_fmt
        if raw_fmt not in RAW_FORMATS:
            raise FormatError(f"ffmpeg delivered pixel format {raw_fmt}, which this host does "
                              f"not map", file=self.src)
        core, order, forced_range = RAW_FORMATS[raw_fmt]
        family = FORMATS[core][0]
        if self.source.live:
            self.dec_log.header.wait(timeout=2)
            colour = _colour_from_log(self.dec_log.video_line)
            fps = float(vin.average_rate) if vin.average_rate else None
        else:
            colour, fps = self.source.colour, self.source.fps
        props = _frame_props(colour, family, forced_range)
        shapes = _geometry(core, cc.width, cc.height)
        if self.source.turned:
            log.info("%s: rotation %d deg applied on decode; protected in display orientation, "
                     "the output has no rotation tag", self.src, self.source.rotation)
        if self.source.others and not self.keep_metadata:
            log.info("%s: %s not copied (identifying metadata; keep_metadata=True keeps them)",
                     self.src, ", ".join(self.source.others))
        if self.source.live and self.keep_metadata:
            log.info("%s: a live input keeps its audio and video only", self.src)
        self.pipeline.open(StreamInfo(cc.width, cc.height, core, fps, self.source.expected,
                                      self.src, self.source.still))
        enc_colour = _encoder_colour(colour, family, forced_range)
        send, held = self.write, None
        if self.resizes:
            send, held = self._nut_resized(tmp, vin, raw_fmt, enc_colour, core, order)
        else:
            self.open_encoder(tmp, vin, raw_fmt, enc_colour)

        window = self.pipeline.window
        bar = _progress_bar(self.source.estimate, self.progress, Path(str(self.src)).name)
        # (Frame, packet) decoded, not yet protected; copies as decoded for the look-around
        pending, total, admit, protect_oldest = self._oldest_first(window, bar, send,
                                                                   self.resizes)
        try:
            try:
                for pkt in self.demux.demux():
                    if pkt.size == 0:
                        continue  # PyAV's end-of-stream marker
                    if self.watchdog is not None:
                        self.watchdog.feed()
                    if pkt.stream.type != "video":
                        if pkt.stream.index in self.aout:
                            self.write(pkt, None, self.aout[pkt.stream.index])
                        elif held is not None and self.mux is None:
                            held.append(pkt)  # audio before the resized encoder starts
                        continue
                    if pkt.stream.index != vin.index:
                        continue
                    i = self.frames_in
                    try:
                        planes = _views(pkt, core, shapes, order, i, self.src)
                    except FormatError:
                        # a frame cut short: the decoder died mid-write (finish_decoder says
                        # how); anything else is a real format error
                        try:
                            self.dec.wait(timeout=5)
                        except subprocess.TimeoutExpired:
                            raise
                        break
                    frame = Frame(planes, core, i, dict(props), pkt.pts, pkt.time_base)
                    if admit(frame, pkt):
                        break
            except av.error.FFmpegError as exc:
                raise InputError(f"reading the decoded frames failed after {self.frames_in} "
                                 f"frames ({exc}){self.dec_log.tail()}", file=self.src,
                                 frame=self.frames_in) from None
            total[0] = self.frames_in
            while pending:
                protect_oldest()
        finally:
            bar.close()
        return self._finish(tmp, t0, core, pipes="nut")

    def _oldest_first(self, window: int, bar, send, resized: bool = False):
        """The state and the step both frame loops (NUT and raw pipes) share.

        Returns ``(pending, total, admit, protect_oldest)``: the frames waiting for their
        look-ahead, ``(Frame, item)`` in input order; the frame count once the input ended
        (``total[0]``); ``admit(frame, item)``, which counts a decoded frame, keeps a copy as
        decoded while protectors may look at it (``ctx.frame(m)``), queues it, protects the
        frames whose look-ahead is now complete and returns True once ``max_frames`` are in
        (``stopped``); and ``protect_oldest()``, which protects the oldest waiting frame in
        place, hands its bytes
        to the encoder (``send(item, index)``), counts it, calls ``on_frame`` and drops the
        copies no longer in reach. ``resized`` (the protectors change the frame size): the
        protected frame is handed on instead, ``send(frame, item, index)``, which returns the
        frame as written.
        """
        pending: deque = deque()
        originals: dict[int, Frame] = {}
        total: list[int | None] = [None]
        pipeline, src, on_frame = self.pipeline, self.src, self.on_frame

        def fetch(n: int) -> Frame:
            if n not in originals:
                raise IndexError(n)
            return originals[n]

        def protect_oldest():
            frame, item = pending.popleft()
            ctx = FrameContext(frame.index, fetch if window else None, window, total[0])
            if resized:  # a new frame at another size, copied into the output's buffer
                shown = send(pipeline.process(frame, ctx), item, frame.index)
            else:  # in place, in the buffer the frame was read into
                _protect_in_place(pipeline, frame, ctx, src)
                send(item, frame.index)
                shown = frame
            self.frames_out += 1
            if on_frame is not None:
                on_frame(frame.index, _seconds(frame), shown)
            bar.update(1)
            for k in [k for k in originals if k < frame.index + 1 - window]:
                del originals[k]

        def admit(frame: Frame, item) -> bool:
            self.frames_in += 1
            if window:
                originals[frame.index] = frame.copy()
            pending.append((frame, item))
            while pending and pending[0][0].index + window < self.frames_in:
                protect_oldest()
            if self.max_frames is not None and self.frames_in >= self.max_frames:
                self.stopped = True
                return True
            return False

        return pending, total, admit, protect_oldest

    def declared_size(self, core: str) -> tuple[int, int] | None:
        """The output size the protectors declare for this source (Pipeline.output_size)."""
        return self.pipeline.output_size(self.source.width, self.source.height, core)

    def _nut_resized(self, tmp: str, vin, raw_fmt: str, colour: dict, core: str, order):
        """NUT pipes for protectors that change the frame size: ``(send, held)``. ``send(frame,
        packet, index)`` starts the encoder at the first protected frame's size (then writes
        the audio ``held`` until then) and writes each protected frame as a packet of that size
        with the decoded packet's timing."""
        import av

        rs = _Resized(core, order, self.src, self.declared_size(core))
        held: list = []

        def send(out: Frame, pkt, index: int) -> Frame:
            if rs.width is None:
                self.open_encoder(tmp, vin, raw_fmt, colour, rs.learn(out))
                for a in held:
                    if a.stream.index in self.aout:
                        self.write(a, None, self.aout[a.stream.index])
                held.clear()
            opkt = av.Packet(rs.size)
            shown = rs.pack(out, opkt, index)
            opkt.pts, opkt.dts, opkt.duration = pkt.pts, pkt.dts, pkt.duration
            opkt.time_base = pkt.time_base
            opkt.is_keyframe = True
            self.write(opkt, index)
            return shown

        return send, held

    def run_raw(self, tmp: str, t0: float) -> dict:
        """Bare raw pipes: frames read into reused buffers, protected in place, written on."""
        self.tmp = tmp
        self.open_decoder()
        raw_fmt = self.raw_fmt
        core, order, forced_range = RAW_FORMATS[raw_fmt]
        family = FORMATS[core][0]
        src = self.source
        colour = src.colour
        props = _frame_props(colour, family, forced_range)
        shapes = _geometry(core, src.width, src.height)
        if src.others and not self.keep_metadata:
            log.info("%s: %s not copied (identifying metadata; keep_metadata=True keeps them)",
                     self.src, ", ".join(src.others))
        info = StreamInfo(src.width, src.height, core, src.fps, src.expected, self.src, src.still)
        self.pipeline.open(info)
        enc_colour = _encoder_colour(colour, family, forced_range)
        writer = None  # resizing protectors: the encoder starts with the first protected frame
        if not self.resizes:
            self.open_raw_encoder(tmp, enc_colour)
            writer = _PipeWriter(self.enc.stdin.fileno())

        bps = 1 if FORMATS[core][1] == 8 else 2
        size = sum(h * w for h, w in shapes) * bps
        window = self.pipeline.window
        splicer = None
        if window == 0 and self.max_frames is None and writer is not None:
            splicer = _Splicer.plan(self.pipeline, info, shapes, order, bps, size)
        if splicer is not None:
            try:
                return self.run_spliced(splicer, writer, shapes, core, order, props, size, t0)
            finally:
                splicer.close()
        # A buffer is read into again only when its frame has left the pipe: frames wait in
        # `pending` for their look-ahead (window), and vmsplice'd pages stay in the pipe until the
        # encoder reads them (at most its capacity), so the ring holds both plus the frame read.
        # (resized: the decoded frames never go to the encoder, their own buffers do)
        ring = window + 2 + (-(-writer.capacity // size) if writer and writer.zero_copy else 0)
        buffers = [bytearray(size) for _ in range(ring)]
        tb = 1 / Fraction(src.rate)
        rfd = self.dec.stdout.fileno()

        def write(buf: memoryview, index: int) -> None:
            try:
                writer.write(buf)
            except OSError as exc:
                self.encoder_failed(index, exc)

        send = write
        if self.resizes:
            rs = _Resized(core, order, self.src, self.declared_size(core))
            sent: list[bytearray] = []  # the output's ring, made at the first frame

            def send(out: Frame, _buf, index: int) -> Frame:
                nonlocal writer
                if writer is None:
                    self.open_raw_encoder(tmp, enc_colour, rs.learn(out))
                    writer = _PipeWriter(self.enc.stdin.fileno())
                    n = 2 + (-(-writer.capacity // rs.size) if writer.zero_copy else 0)
                    sent.extend(bytearray(rs.size) for _ in range(n))
                obuf = memoryview(sent[self.frames_out % len(sent)])
                shown = rs.pack(out, obuf, index)
                write(obuf, index)
                return shown

        bar = _progress_bar(src.estimate, self.progress, Path(str(self.src)).name)
        pending, total, admit, protect_oldest = self._oldest_first(window, bar, send,
                                                                   self.resizes)
        try:
            while True:
                i = self.frames_in
                buf = memoryview(buffers[i % len(buffers)])
                got = 0
                while got < size:
                    n = os.readv(rfd, [buf[got:]])
                    if n == 0:
                        break
                    got += n
                if got < size:
                    break  # the end (a frame cut short: the decoder died; finish_decoder says)
                planes = _views(buf, core, shapes, order, i, self.src)
                frame = Frame(planes, core, i, dict(props), i, tb)
                if admit(frame, buf):
                    break
            total[0] = self.frames_in
            while pending:
                protect_oldest()
        finally:
            bar.close()
        # `buffers` and `sent` (vmsplice'd pages) stay referenced until the encoder has finished
        return self._finish(tmp, t0, core, pipes="raw")

    def run_spliced(self, sp: _Splicer, writer: _PipeWriter, shapes, core, order, props,
                    size: int, t0: float) -> dict:
        """Bare raw pipes where every protector declared the rows it touches (fixed boxes).

        Per frame, only those rows are read into Python; the others move from the decoder's pipe
        to the encoder's with splice(2) (page references, no copy): the rows before the first
        touched ones straight away, the gaps between touched rows into holding pipes until the
        frame is protected, the rows after them once it is. The encoder receives exactly the
        bytes of the full path. Fail closed: rows already passed on cannot be recalled, so a
        frame whose protection fails stops the run (the output is discarded) instead of being
        hidden whole.
        """
        from vpfilters.errors import ProtectionError

        src = self.source
        wfd = self.enc.stdin.fileno()
        rfd = self.dec.stdout.fileno()
        ring = 2 + (-(-writer.capacity // size) if writer.zero_copy else 0)
        buffers = [bytearray(size) for _ in range(ring)]
        tb = 1 / Fraction(src.rate)
        bar = _progress_bar(src.estimate, self.progress, Path(str(self.src)).name)
        on_frame = self.on_frame

        def to_encoder(fn, index, *args):
            try:
                return fn(*args)
            except OSError as exc:
                self.encoder_failed(index, exc)

        try:
            while True:
                i = self.frames_in
                buf = memoryview(buffers[i % len(buffers)])
                if not to_encoder(sp.take, i, rfd, wfd, buf):
                    break  # the end (a frame cut short: the decoder died; finish_decoder says)
                planes = _views(buf, core, shapes, order, i, self.src)
                frame = Frame(planes, core, i, dict(props), i, tb)
                self.frames_in += 1
                failed = len(self.pipeline.failed_frames)
                out = self.pipeline.process(frame, FrameContext(i, None, 0, None))
                if len(self.pipeline.failed_frames) != failed:
                    raise ProtectionError("protection failed on a frame whose untouched rows had "
                                          "already been passed on; the run stops and the output "
                                          "is discarded", frame=i)
                for dst_plane, out_plane in zip(planes, out.planes, strict=True):
                    if not _same_view(dst_plane, out_plane):
                        if out_plane.shape != dst_plane.shape:
                            raise FormatError("a protector changed the picture size; the "
                                              "ffmpeg host keeps it", file=self.src, frame=i)
                        dst_plane[...] = out_plane
                if not to_encoder(sp.give, i, rfd, wfd, buf, writer):
                    break  # cut short in its last rows: the encoder drops the partial frame
                self.frames_out += 1
                if on_frame is not None:
                    on_frame(i, _seconds(frame), frame)
                bar.update(1)
        finally:
            bar.close()

        # `buffers` (vmsplice'd pages) stay referenced here until the encoder has finished
        return self._finish(self.tmp, t0, core, pipes="raw", spliced=True)

    def _finish(self, tmp: str, t0: float, core: str, *, pipes: str,
                spliced: bool = False) -> dict:
        """End of a run (NUT or raw pipes): stop or wait for the decoder, end the encoder's input
        (NUT: the trailer first) and wait for it, check the output, summarise."""
        if self.stopped:
            _kill(self.dec)
        truncated = self.finish_decoder()
        if self.enc is None:  # resized, and no frame came out to start the encoder
            raise InputError("no video frame could be decoded", file=self.src)
        if self.mux is not None:  # NUT pipes: the trailer, then end of input
            import av

            try:
                self.mux.close()
            except (OSError, av.error.FFmpegError) as exc:
                self.encoder_failed(None, exc)
        with contextlib.suppress(OSError):
            self.enc.stdin.close()
        try:
            rc = _wait(self.enc, 600)
        except subprocess.TimeoutExpired:
            raise OutputError("the ffmpeg encoder did not finish within 10 minutes of the last "
                              "frame", file=self.dst) from None
        if rc != 0:
            self.encoder_failed(None)
        if not os.path.exists(tmp) or os.path.getsize(tmp) == 0:
            raise OutputError(f"the encoder wrote nothing{self.enc_log.tail()}", file=self.dst)
        seconds = time.monotonic() - t0
        return {"frames": self.frames_out, "fps": self.frames_out / seconds if seconds else 0.0,
                "seconds": seconds, "output": str(self.dst),
                "failed_frames": list(self.pipeline.failed_frames), "truncated": truncated,
                "expected_frames": self.source.expected, "format": core,
                "rotation": self.source.rotation, "pipes": pipes, "spliced": spliced}

    def finish_decoder(self) -> bool:
        """Check how the decoder ended; True (and a warning) when the input ended early."""
        if self.stopped:
            return False
        try:
            rc = _wait(self.dec, 30)
        except subprocess.TimeoutExpired:
            raise InputError("the ffmpeg decoder did not exit after its output ended",
                             file=self.src) from None
        if self.watchdog is not None:
            self.watchdog.done.set()
        self.dec_log.join(timeout=2)
        n = self.frames_in
        if n == 0:
            raise InputError(f"no video frame could be decoded{self.dec_log.tail()}",
                             file=self.src)
        text = self.dec_log.text()
        if self.watchdog is not None and self.watchdog.fired:
            log.warning("%s: the live input sent nothing for %g s; stopped after %d frames",
                        self.src, self.read_timeout + 1, n)
            return False
        if rc < 0:
            raise InputError(f"the ffmpeg decoder was killed (signal {-rc}) after {n} frames",
                             file=self.src, frame=n)
        expected = self.source.expected
        short = expected is not None and n < expected
        damaged = rc != 0 or any(m in text for m in ("partial file", "Invalid data found",
                                                     "End of file", "Truncat", "corrupt"))
        if (short and damaged) or rc != 0 or "partial file" in text:
            of = f" of {expected}" if expected else ""
            log.warning("%s: the input is truncated or damaged: %d%s frames decoded and "
                        "protected; the output ends there", self.src, n, of)
            return True
        if short:
            log.info("%s: %d frames decoded; the container announced %d", self.src, n, expected)
        return False

    def close(self, failed: bool):
        if self.watchdog is not None:
            self.watchdog.done.set()
        if failed:
            _kill(self.enc)  # before anything can finish writing the output
            _kill(self.dec)
        # containers first: libav must not touch a pipe fd after _reap closed it (and the number
        # went to another file)
        for c in (self.mux, self.demux):
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close()
        _reap(self.dec, kill=True)
        _reap(self.enc, kill=failed)
        for t in (self.dec_log, self.enc_log):
            if t is not None:
                t.join(timeout=2)


def _seconds(frame: Frame) -> float | None:
    """A frame's presentation time in seconds (None when it has no pts or time base)."""
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


def _splice_exact(src: int, dst: int, n: int) -> bool:
    """Move ``n`` bytes from pipe ``src`` to pipe ``dst`` (no copy); False at end of input."""
    while n:
        k = os.splice(src, dst, n)
        if k == 0:
            return False
        n -= k
    return True


def _read_exact(fd: int, view: memoryview) -> bool:
    got, size = 0, len(view)
    while got < size:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            return False
        got += k
    return True


class _Splicer:
    """How one raw frame crosses the host when the protectors touch only some rows of it.

    ``segments`` covers the frame in order with (kind, offset, length): ``head`` (spliced to the
    encoder at once), ``read`` (read into the frame buffer, written from it after protection),
    ``hold`` (spliced into holding pipe ``j`` while the frame is read, then on to the encoder)
    and ``tail`` (spliced to the encoder after protection).
    """

    MAX_HOLDS = 8

    def __init__(self, segments, holds):
        self.segments = segments
        self.holds = holds  # [(read fd, write fd)]

    @classmethod
    def plan(cls, pipeline: Pipeline, info: StreamInfo, shapes, order, bps: int, size: int):
        """A splicer for this stream, or None (a protector may touch any row, no splice(2), or
        too little of the frame would be spared to pay for the extra system calls)."""
        if (not hasattr(os, "splice") or not sys.platform.startswith("linux")
                or os.environ.get("VPF_FFMPEG_SPLICE", "1") == "0"):
            return None
        n = len(shapes)
        rows: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for p in pipeline.protectors:
            fn = getattr(p, "touched_rows", None)
            got = fn(info) if fn is not None else None
            if got is None or len(got) != n:
                return None
            for k in range(n):
                rows[k].extend(got[k])
        # touched byte ranges in memory order (planes travel in `order`'s inverse)
        touched, at = [], 0
        for m, (h, w) in enumerate(shapes):
            k = order.index(m) if order is not None else m
            for y0, y1 in rows[k]:
                y0, y1 = max(0, int(y0)), min(h, int(y1))
                if y1 > y0:
                    touched.append((at + y0 * w * bps, at + y1 * w * bps))
            at += h * w * bps
        touched.sort()
        merged: list[list[int]] = []
        for a, b in touched:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        if sum(b - a for a, b in merged) > size * 0.8:
            return None
        segments, holds, pos = [], [], 0
        try:
            for idx, (a, b) in enumerate(merged):
                if a > pos:
                    kind = "head" if idx == 0 else "hold"
                    if kind == "hold":
                        pipe = cls._hold_pipe(a - pos) if len(holds) < cls.MAX_HOLDS else None
                        if pipe is None:
                            kind = "read"
                        else:
                            holds.append(pipe)
                    segments.append((kind, pos, a - pos, len(holds) - 1))
                segments.append(("read", a, b - a, -1))
                pos = b
            if pos < size:
                segments.append(("tail", pos, size - pos, -1))
        except BaseException:
            for r, w in holds:
                os.close(r)
                os.close(w)
            raise
        return cls(segments, holds)

    @staticmethod
    def _hold_pipe(length: int):
        """A pipe that can hold ``length`` bytes without blocking its writer, else None."""
        r, w = os.pipe()
        cap = 1 << 16
        try:
            import fcntl

            with contextlib.suppress(OSError):
                fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
            cap = fcntl.fcntl(w, getattr(fcntl, "F_GETPIPE_SZ", 1032))
        except (ImportError, OSError):
            pass
        # a spliced range may start and end inside a page: count its pages, plus a margin
        if -(-length // 4096) + 4 > cap // 4096:
            os.close(r)
            os.close(w)
            return None
        return r, w

    def take(self, rfd: int, wfd: int, buf: memoryview) -> bool:
        """Everything of the next frame up to its tail: the head to the encoder, gaps held, the
        touched rows into ``buf``. False at the end of input."""
        for kind, off, length, j in self.segments:
            if kind == "head":
                ok = _splice_exact(rfd, wfd, length)
            elif kind == "read":
                ok = _read_exact(rfd, buf[off:off + length])
            elif kind == "hold":
                ok = _splice_exact(rfd, self.holds[j][1], length)
            else:
                return True
            if not ok:
                self.drain()
                return False
        return True

    def give(self, rfd: int, wfd: int, buf: memoryview, writer: _PipeWriter) -> bool:
        """The protected frame after its head: touched rows from ``buf``, held gaps, then the
        tail straight from the decoder. False when the input ends inside the tail."""
        for kind, off, length, j in self.segments:
            if kind == "read":
                writer.write(buf[off:off + length])
            elif kind == "hold":
                _splice_exact(self.holds[j][0], wfd, length)
            elif kind == "tail":
                return _splice_exact(rfd, wfd, length)
        return True

    def drain(self) -> None:
        """Drop what a frame cut short left in the holding pipes."""
        import select

        for r, _w in self.holds:
            while select.select([r], [], [], 0)[0]:
                if not os.read(r, 1 << 16):
                    break

    def close(self) -> None:
        for r, w in self.holds:
            for fd in (r, w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.holds = []


class _PipeWriter:
    """Whole buffers into a pipe: vmsplice(2) on Linux (the pipe then references the buffer's
    pages, no copy and no page allocation in the kernel), else write(2).

    With vmsplice a buffer must not change until the reader has taken it: at most
    :attr:`capacity` bytes are still in the pipe when :meth:`write` returns.
    """

    _vmsplice = None

    def __init__(self, fd: int):
        self.fd = fd
        self.capacity = 1 << 16
        with contextlib.suppress(ImportError, OSError):
            import fcntl

            self.capacity = fcntl.fcntl(fd, getattr(fcntl, "F_GETPIPE_SZ", 1032))
        self.zero_copy = sys.platform.startswith("linux") and self._load() is not None

    @classmethod
    def _load(cls):
        if cls._vmsplice is None:
            try:
                import ctypes

                class IoVec(ctypes.Structure):
                    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

                libc = ctypes.CDLL(None, use_errno=True)
                fn = libc.vmsplice
                fn.argtypes = [ctypes.c_int, ctypes.POINTER(IoVec), ctypes.c_size_t,
                               ctypes.c_uint]
                fn.restype = ctypes.c_ssize_t
                cls._vmsplice = (ctypes, IoVec, fn)
            except (ImportError, OSError, AttributeError):
                cls._vmsplice = False
        return cls._vmsplice or None

    def write(self, buf: memoryview) -> None:
        size = len(buf)
        at = 0
        if self.zero_copy:
            ctypes, IoVec, fn = self._vmsplice
            base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
            iov = IoVec()
            while at < size:
                iov.base, iov.len = base + at, size - at
                n = fn(self.fd, ctypes.byref(iov), 1, 0)
                if n < 0:
                    err = ctypes.get_errno()
                    if err == errno.EINTR:
                        continue
                    if err in (errno.EINVAL, errno.ENOSYS) and at == 0:
                        self.zero_copy = False  # not a pipe after all: plain writes
                        break
                    raise OSError(err, os.strerror(err))
                at += n
            if at == size:
                return
        while at < size:
            at += os.write(self.fd, buf[at:])


def _grow_pipe(f) -> None:
    """A 1 MiB pipe buffer (Linux; 64 KiB by default): a raw frame crosses in a few system calls."""
    try:
        import fcntl

        fcntl.fcntl(f.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError, ValueError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default works, only slower


class _NoBar:
    """The progress bar when there is none (tqdm's import alone costs ~25 ms of start-up)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total, progress: bool, desc: str):
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total or None, disable=not progress, unit="frame", desc=desc, leave=False,
                file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def _bind_output(pipeline: Pipeline, dst: Path) -> None:
    """Output hooks of protectors that store side data with the video (rescale's restore data),
    as in the PyAV host: ``bind_output(final_path)`` before the run; ``finalize_output(tmp_path)``
    once the video is complete in its temporary file, before that is renamed (a failure there
    leaves no output)."""
    for p in pipeline.protectors:
        if hasattr(p, "bind_output"):
            p.bind_output(dst)


def _finalize_output(pipeline: Pipeline, tmp: str) -> None:
    for p in pipeline.protectors:
        if hasattr(p, "finalize_output"):
            p.finalize_output(tmp)


def run(src, dst, spec, *, codec: str = "libx264", crf=23, preset: str = "veryfast",
        keep_metadata: bool = False, on_error: str = "protect", progress: bool = True,
        input_kwargs: dict | None = None, max_frames: int | None = None,
        open_timeout: float = 10.0, read_timeout: float = 10.0, threads: int | None = None,
        on_frame=None, **output_kwargs) -> dict:
    """Protect ``src`` with the filter ``spec`` and write ``dst``, through two ffmpeg processes.

    Parameters
    ----------
    src : path or URL
        Anything ffmpeg reads: a video file, an image, a numbered image pattern
        (``frames/img%03d.png``), or a live ``udp://``, ``tcp://``, ``rtsp://``... URL (opened
        once, with low-delay flags and a small probe; bound it with ``max_frames`` or
        ``input_kwargs={"t": seconds}``).
    dst : path
        The output file. It appears only when complete: on any error, a crash or Ctrl-C
        (and SIGTERM) nothing is left there.
    spec : str or Pipeline
        The filter spec, e.g. ``"blur=box=10/10/200/120"``. Protectors may change the frame
        size when they declare it (``rescale=size=small``: the output has the first protected
        frame's size); ``rescale=...:restore=exact`` without ``data=`` stores its restore data
        inside an ``.mkv`` output, else beside it as ``OUTPUT.vpfr``.
    codec, crf, preset :
        Video encoder and its quality settings (``crf``/``preset`` are passed to x264/x265,
        ``crf`` also to vp9/aom/svt-av1; ``None`` leaves them out). For an image output
        (``.png``...) the image codec is ffmpeg's default.
    keep_metadata : bool
        Keep container tags, chapters, subtitle and data streams (stripped by default).
    on_error : {"protect", "stop"}
        Fail closed by hiding the whole frame (default), or stop with
        :class:`~vpfilters.errors.ProtectionError`.
    progress : bool
        A progress bar on stderr, and the summary line ``vpf: N frames, X.X FPS -> OUTPUT``.
    input_kwargs : dict, optional
        Extra ffmpeg input options (``{"t": 5}``, ``{"framerate": 30}`` for image patterns,
        ``{"rtsp_flags": "listen"}`` to take an RTSP push...), merged last over the host's own.
    max_frames : int, optional
        Stop after this many frames.
    open_timeout, read_timeout : float
        Live inputs: seconds to wait for the first data and between data.
    threads : int, optional
        Threads of the ffmpeg decoder and of the encoder (``-threads`` on the input and on the
        output); default ffmpeg's choice for each.
    on_frame : callable, optional
        ``on_frame(index, seconds, frame)``, called for every frame once it is protected and
        handed to the encoder, in output order: its number (from 0), its presentation time in
        seconds (the pts it travels with; ``index / rate`` on raw pipes) and the protected
        :class:`~vpfilters.core.Frame` (planes and ``props`` such as ``VPFBoxes``; read them
        during the call only: they are views into a pipe buffer that is reused; on spliced raw
        pipes only the rows the protectors declared hold pixels). For progress, latency or
        per-frame metadata without a custom protector; an exception raised there stops the run
        (no output is written).
    **output_kwargs :
        Extra ffmpeg output options (``pix_fmt="yuv420p"``, ``acodec="aac"``, ``movflags=...``).

    Returns
    -------
    dict
        ``frames``, ``fps`` (processing speed), ``seconds``, ``output``, ``failed_frames`` (frames
        hidden whole by the fail-closed rule), ``truncated`` (the input ended early: what decoded
        was processed and a warning was logged), ``expected_frames``, ``format``, ``rotation``,
        ``pipes`` ("raw": bare raw frames, or "nut"), ``spliced`` (raw pipes where the rows no
        protector touches were passed from decoder to encoder with splice(2)).
    """
    src = os.fspath(src) if isinstance(src, os.PathLike) else str(src)
    if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
        raise ParameterError(f"max_frames must be a positive integer, got {max_frames!r}",
                             parameter="max_frames")
    if on_frame is not None and not callable(on_frame):
        raise ParameterError(f"on_frame must be callable, got {type(on_frame).__name__}",
                             parameter="on_frame")
    for name, value in (("open_timeout", open_timeout), ("read_timeout", read_timeout)):
        try:
            ok = math.isfinite(float(value)) and float(value) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ParameterError(f"{name} must be a number of seconds > 0, got {value!r}",
                                 parameter=name)
    pipeline = _as_pipeline(spec, on_error)
    out = _io.check_output(dst, src)
    if "%" in out.name:
        raise OutputError("image-sequence outputs are not supported by the ffmpeg host; write a "
                          "video or one image", file=out, parameter="output")
    source = _probe_source(src, input_kwargs)
    job = _Run(src, out, pipeline, source, codec=codec, crf=crf, preset=preset,
               keep_metadata=keep_metadata, progress=progress, input_kwargs=input_kwargs,
               output_kwargs=output_kwargs, max_frames=max_frames, open_timeout=open_timeout,
               read_timeout=read_timeout, threads=threads, on_frame=on_frame)
    failed = True
    _bind_output(pipeline, out)
    try:
        with _io.atomic_output(out) as tmp:
            try:
                summary = job.run(tmp)
                failed = False
            finally:
                job.close(failed)
            # the encoder has exited: the video in `tmp` is complete, not yet renamed
            _finalize_output(pipeline, tmp)
    finally:
        pipeline.close()
    if progress:
        print(f"vpf: {summary['frames']} frames, {summary['fps']:.1f} FPS -> {summary['output']}",
              file=sys.stderr)
    return summary
