"""The Protector protocol as hosts drive it: declared formats, and close() once per run.

Toy protectors on a short real clip (cut and scaled by ffmpeg from the shared sample video):
a protector that declares ``formats`` is refused with a typed error naming the format, the
pipeline accepts the intersection of its protectors' formats, the ffmpeg host asks its decoder
for a declared format (a yuv444p-only protector gets yuv444p frames from a yuv420p source) and
the PyAV host refuses with a clear error, and every host closes the protectors exactly once at
the end of a run, also when a frame fails or the stream is refused.
"""

from __future__ import annotations

import gc
import shutil
import subprocess

import numpy as np
import pytest

from vpfilters.core import ALL_FORMATS, FORMATS, Pipeline, Protector, StreamInfo, build
from vpfilters.errors import FormatError, ProtectionError

FFMPEG = shutil.which("ffmpeg")
N_FRAMES = 8


class Toy(Protector):
    """Records what the host gives it; darkens a corner; fails on frame ``fail_on``."""

    name = "toy"

    def __init__(self, fail_on: int | None = None):
        super().__init__()
        self.fail_on = fail_on
        self.opened: list[str] = []
        self.seen: list[tuple[int, str]] = []
        self.closes = 0
        self.luma0 = None

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        self.opened.append(info.format)

    def process(self, frame, ctx):
        self.seen.append((frame.index, frame.format))
        if frame.index == 0:
            self.luma0 = np.array(frame.planes[0])
        if frame.index == self.fail_on:
            raise RuntimeError("toy broke")
        frame.planes[0][:8, :8] = 16
        return frame

    def close(self) -> None:
        self.closes += 1


class Toy444(Toy):
    name = "toy444"
    formats = frozenset({"yuv444p"})


@pytest.fixture(scope="module")
def clip(shared_data, tmp_path_factory):
    """8 frames, 192x108 yuv420p H.264, from the shared person-detection sample."""
    if FFMPEG is None:
        pytest.skip("ffmpeg not found")
    src = shared_data / "intel_sample_videos" / "one-by-one-person-detection.mp4"
    if not src.is_file():
        pytest.skip(f"sample video not found: {src}")
    out = tmp_path_factory.mktemp("protocol") / "src.mp4"
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(src), "-frames:v",
                    str(N_FRAMES), "-vf", "scale=192:108", "-an", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", str(out)], check=True, timeout=60)
    return out


def decoded_luma0(path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        f = next(c.decode(video=0)).reformat(format="yuv420p")
        p = f.planes[0]
        return np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width].copy()


# ------------------------------------------------------------------------------ declared formats


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10", "yuv444p10", "gray", "rgbp"])
def test_protector_refuses_an_undeclared_format_naming_it(fmt):
    t = Toy444()
    with pytest.raises(FormatError) as e:
        t.open(StreamInfo(64, 48, fmt, source="cam.mp4"))
    msg = str(e.value)
    assert fmt in msg and "yuv444p" in msg and "toy444" in msg
    assert e.value.file == "cam.mp4" and isinstance(e.value, ValueError)
    assert t.info is None
    t.open(StreamInfo(64, 48, "yuv444p"))  # its own format opens
    assert t.info.format == "yuv444p"


def test_pipeline_formats_are_the_intersection():
    class A(Toy):
        formats = frozenset({"yuv420p", "yuv444p", "gray"})

    class B(Toy):
        formats = frozenset({"yuv444p", "gray", "rgbp"})

    assert Pipeline([]).formats == ALL_FORMATS
    assert Pipeline([Toy()]).formats == ALL_FORMATS == frozenset(FORMATS)
    assert Pipeline([A(), B()]).formats == {"yuv444p", "gray"}
    assert Pipeline([A(), B(), Toy444()]).formats == {"yuv444p"}
    real = build("blur=box=1/1/20/20,fill=box=30/30/40/40")
    assert real.formats == ALL_FORMATS
    assert Pipeline(real.protectors + [B()]).formats == B.formats
    assert Pipeline([Toy444(), B(), A()]).formats == {"yuv444p"}  # order does not matter
    gray_only = type("GrayOnly", (Toy,), {"formats": frozenset({"gray"})})
    assert Pipeline([Toy444(), gray_only()]).formats == frozenset()


def test_a_refused_open_closes_every_protector_once():
    first, refusing, last = Toy(), Toy444(), Toy()
    pipe = Pipeline([first, refusing, last])
    with pytest.raises(FormatError, match="yuv420p"):
        pipe.open(StreamInfo(64, 48, "yuv420p"))
    assert first.opened == ["yuv420p"] and refusing.opened == [] and last.opened == []
    assert [p.closes for p in (first, refusing, last)] == [1, 1, 1]
    pipe.close()  # the host's own close afterwards: nothing more
    assert [p.closes for p in (first, refusing, last)] == [1, 1, 1]


def test_close_once_per_open_and_all_even_when_one_raises():
    class Sticky(Toy):
        def close(self):
            super().close()
            raise OSError("disk gone")

    a, b, c = Toy(), Sticky(), Toy()
    pipe = Pipeline([a, b, c])
    pipe.open(StreamInfo(64, 48, "yuv420p"))
    with pytest.raises(OSError, match="disk gone"):
        pipe.close()
    assert [p.closes for p in (a, b, c)] == [1, 1, 1]
    pipe.close()
    with pipe:
        pass
    assert [p.closes for p in (a, b, c)] == [1, 1, 1]
    pipe.open(StreamInfo(64, 48, "yuv420p"))  # a second run: one more close
    with pytest.raises(OSError):
        with pipe:
            pass
    assert [p.closes for p in (a, b, c)] == [2, 2, 2]


# ------------------------------------------------------------------------------ hosts' formats


def test_ffmpeg_host_decodes_to_a_declared_format(clip, tmp_path):
    import av

    from vpfilters.hosts import ffmpeg as host

    t = Toy444()
    out = tmp_path / "out.mp4"
    summary = host.run(clip, out, Pipeline([t]), progress=False)
    assert summary["frames"] == N_FRAMES and summary["format"] == "yuv444p"
    assert t.opened == ["yuv444p"] and t.closes == 1
    assert t.seen == [(i, "yuv444p") for i in range(N_FRAMES)]
    # the decoder converted the chroma only: the luma is the source's, sample for sample
    np.testing.assert_array_equal(t.luma0, decoded_luma0(clip))
    with av.open(str(out)) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == N_FRAMES


def test_ffmpeg_host_keeps_the_source_format_when_it_is_declared(clip, tmp_path):
    from vpfilters.hosts import ffmpeg as host

    class Two(Toy):
        formats = frozenset({"yuv444p", "yuv420p"})

    t = Two()
    summary = host.run(clip, tmp_path / "out.mp4", Pipeline([t]), progress=False)
    assert summary["format"] == "yuv420p" and {f for _, f in t.seen} == {"yuv420p"}
    assert t.closes == 1


def test_ffmpeg_host_refuses_a_spec_with_no_common_format(clip, tmp_path):
    from vpfilters.hosts import ffmpeg as host

    a, g = Toy444(), type("GrayOnly", (Toy,), {"formats": frozenset({"gray"})})()
    out = tmp_path / "out.mp4"
    with pytest.raises(FormatError, match="accept no format"):
        host.run(clip, out, Pipeline([a, g]), progress=False)
    assert not out.exists() and a.seen == [] and (a.closes, g.closes) == (1, 1)


def test_pyav_host_refuses_an_undeclared_source_format(clip, tmp_path):
    from vpfilters.hosts import pyav as host

    t = Toy444()
    out = tmp_path / "out.mp4"
    with pytest.raises(FormatError) as e:
        host.transcode(clip, out, Pipeline([t]), progress=False)
    assert "yuv420p" in str(e.value) and "yuv444p" in str(e.value)
    assert not out.exists() and t.seen == [] and t.closes == 1


# ------------------------------------------------------------------------------ close() once


def _pyav(clip, out, pipe):
    from vpfilters.hosts import pyav as host

    return host.transcode(clip, out, pipe, progress=False)


def _ffmpeg(clip, out, pipe):
    from vpfilters.hosts import ffmpeg as host

    return host.run(clip, out, pipe, progress=False)


@pytest.mark.parametrize("run", [_pyav, _ffmpeg], ids=["pyav", "ffmpeg"])
@pytest.mark.parametrize("on_error", ["stop", "protect"])
def test_hosts_close_once_at_the_end_also_when_a_frame_fails(clip, tmp_path, run, on_error):
    t, other = Toy(fail_on=3), Toy()
    out = tmp_path / "out.mp4"
    if on_error == "stop":
        with pytest.raises(ProtectionError) as e:
            run(clip, out, Pipeline([t, other], on_error="stop"))
        assert e.value.frame == 3 and not out.exists()
        assert [i for i, _ in t.seen][-1] == 3
    else:
        summary = run(clip, out, Pipeline([t, other], on_error="protect"))
        assert (summary.get("fail_closed") or summary.get("failed_frames")) == [3]
        assert out.exists() and [i for i, _ in t.seen] == list(range(N_FRAMES))
    assert (t.closes, other.closes) == (1, 1)


@pytest.mark.parametrize("run", [_pyav, _ffmpeg], ids=["pyav", "ffmpeg"])
def test_host_inside_a_with_block_still_closes_once(clip, tmp_path, run):
    t = Toy()
    with Pipeline([t]) as pipe:
        run(clip, tmp_path / "out.mp4", pipe)
        assert t.closes == 1
    assert t.closes == 1 and len(t.seen) == N_FRAMES


@pytest.mark.parametrize("on_error", ["stop", "protect"])
def test_pyav_frame_loops_close_once(clip, on_error):
    import av

    from vpfilters.hosts import pyav as host

    t = Toy(fail_on=3)
    pipe = Pipeline([t], on_error=on_error)
    got = 0
    with av.open(str(clip)) as c:
        try:
            for _ in host.protect_frames(c.decode(video=0), pipe):
                got += 1
        except ProtectionError as e:
            assert on_error == "stop" and e.frame == 3
    assert got == (3 if on_error == "stop" else N_FRAMES) and t.closes == 1
    t2 = Toy(fail_on=3)
    with host.FrameFilter(Pipeline([t2], on_error=on_error)) as ff:
        with av.open(str(clip)) as c:
            for frame in c.decode(video=0):
                try:
                    ff(frame)
                except ProtectionError:
                    assert on_error == "stop"
        ff.close()  # an explicit close inside the with block: still once
    assert t2.closes == 1 and len(t2.seen) == N_FRAMES


def test_vapoursynth_closes_once_when_the_clip_is_released():
    vs = pytest.importorskip("vapoursynth")
    from vpfilters.hosts.vapoursynth import protect

    blank = vs.core.std.BlankClip(width=64, height=48, format=vs.YUV420P8, length=4)
    t = Toy(fail_on=2)
    out = protect(blank, Pipeline([t]))
    frames = [out.get_frame(i) for i in range(4)]
    assert frames[2].props["VPFFailClosed"] == 1 and t.closes == 0
    del out, frames
    gc.collect()
    assert t.closes == 1 and t.opened == ["yuv420p"]
    # refused on open: the protectors opened before the refusing one are closed too
    a, b = Toy(), Toy444()
    with pytest.raises(FormatError, match="yuv420p"):
        protect(blank, Pipeline([a, b]))
    gc.collect()
    assert (a.closes, b.closes) == (1, 1) and a.seen == []
