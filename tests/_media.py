"""Short, awkward test clips cut from the shared data with ffmpeg, made once per test session.

Import the fixtures into a test module (``from _media import clips, shared_data_dir``) after
putting ``tests/`` on ``sys.path``; every module then shares the same files on disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
FFMPEG = shutil.which("ffmpeg")


def shared_data_root() -> Path | None:
    root = os.environ.get("VPF_SHARED_DATA") or str(TESTS.parent.parent / "shared" / "data")
    return Path(root) if os.path.isdir(root) else None


def _ff(*args) -> None:
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", *map(str, args)], check=True,
                   timeout=120)


def _mkv_header_only(src: Path, dst: Path) -> None:
    """A Matroska file whose tracks are declared but that holds no frame (no cluster)."""
    data = src.read_bytes()
    cluster = bytes.fromhex("1F43B675")
    cut = data.find(cluster)  # the first Cluster: keep the header, add one empty cluster
    dst.write_bytes(data[:cut] + cluster + b"\x80")


class Clips:
    """``clips["name"]`` makes (once) and returns the path of a named test clip."""

    def __init__(self, root: Path, data: Path):
        self.root, self.data = root, data
        self.src = data / "intel_sample_videos" / "one-by-one-person-detection.mp4"  # 768x432
        self.walk = data / "intel_sample_videos" / "asl_gestures" / "walk.mkv"  # yuvj420p

    def __getitem__(self, name: str) -> Path:
        make = getattr(self, f"_make_{name}")
        out = self.root / make.__doc__.split(":")[0].strip()
        if not out.exists():
            tmp = out.with_name(".tmp." + out.name)
            make(tmp)
            tmp.rename(out)
        return out

    # each docstring starts with the file name the clip gets
    def _make_base(self, out):
        """base.mp4: 2 s, 20 frames 768x432 yuv420p BT.601 limited, H.264 + a 440 Hz AAC sine"""
        _ff("-i", self.src, "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-t", 2,
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
            "-c:a", "aac", "-shortest", "-f", "mp4", out)

    def _make_long(self, out):
        """long.mp4: 60 s of the source (600 frames), for interrupting a run"""
        _ff("-i", self.src, "-t", 60, "-an", "-c", "copy", "-f", "mp4", out)

    def _make_hd601(self, out):
        """hd601.mp4: 1280x720 tagged BT.601 (smpte170m) limited, 3 frames"""
        _ff("-i", self.src, "-frames:v", 3, "-vf", "scale=1280:720", "-c:v", "libx264",
            "-preset", "ultrafast", "-color_primaries", "smpte170m", "-color_trc", "smpte170m",
            "-colorspace", "smpte170m", "-color_range", "tv", "-f", "mp4", out)

    def _make_sd709(self, out):
        """sd709.mp4: 768x432 tagged BT.709 (the matrix comes from the tags, not the size)"""
        _ff("-i", self.src, "-frames:v", 3, "-c:v", "libx264", "-preset", "ultrafast",
            "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
            "-color_range", "tv", "-f", "mp4", out)

    def _make_odd(self, out):
        """odd.mkv: 321x181 yuv420p (odd size) in FFV1, 5 frames"""
        _ff("-i", self.src, "-frames:v", 5, "-vf", "scale=321:181", "-pix_fmt", "yuv420p",
            "-c:v", "ffv1", "-f", "matroska", out)

    def _make_yuvj(self, out):
        """yuvj.mkv: 640x480 full-range yuvj420p H.264 (the shared walk clip), 10 frames"""
        _ff("-i", self.walk, "-frames:v", 10, "-an", "-c", "copy", "-f", "matroska", out)

    def _make_gray(self, out):
        """gray.mkv: 768x432 8-bit greyscale (FFV1), 5 frames"""
        _ff("-i", self.src, "-frames:v", 5, "-pix_fmt", "gray", "-c:v", "ffv1", "-f", "matroska",
            out)

    def _make_hevc10(self, out):
        """hevc10.mkv: 10-bit yuv420p10le HEVC (libx265), 5 frames"""
        _ff("-i", self.src, "-frames:v", 5, "-pix_fmt", "yuv420p10le", "-c:v", "libx265",
            "-preset", "ultrafast", "-x265-params", "log-level=error", "-f", "matroska", out)

    def _make_mjpeg(self, out):
        """mjpeg.avi: Motion JPEG, full range, 5 frames"""
        _ff("-i", self.src, "-frames:v", 5, "-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", 3,
            "-f", "avi", out)

    def _make_vfr(self, out):
        """vfr.mkv: variable frame rate, 12 frames at irregular times"""
        _ff("-i", self.src, "-frames:v", 12, "-vf",
            "setpts='if(lt(N,6),N*0.1,0.6+(N-6)*0.35)/TB'", "-fps_mode", "vfr", "-c:v",
            "libx264", "-preset", "ultrafast", "-f", "matroska", out)

    def _make_truncated(self, out):
        """truncated.mp4: base.mp4 with its index first (faststart), cut at 60 % of its size"""
        full = self.root / "faststart.mp4"
        _ff("-i", self["base"], "-c", "copy", "-movflags", "+faststart", "-f", "mp4", full)
        data = full.read_bytes()
        out.write_bytes(data[:int(len(data) * 0.6)])

    def _make_rotated(self, out):
        """rotated.mp4: base.mp4 with a display matrix (rotate=90 tag, ffmpeg 5.1 semantics)"""
        _ff("-i", self["base"], "-c", "copy", "-metadata:s:v:0", "rotate=90", "-f", "mp4", out)

    def _make_tagged(self, out):
        """tagged.mov: base.mov with GPS/camera/date tags, a timecode data stream, subtitles"""
        srt = self.root / "sub.srt"
        srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nAlice Example, 12 Main St\n")
        _ff("-i", self["base"], "-i", srt, "-map", 0, "-map", 1, "-c:v", "copy", "-c:a", "copy",
            "-c:s", "mov_text", "-timecode", "01:00:00:00",
            "-movflags", "use_metadata_tags",
            "-metadata", "location=+48.8577+002.2950/",
            "-metadata", "com.apple.quicktime.location.ISO6709=+48.8577+002.2950+035.000/",
            "-metadata", "com.apple.quicktime.make=Apple",
            "-metadata", "com.apple.quicktime.model=iPhone 12",
            "-metadata", "creation_time=2024-05-01T10:00:00Z",
            "-metadata", "title=Holiday at home",
            "-metadata:s:v:0", "location-eng=+48.8577+002.2950/",
            "-metadata:s:v:0", "serial_number=C39XK1234",
            "-f", "mov", out)

    def _make_alaw(self, out):
        """alaw.mov: base video with A-law PCM audio (which MP4 cannot hold)"""
        _ff("-i", self["base"], "-map", 0, "-c:v", "copy", "-c:a", "pcm_alaw", "-ar", 8000,
            "-f", "mov", out)

    def _make_audio(self, out):
        """audio.m4a: audio only (a sine)"""
        _ff("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", "-f", "mp4", out)

    def _make_zero(self, out):
        """zero.mkv: a video track and not a single frame"""
        tmp = self.root / "zero_src.mkv"
        _ff("-i", self["base"], "-map", "0:v", "-c", "copy", "-f", "matroska", tmp)
        _mkv_header_only(tmp, out)

    def _make_gif(self, out):
        """classroom.gif: palette GIF from the shared data, 10 frames"""
        _ff("-i", self.data / "intel_sample_videos" / "preview" / "classroom.gif", "-frames:v",
            10, "-f", "gif", out)

    def _make_images(self, out):
        """images: a folder of 3 images (2 Kodak PNGs, 1 ORL PGM) and a stray text file"""
        out.mkdir()
        for name in ("kodim01.png", "kodim02.png"):
            shutil.copy(self.data / "kodak24" / name, out / name)
        shutil.copy(self.data / "orl_faces" / "s1" / "1.pgm", out / "face.pgm")
        (out / "notes.txt").write_text("not an image\n")

    def _make_jpg(self, out):
        """photo.jpg: a VOC photo (JPEG, full range)"""
        src = sorted((self.data / "dlib_faces_voc").glob("*.jpg"))[0]
        shutil.copy(src, out)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    root = shared_data_root()
    if root is None:
        pytest.skip("shared data not found (set VPF_SHARED_DATA)")
    return root


_CLIPS: dict[str, Clips] = {}


@pytest.fixture(scope="session")
def clips(shared_data_dir, tmp_path_factory) -> Clips:
    if FFMPEG is None:
        pytest.skip("ffmpeg is not on PATH")
    base = tmp_path_factory.getbasetemp() / "vpf_clips"
    key = str(base)
    if key not in _CLIPS:
        base.mkdir(exist_ok=True)
        _CLIPS[key] = Clips(base, shared_data_dir)
    return _CLIPS[key]


def decode(path, n: int | None = None) -> list:
    """The first ``n`` (all when None) decoded PyAV video frames of ``path``."""
    import av

    with av.open(str(path)) as c:
        frames = []
        for f in c.decode(video=0):
            frames.append(f)
            if n is not None and len(frames) >= n:
                break
        return frames


def exif_jpeg(shared_data_dir, path, orientation: int, gps: bool = False,
              image: str = "kodim01.png") -> Path:
    """A real Kodak photo (768x512) saved as a JPEG whose EXIF says ``orientation`` (and, with
    ``gps``, GPS and camera make/model tags)."""
    from PIL import Image

    im = Image.open(shared_data_dir / "kodak24" / image).convert("RGB")
    ex = Image.Exif()
    ex[0x0112] = orientation
    if gps:
        ex[0x010F], ex[0x0110] = "TestCamMake", "ModelX1"  # Make, Model
        g = ex.get_ifd(0x8825)  # the GPS IFD
        g[1], g[2], g[3], g[4] = "N", (48.0, 51.0, 29.5), "E", (2.0, 17.0, 40.2)
    im.save(path, exif=ex, quality=92)
    return Path(path)
