"""File plumbing shared by the file hosts: input checks, and outputs that appear only when complete."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from vpfilters.errors import InputError, OutputError

LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://", "srt://", "http://", "https://")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


def is_live(src) -> bool:
    return isinstance(src, str) and src.lower().startswith(LIVE_SCHEMES)


def is_image(path) -> bool:
    return Path(str(path)).suffix.lower() in IMAGE_SUFFIXES


_SEQUENCE = re.compile(r"%0?(\d*)d")


def is_sequence(path) -> bool:
    """True for a printf-style numbered image pattern such as ``frames/img%03d.png``."""
    s = str(path)
    return not is_live(s) and is_image(s) and len(_SEQUENCE.findall(Path(s).name)) == 1


def check_sequence(path) -> list[Path]:
    """The files an image pattern (``img%03d.png``) matches, in order; :class:`InputError` if none."""
    p = Path(str(path))
    if not p.parent.is_dir():
        raise InputError(f"the folder {p.parent} of the image pattern does not exist", file=p)
    m = _SEQUENCE.search(p.name)
    width = int(m.group(1) or 0)
    digits = r"\d{%d,}" % width if width else r"\d+"
    rx = re.compile(re.escape(p.name[:m.start()]) + f"({digits})" + re.escape(p.name[m.end():]) + "$")
    found = sorted((int(mm.group(1)), q) for q in p.parent.iterdir()
                   if (mm := rx.match(q.name)) and q.is_file())
    if not found:
        raise InputError("no file matches the image pattern", file=p)
    return [q for _, q in found]


_TEXT_DEMUXERS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
_TEXT_DECODERS = frozenset({"ansi", "bintext", "xbin", "idf"})


@dataclass
class VideoProbe:
    """What the hosts need to know about an input before processing it."""

    path: str
    width: int
    height: int
    pix_fmt: str
    fps: Fraction | None
    num_frames: int | None       # from the container; may be None or approximate
    duration: float | None       # seconds
    has_audio: bool
    rotation: int                # degrees the picture must be turned clockwise for display
    color_range: str | None      # 'tv' / 'pc'
    color_matrix: str | None     # 'bt709', 'smpte170m', ...
    codec: str
    #: every stream of the container, as :func:`stream_facts` describes it (in container order)
    streams: list = field(default_factory=list)
    start_time: float | None = None  # the container's start (its earliest stream's), seconds
    #: True when the display is also mirrored left-right (after turning by ``rotation``): EXIF
    #: orientations 2, 4, 5, 7 and display matrices with a flip
    mirrored: bool = False


def stream_facts(st) -> dict:
    """A PyAV stream as plain values: ``type``, ``codec``; for video also ``width``, ``height``,
    ``pix_fmt``, ``frames`` (container count, 0 if unknown), the H.273 colour codes ``range``,
    ``matrix``, ``primaries``, ``transfer``, ``base_rate`` / ``average_rate`` (Fractions or None)
    and ``start`` (seconds or None)."""
    d: dict = {"type": st.type, "codec": None}
    cc = None
    with contextlib.suppress(Exception):
        cc = st.codec_context
    with contextlib.suppress(Exception):
        d["codec"] = (cc.name if cc is not None else None) or st.codec.name
    if st.type == "video" and cc is not None:
        d.update(width=cc.width, height=cc.height, pix_fmt=cc.pix_fmt, frames=st.frames or 0)
        for key, attr in (("range", "color_range"), ("matrix", "colorspace"),
                          ("primaries", "color_primaries"), ("transfer", "color_trc")):
            v = None
            with contextlib.suppress(Exception):
                v = int(getattr(cc, attr))
            d[key] = v
        d["base_rate"] = st.base_rate or None
        d["average_rate"] = st.average_rate or None
        d["start"] = (float(st.start_time * st.time_base)
                      if st.start_time is not None and st.time_base is not None else None)
    return d


def check_input(path) -> Path:
    """Reject a missing, unreadable, empty or directory-less path with a clear :class:`InputError`."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", file=p)
    if p.is_dir():
        return p
    if not os.access(p, os.R_OK):
        raise InputError("the file is not readable (permissions)", file=p)
    if p.stat().st_size == 0:
        raise InputError("the file is empty (0 bytes)", file=p)
    return p


def check_output(dst, src=None) -> Path:
    """Reject an output that equals the input or whose directory cannot be written."""
    d = Path(dst)
    if src is not None and not is_live(str(src)):
        try:
            if Path(src).exists() and d.exists() and os.path.samefile(src, d):
                raise OutputError("the output path is the input file; choose another output",
                                  file=d, parameter="output")
        except OSError:
            pass
        if Path(src).resolve() == d.resolve():
            raise OutputError("the output path is the input file; choose another output",
                              file=d, parameter="output")
    parent = d.parent if str(d.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"the output directory {parent} does not exist", file=d,
                          parameter="output")
    if not parent.is_dir():
        # also what stops root, for whom permission bits do not count
        raise OutputError(f"{parent} is not a directory, so nothing can be written under it",
                          file=d, parameter="output")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"the output directory {parent} is not writable", file=d,
                          parameter="output")
    if d.is_dir():
        raise OutputError("the output path is a directory; give a file name", file=d,
                          parameter="output")
    return d


@contextlib.contextmanager
def atomic_output(dst, suffix: str | None = None):
    """Yield a temporary path beside ``dst``; rename it to ``dst`` only if the block succeeds.

    On any exception (including Ctrl-C, and SIGTERM, which is turned into KeyboardInterrupt for the
    duration) the temporary file is removed, so nothing is ever left at the final path.
    """
    d = Path(dst)
    suffix = suffix if suffix is not None else d.suffix
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{d.stem}.", suffix=f".part{suffix}",
                                   dir=d.parent or ".")
    except OSError as exc:
        raise OutputError(f"cannot write beside the output ({exc.strerror or exc})", file=d,
                          parameter="output") from None
    os.close(fd)
    old = None
    try:
        old = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        old = None
    try:
        yield tmp
        with contextlib.suppress(OSError):  # mkstemp makes 0600; give the usual umask bits
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, d)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def signal_to_interrupt():
    """SIGTERM raises KeyboardInterrupt (as in :func:`atomic_output`); returns the old handler."""
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        return None


def restore_signal(old) -> None:
    if old is not None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, old)


def check_output_dir(dst, src=None) -> Path:
    """Check an output *folder* (batches of images): not the input, creatable or writable."""
    d = Path(dst)
    if src is not None and Path(src).exists() and d.exists():
        with contextlib.suppress(OSError):
            if os.path.samefile(src, d):
                raise OutputError("the output folder is the input folder; choose another output",
                                  file=d, parameter="output")
    if d.exists():
        if not d.is_dir():
            raise OutputError("the output path is a file, but the input is a folder of images",
                              file=d, parameter="output")
        if not os.access(d, os.W_OK | os.X_OK):
            raise OutputError("the output folder is not writable", file=d, parameter="output")
        return d
    check_output(d, src)  # the folder will be created: its parent must be writable
    return d


def display_matrix(stream) -> tuple[int, ...] | None:
    """The 3x3 display matrix (9 ints, 16.16 fixed point) of a PyAV stream or frame, if any."""
    import struct

    raw = None
    with contextlib.suppress(Exception):
        cc = getattr(stream, "codec_context", None)
        sd = getattr(cc, "coded_side_data", None) if cc is not None else None
        if sd:
            raw = sd.get("display_matrix")
    if raw is None:
        with contextlib.suppress(Exception):
            import av

            sd = getattr(stream, "side_data", None)  # a decoded av.VideoFrame
            if sd is not None:
                item = sd.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
                raw = bytes(item) if item is not None else None
    if not raw or len(raw) < 36:
        return None
    return struct.unpack("<9i", bytes(raw)[:36])


def matrix_transform(matrix) -> tuple[bool, bool, bool] | None:
    """(transpose, flip rows, flip columns), applied in that order, that turn coded planes into
    display orientation; None for no matrix or the identity.

    The display matrix maps a coded pixel (x, y) to ``x' = a x + c y``, ``y' = b x + d y``.
    """
    if matrix is None:
        return None
    a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
    if abs(b) + abs(c) > abs(a) + abs(d):
        t = (True, b < 0, c < 0)
    else:
        t = (False, d < 0, a < 0)
    return None if t == (False, False, False) else t


# (transpose, flip rows, flip columns) -> (degrees clockwise, then mirrored left-right)
_ORIENTATIONS = {
    (False, False, False): (0, False), (False, False, True): (0, True),
    (False, True, True): (180, False), (False, True, False): (180, True),
    (True, False, True): (90, False), (True, False, False): (90, True),
    (True, True, False): (270, False), (True, True, True): (270, True),
}


def display_orientation(matrix) -> tuple[int, bool]:
    """``(rotation, mirrored)`` of a display matrix: turn the coded picture ``rotation`` degrees
    (0/90/180/270) clockwise, then mirror it left-right if ``mirrored``. Without a flip the
    rotation equals :func:`display_rotation`'s; EXIF orientations 1-8 map to (0, F), (0, T),
    (180, F), (180, T), (90, T), (90, F), (270, T), (270, F)."""
    return _ORIENTATIONS[matrix_transform(matrix) or (False, False, False)]


def display_rotation(matrix) -> int:
    """Degrees (0/90/180/270) the coded picture must be turned *clockwise* for display."""
    import math

    a, b = matrix[0], matrix[1]
    if a == 0 and b == 0:
        return 0
    ccw = -math.degrees(math.atan2(b, a))  # av_display_rotation_get(): counter-clockwise degrees
    return int(round(-ccw / 90.0)) * 90 % 360


def probe(path) -> VideoProbe:
    """Open ``path`` (file or live URL) with PyAV and describe its first video stream.

    Raises :class:`InputError` naming the file for anything that is not a decodable video: random
    bytes, a text file, an audio-only file, a zero-frame video.
    """
    import av

    src = str(path)
    if is_sequence(src):
        check_sequence(src)
    elif not is_live(src):
        check_input(src)
    try:
        with av.open(src, timeout=10 if is_live(src) else None) as c:
            vs = [s for s in c.streams if s.type == "video"]
            if not vs:
                kinds = sorted({s.type for s in c.streams}) or ["no streams"]
                raise InputError(f"no video stream (the file has: {', '.join(kinds)})", file=src)
            s = vs[0]
            cc = s.codec_context
            if c.format.name in _TEXT_DEMUXERS or cc.name in _TEXT_DECODERS:
                # FFmpeg renders .txt/.nfo/.asc files as ANSI art "video"
                raise InputError(f"this is a text file ({c.format.name} / {cc.name}), not a video "
                                 "or image", file=src)
            if not cc.width or not cc.height:
                raise InputError("the video stream has no picture size (not a decodable video)",
                                 file=src)
            fps = s.average_rate or s.guessed_rate or None
            n = s.frames or None
            dur = None
            if s.duration is not None and s.time_base is not None:
                dur = float(s.duration * s.time_base)
            elif c.duration:
                dur = c.duration / 1_000_000
            if n is None and dur and fps:
                n = int(round(dur * float(fps)))
            rot, mirrored = 0, False
            matrix = display_matrix(s)
            if matrix is None and (is_image(src) or c.format.name == "image2"
                                   or c.format.name.endswith("_pipe") or cc.name == "mjpeg"):
                # a still's orientation (EXIF in a JPEG, also each frame of an MJPEG video cut
                # from such photos) comes with its decoded frame
                with contextlib.suppress(Exception):
                    matrix = display_matrix(next(c.decode(s), None))
            if matrix is not None:
                rot, mirrored = display_orientation(matrix)
            if not rot and not mirrored:
                with contextlib.suppress(Exception):
                    rot = int(s.metadata.get("rotate", 0))
            return VideoProbe(
                path=src, width=cc.width, height=cc.height,
                pix_fmt=cc.pix_fmt or "", fps=Fraction(fps) if fps else None, num_frames=n,
                duration=dur, has_audio=any(x.type == "audio" for x in c.streams),
                rotation=rot % 360,
                color_range=str(getattr(cc, "color_range", "") or "") or None,
                color_matrix=str(getattr(cc, "colorspace", "") or "") or None,
                codec=cc.name,
                streams=[stream_facts(x) for x in c.streams],
                start_time=c.start_time / 1_000_000 if c.start_time is not None else None,
                mirrored=mirrored,
            )
    except InputError:
        raise
    except av.error.FFmpegError as exc:
        raise InputError(f"not a readable video or image ({exc.strerror or exc})", file=src) from None
