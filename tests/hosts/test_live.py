"""Live inputs: a clip served by ffmpeg on 127.0.0.1 (tcp, udp), read in bounded time."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("ffmpeg")  # ffmpeg-python
if shutil.which("ffmpeg") is None:
    pytest.skip("needs the ffmpeg command-line tool", allow_module_level=True)

from vpfilters.errors import InputError  # noqa: E402
from vpfilters.ffmpeg import run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VPF_SHARED_DATA") or REPO.parent / "shared" / "data")
VIDEO = SHARED / "intel_sample_videos" / "one-by-one-person-detection.mp4"
SPEC = "fill=box=100/80/300/200:color=white"
LIMIT = 30  # seconds a live test may take, server included

pytestmark = pytest.mark.timeout(LIMIT + 15)


@pytest.fixture(scope="module")
def stream_clip(tmp_path_factory) -> Path:
    """3 s of the shared video, a keyframe every 0.5 s (a receiver joins fast), sine audio."""
    if not VIDEO.is_file():
        pytest.skip(f"shared video {VIDEO} not found (set VPF_SHARED_DATA)")
    out = tmp_path_factory.mktemp("live") / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "20", "-t", "3", "-i",
                    str(VIDEO), "-f", "lavfi", "-t", "3", "-i", "sine=frequency=440",
                    "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "5", "-c:a", "aac", "-shortest", str(out)], check=True, timeout=60)
    return out


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An ffmpeg process serving a clip in real time (-re) as MPEG-TS; always killed and reaped."""

    def __init__(self, clip: Path, url: str, loop: bool = False):
        args = ["ffmpeg", "-nostdin", "-v", "error", "-re"]
        if loop:
            args += ["-stream_loop", "-1"]
        self.proc = subprocess.Popen(args + ["-i", str(clip), "-c", "copy", "-f", "mpegts", url],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def filled(path: Path) -> tuple[int, bool]:
    """(frames, whether every frame has the white box) of an output."""
    with av.open(str(path)) as c:
        ys = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    return len(ys), all(float(np.mean(y[85:195, 105:295])) > 225 for y in ys)


def kinds(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return sorted(s.type for s in c.streams)


def test_tcp_stream(stream_clip, tmp_path):
    port = free_port()
    dst = tmp_path / "tcp.mp4"
    t0 = time.monotonic()
    # the server listens; run() retries while the connection is refused (it may start later)
    with Server(stream_clip, f"tcp://127.0.0.1:{port}?listen=1"):
        summary = run(f"tcp://127.0.0.1:{port}", dst, SPEC, open_timeout=10, read_timeout=5,
                      progress=False)
    assert time.monotonic() - t0 < LIMIT
    n, ok = filled(dst)
    # -fflags nobuffer skips what the probe read (~0.5 s) to start at the live edge
    assert n == summary["frames"] and 10 <= n <= 30 and ok
    assert kinds(dst) == ["audio", "video"]
    assert summary["truncated"] is False


def test_tcp_stream_keeping_the_probed_frames(stream_clip, tmp_path):
    port = free_port()
    dst = tmp_path / "tcp_all.mp4"
    with Server(stream_clip, f"tcp://127.0.0.1:{port}?listen=1"):
        summary = run(f"tcp://127.0.0.1:{port}", dst, SPEC, input_kwargs={"fflags": "-nobuffer"},
                      read_timeout=5, progress=False)
    assert summary["frames"] == 30


def test_udp_stream_joined_mid_way_and_bounded(stream_clip, tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    dst = tmp_path / "udp.mp4"
    t0 = time.monotonic()
    with Server(stream_clip, f"udp://127.0.0.1:{port}?pkt_size=1316", loop=True):
        time.sleep(0.5)  # the sender is already streaming when we join
        summary = run(f"udp://127.0.0.1:{port}", dst, SPEC, max_frames=15, read_timeout=5,
                      progress=False)
    assert time.monotonic() - t0 < LIMIT
    n, ok = filled(dst)
    assert n == summary["frames"] == 15 and ok


def test_silent_stream_times_out(tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    dst = tmp_path / "none.mp4"
    t0 = time.monotonic()
    with pytest.raises(InputError, match="no data"):
        run(f"udp://127.0.0.1:{port}", dst, SPEC, open_timeout=1.5, read_timeout=1,
            progress=False)
    assert time.monotonic() - t0 < 10
    assert not dst.exists()


def test_tcp_stream_through_the_pyav_host(stream_clip, tmp_path):
    pyav = pytest.importorskip("vpfilters.hosts.pyav", reason="the PyAV host is not written yet")
    if not hasattr(pyav, "transcode"):
        pytest.skip("vpfilters.hosts.pyav.transcode does not exist yet")
    port = free_port()
    dst = tmp_path / "pyav.mp4"
    t0 = time.monotonic()
    with Server(stream_clip, f"tcp://127.0.0.1:{port}?listen=1"):
        kw = {"progress": False}
        try:
            import inspect

            params = inspect.signature(pyav.transcode).parameters
            kw.update({k: v for k, v in (("open_timeout", 10), ("read_timeout", 5))
                       if k in params})
        except (TypeError, ValueError):
            pass
        pyav.transcode(f"tcp://127.0.0.1:{port}", str(dst), SPEC, **kw)
    assert time.monotonic() - t0 < LIMIT
    n, ok = filled(dst)
    assert n >= 10 and ok
