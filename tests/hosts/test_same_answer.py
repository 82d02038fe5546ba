"""One spec, every host, the same frames: VapourSynth, PyAV, ffmpeg-python and the CLI, bit for bit.

Each host protects the same short real clip and writes lossless FFV1; the decoded frames must equal
the Python pipeline run on the decoded input frames. Hosts not written yet are skipped.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from vpfilters.core import Frame, FrameContext, build  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VPF_SHARED_DATA", REPO.parent / "shared" / "data"))
FRAMES = 24
SPEC = ("fill=box=40/30/200/150:color=white,blur=box=300/60/520/300:feather=4,"
        "pixelate=box=100/200/380/400")
# Two real clips: BT.601 limited range (768x432) and full-range yuvj420p with no matrix (640x480),
# so the hosts must also agree on what white is.
SOURCES = {
    "limited": ("intel_sample_videos/one-by-one-person-detection.mp4",
                ["-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "smpte170m",
                 "-color_primaries", "smpte170m", "-color_trc", "smpte170m"]),
    "full": ("intel_sample_videos/asl_gestures/walk.mkv",
             ["-pix_fmt", "yuvj420p", "-color_range", "pc"]),
}

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI")


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture(scope="module", params=list(SOURCES))
def clip(request, tmp_path_factory) -> Path:
    """The first FRAMES frames of a shared video, re-encoded to H.264 with B-frames, tags kept."""
    rel, tags = SOURCES[request.param]
    src = SHARED / rel
    if not src.is_file():
        pytest.skip(f"shared video {src} not found (set VPF_SHARED_DATA)")
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg CLI")
    out = tmp_path_factory.mktemp(f"same_{request.param}") / f"{request.param}.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-frames:v", str(FRAMES),
                    "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-bf", "2",
                    *tags, str(out)], check=True)
    return out


def plane_arrays(frame) -> list[np.ndarray]:
    """The planes of a decoded PyAV frame (8-bit planar YUV), row padding cut off."""
    out = []
    for p in frame.planes:
        a = np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width]
        out.append(a.copy())
    return out


def decode(path) -> list[list[np.ndarray]]:
    with av.open(str(path)) as c:
        return [plane_arrays(f) for f in c.decode(video=0)]


def expected(path) -> list[list[np.ndarray]]:
    """The Python pipeline on the decoded input, colour properties taken from the stream."""
    pipeline = build(SPEC)
    out = []
    with av.open(str(path)) as c:
        for n, f in enumerate(c.decode(video=0)):
            full = f.color_range == 2 or f.format.name.startswith("yuvj")  # AVCOL_RANGE_JPEG
            props = {"_ColorRange": 0 if full else 1}
            if f.colorspace not in (None, 2):  # 2: unspecified
                props["_Matrix"] = int(f.colorspace)
            frame = Frame(plane_arrays(f), "yuv420p", n, props)
            out.append(pipeline.process(frame, FrameContext(n)).planes)
    return out


@pytest.fixture(scope="module")
def want(clip):
    frames = expected(clip)
    assert len(frames) == FRAMES
    src = decode(clip)
    assert any(not np.array_equal(a, b) for fa, fb in zip(frames, src) for a, b in zip(fa, fb))
    return frames


def assert_same_frames(got, want, host: str):
    assert len(got) == len(want), f"{host}: {len(got)} frames, expected {len(want)}"
    for n, (g, w) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(g, w, strict=True)):
            assert a.shape == b.shape, f"{host} frame {n} plane {i}: shape {a.shape} != {b.shape}"
            bad = int(np.count_nonzero(a != b))
            assert bad == 0, f"{host} frame {n} plane {i}: {bad} of {a.size} samples differ"


def _codec_kwargs(func, codec: str = "ffv1") -> dict:
    """How a host function takes its video codec: ``codec=`` or ffmpeg-python's ``vcodec=``."""
    params = inspect.signature(func).parameters
    if "codec" in params:
        return {"codec": codec}
    if "vcodec" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return {"vcodec": codec}
    pytest.fail(f"{func.__module__}.{func.__name__} takes no codec argument: {list(params)}")


# ------------------------------------------------------------------------------------ hosts


@needs_ffmpeg
def test_vapoursynth_vspipe(clip, want, tmp_path):
    vs = pytest.importorskip("vapoursynth")
    if not hasattr(vs.core, "bs"):
        pytest.skip("vapoursynth-bestsource is not installed")
    vspipe = shutil.which("vspipe", path=str(Path(sys.executable).parent)) or shutil.which("vspipe")
    if vspipe is None:
        pytest.skip("vspipe not found")
    local = tmp_path / clip.name
    shutil.copyfile(clip, local)  # bestsource indexes its input
    out = tmp_path / "vs.mkv"
    pipe = subprocess.Popen([vspipe, "-c", "y4m", "-a", f"src={local}", "-a", f"spec={SPEC}",
                             "-a", f"cache={tmp_path / 'bscache'}", str(REPO / "examples" /
                             "protect.vpy"), "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    enc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "yuv4mpegpipe",
                          "-i", "-", "-c:v", "ffv1", str(out)], stdin=pipe.stdout,
                         capture_output=True)
    pipe.stdout.close()
    err = pipe.stderr.read().decode(errors="replace")
    assert pipe.wait() == 0, f"vspipe failed (run `vapoursynth config` in this venv?):\n{err}"
    assert enc.returncode == 0, enc.stderr.decode(errors="replace")
    assert_same_frames(decode(out), want, "vapoursynth (vspipe | ffmpeg ffv1)")


def test_vapoursynth_python_api(clip, want, tmp_path):
    vs = pytest.importorskip("vapoursynth")
    if not hasattr(vs.core, "bs"):
        pytest.skip("vapoursynth-bestsource is not installed")
    from vpfilters.vapoursynth import protect

    local = tmp_path / clip.name
    shutil.copyfile(clip, local)
    src = vs.core.bs.VideoSource(source=str(local), cachepath=str(tmp_path / "bscache"))
    out = protect(src, SPEC)
    got = [[np.array(f[i], copy=True) for i in range(3)] for f in out.frames()]
    assert_same_frames(got, want, "vapoursynth (Python API)")


def test_pyav_host(clip, want, tmp_path):
    host = pytest.importorskip("vpfilters.av", reason="the PyAV host is not written yet")
    out = tmp_path / "pyav.mkv"
    host.transcode(str(clip), str(out), SPEC, **_codec_kwargs(host.transcode))
    assert_same_frames(decode(out), want, "PyAV host (vpfilters.av.transcode)")


@needs_ffmpeg
def test_ffmpeg_python_host(clip, want, tmp_path):
    host = pytest.importorskip("vpfilters.ffmpeg", reason="the ffmpeg-python host is not written yet")
    out = tmp_path / "ffmpeg.mkv"
    host.run(str(clip), str(out), SPEC, **_codec_kwargs(host.run))
    assert_same_frames(decode(out), want, "ffmpeg-python host (vpfilters.ffmpeg.run)")


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "vpf"
    if script.is_file():
        return [str(script)]
    pytest.importorskip("vpfilters.cli", reason="the CLI is not written yet")
    return [sys.executable, "-m", "vpfilters.cli"]


def test_cli(clip, want, tmp_path):
    cmd = _cli()
    out = tmp_path / "cli.mkv"
    r = subprocess.run([*cmd, "protect", str(clip), str(out), "--filter", SPEC, "--codec", "ffv1",
                        "--quiet"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, f"{' '.join(cmd)} protect failed:\n{r.stdout}\n{r.stderr}"
    assert_same_frames(decode(out), want, "CLI (vpf protect --codec ffv1)")
