"""The ffmpeg-python host on real clips: pixels, audio, depth, range, timing, metadata, failures."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("ffmpeg")  # ffmpeg-python
if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
    pytest.skip("needs the ffmpeg and ffprobe command-line tools", allow_module_level=True)

from vpfilters.core import Frame, FrameContext, Protector, build, register  # noqa: E402
from vpfilters.errors import (InputError, OutputError, ProtectionError, SpecError,  # noqa: E402
                              VpfError)
from vpfilters.ffmpeg import (RAW_FORMATS, decoder_command, encoder_command,  # noqa: E402
                              nearest_raw_format, run)
from vpfilters.hosts.ffmpeg import _geometry, _views  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VPF_SHARED_DATA") or REPO.parent / "shared" / "data")
VIDEO = SHARED / "intel_sample_videos" / "one-by-one-person-detection.mp4"
SPEC = "fill=box=100/80/300/200:color=white"
W, H, N = 768, 432, 30  # the cut: 3 s at 10 fps


def ff(*args):
    """Run the ffmpeg CLI (test fixtures only)."""
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    *map(str, args)], check=True, timeout=120)


def ffprobe(path, *entries) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *entries, str(path)],
                         check=True, capture_output=True, timeout=60).stdout
    return json.loads(out)


def streams(path) -> list[dict]:
    return ffprobe(path, "-show_streams")["streams"]


def video_pts(path) -> list[float]:
    """Presentation times of the video frames, from ffprobe, relative to the first."""
    pk = ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=pts_time")["packets"]
    t = sorted(float(p["pts_time"]) for p in pk)
    return [x - t[0] for x in t]


def planes_of(f) -> list[np.ndarray]:
    """The planes of a decoded PyAV frame as arrays (row padding cut off, 8 or 16 bit)."""
    dtype = np.uint8 if f.format.components[0].bits <= 8 else np.dtype("<u2")
    out = []
    for p in f.planes:
        a = np.frombuffer(p, np.uint8).reshape(p.height, p.line_size).view(dtype)[:, :p.width]
        out.append(a.copy())
    return out


def decode(path) -> list[list[np.ndarray]]:
    with av.open(str(path)) as c:
        return [planes_of(f) for f in c.decode(video=0)]


def expected(path, spec=SPEC, core="yuv420p") -> list[list[np.ndarray]]:
    """The pipeline applied to the frames PyAV decodes, colour properties from the stream."""
    pipeline = build(spec)
    out = []
    with av.open(str(path)) as c:
        for n, f in enumerate(c.decode(video=0)):
            full = f.color_range == 2 or f.format.name.startswith("yuvj")
            props = {"_ColorRange": 0 if full else 1}
            if f.colorspace not in (None, 2):
                props["_Matrix"] = int(f.colorspace)
            frame = Frame(planes_of(f), core, n, props)
            out.append(pipeline.process(frame, FrameContext(n)).planes)
    return out


def assert_same(got, want):
    assert len(got) == len(want), f"{len(got)} frames, expected {len(want)}"
    for n, (g, w) in enumerate(zip(got, want, strict=True)):
        for i, (a, b) in enumerate(zip(g, w, strict=True)):
            assert a.shape == b.shape, f"frame {n} plane {i}: {a.shape} != {b.shape}"
            assert np.array_equal(a, b), f"frame {n} plane {i}: {np.count_nonzero(a != b)} differ"


def no_children():
    """True when this process has no child left, running or zombie (everything was reaped)."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def nothing_at(dst: Path) -> bool:
    return not dst.exists() and not list(dst.parent.glob(f".{dst.stem}.*.part*"))


# ------------------------------------------------------------------------------------ clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    if not VIDEO.is_file():
        pytest.skip(f"shared video {VIDEO} not found (set VPF_SHARED_DATA)")
    return tmp_path_factory.mktemp("ffmpeg_host")


@pytest.fixture(scope="module")
def clip(clips) -> Path:
    """3 s of the shared video (768x432, 10 fps, BT.601 limited) with a 440 Hz sine track."""
    out = clips / "clip.mp4"
    ff("-ss", 20, "-t", 3, "-i", VIDEO, "-f", "lavfi", "-t", 3, "-i",
       "sine=frequency=440:sample_rate=48000", "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
       "-preset", "veryfast", "-crf", 18, "-bf", 2, "-c:a", "aac", "-shortest", out)
    return out


# ------------------------------------------------------------------------------------ pixels


def test_fill_gives_the_pipeline_pixels_exactly(clip, tmp_path, capsys):
    dst = tmp_path / "out.mkv"
    summary = run(clip, dst, SPEC, codec="ffv1")
    assert summary["frames"] == N and summary["output"] == str(dst)
    assert summary["failed_frames"] == [] and summary["truncated"] is False
    got = decode(dst)
    assert_same(got, expected(clip))
    y = got[0][0]
    assert (y[80:200, 100:300] == 235).all()  # white, BT.601 limited range
    assert (got[0][1][40:100, 50:150] == 128).all()
    assert not (y[:80] == 235).all()
    s = next(s for s in streams(dst) if s["codec_type"] == "video")
    assert (s["pix_fmt"], s["color_range"], s["color_space"]) == ("yuv420p", "tv", "smpte170m")
    assert s.get("color_primaries") == "smpte170m" and s.get("color_transfer") == "smpte170m"
    err = capsys.readouterr().err
    assert f"vpf: {N} frames," in err and f"FPS -> {dst}" in err


def test_audio_is_copied(clip, tmp_path):
    dst = tmp_path / "out.mp4"
    run(clip, dst, SPEC, progress=False)
    src_a = [s for s in streams(clip) if s["codec_type"] == "audio"]
    out_a = [s for s in streams(dst) if s["codec_type"] == "audio"]
    assert len(out_a) == 1 and out_a[0]["codec_name"] == "aac"
    assert out_a[0]["nb_frames"] == src_a[0]["nb_frames"]  # copied packet for packet
    assert abs(float(out_a[0]["duration"]) - float(src_a[0]["duration"])) < 0.05


@pytest.mark.parametrize("codec", ["ffv1", "libx265"])
def test_10_bit_in_and_out(clip, tmp_path, codec):
    if codec == "libx265" and "libx265" not in av.codecs_available:
        pytest.skip("no libx265")
    src = tmp_path / "ten.mkv"
    ff("-i", clip, "-pix_fmt", "yuv420p10le", "-c:v", "ffv1", "-c:a", "copy", src)
    dst = tmp_path / f"out_{codec}.mkv"
    summary = run(src, dst, SPEC, codec=codec, crf=20, progress=False)
    assert summary["format"] == "yuv420p10"
    s = next(s for s in streams(dst) if s["codec_type"] == "video")
    assert s["pix_fmt"] == "yuv420p10le"
    got = decode(dst)
    if codec == "ffv1":
        assert_same(got, expected(src, core="yuv420p10"))
    assert abs(float(np.mean(got[3][0][85:195, 105:295])) - 940) < 2  # 10-bit limited white


def test_full_range_yuvj420p_is_not_range_converted(clip, tmp_path):
    src = tmp_path / "j.mp4"
    ff("-i", clip, "-pix_fmt", "yuvj420p", "-c:v", "libx264", "-crf", 18, "-an", src)
    assert streams(src)[0]["pix_fmt"] == "yuvj420p"
    dst = tmp_path / "out.mkv"
    run(src, dst, SPEC, codec="ffv1", progress=False)
    got = decode(dst)
    assert_same(got, expected(src))
    assert (got[0][0][80:200, 100:300] == 255).all()  # full-range white
    dec = decode(src)
    assert np.array_equal(got[0][0][300:], dec[0][0][300:])  # outside the box: untouched
    assert streams(dst)[0]["color_range"] == "pc"


def test_image_sequence_input(clip, tmp_path):
    seq = tmp_path / "seq"
    seq.mkdir()
    ff("-i", clip, "-frames:v", 5, seq / "img%03d.png")
    dst = tmp_path / "out.mkv"
    summary = run(str(seq / "img%03d.png"), dst, SPEC, codec="ffv1", progress=False)
    assert summary["frames"] == 5 and summary["format"] == "rgbp"
    with av.open(str(dst)) as c:
        got = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(seq / "img001.png")) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert len(got) == 5
    assert (got[0][80:200, 100:300] == 255).all()
    keep = np.ones(first.shape[:2], bool)
    keep[80:200, 100:300] = False
    assert np.array_equal(got[0][keep], first[keep])  # R, G, B planes in the right order


@pytest.mark.parametrize("pix_fmt,core,out_fmt", [
    ("gray", "gray", "gray"), ("nv12", "yuv420p", "yuv420p"), ("yuv444p", "yuv444p", "yuv444p"),
    ("yuyv422", "yuv422p", "yuv422p"), ("rgb24", "rgbp", None), ("gray10le", "gray10", "gray10le"),
])
def test_other_pixel_formats(clip, tmp_path, pix_fmt, core, out_fmt):
    src = tmp_path / f"{pix_fmt}.nut"
    ff("-i", clip, "-frames:v", 3, "-pix_fmt", pix_fmt, "-c:v", "rawvideo", "-an", src)
    assert streams(src)[0]["pix_fmt"] == pix_fmt
    dst = tmp_path / "out.mkv"
    summary = run(src, dst, SPEC, codec="ffv1", progress=False)
    assert summary["format"] == core and summary["frames"] == 3
    if out_fmt:
        assert streams(dst)[0]["pix_fmt"] == out_fmt
    with av.open(str(dst)) as c:
        f = next(c.decode(video=0))
        rgb = f.to_ndarray(format="rgb24")
    # white, whatever the format (an untagged gray source counts as limited range: 235)
    assert (rgb[85:195, 105:295] >= (230 if core.startswith("gray") else 250)).all()


def test_nearest_raw_format():
    assert nearest_raw_format("yuv420p") == "yuv420p"
    assert nearest_raw_format("yuvj444p") == "yuvj444p"
    assert nearest_raw_format("nv12") == "yuv420p"
    assert nearest_raw_format("p010le") == "yuv420p10le"
    assert nearest_raw_format("yuv420p9le") == "yuv420p10le"
    assert nearest_raw_format("yuyv422") == "yuv422p"
    assert nearest_raw_format("pal8") == "gbrp"
    assert nearest_raw_format("rgba64le") == "gbrp16le"
    assert nearest_raw_format("ya8") == "gray"
    assert nearest_raw_format("no_such_format") is None


def test_missing_image_pattern_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no file matches"):
        run(str(tmp_path / "img%03d.png"), tmp_path / "out.mp4", SPEC, progress=False)


def test_variable_frame_rate_timing_is_kept(clip, tmp_path):
    src = tmp_path / "vfr.mp4"
    # keep frames 0,1,2 of every 7: gaps of 0.1 s and 0.5 s
    ff("-i", clip, "-vf", r"select='lt(mod(n\,7)\,3)'", "-fps_mode", "vfr", "-c:v", "libx264",
       "-preset", "veryfast", "-c:a", "copy", src)
    want = video_pts(src)
    assert len(set(np.round(np.diff(want), 3))) > 1, "the test clip is not VFR"
    dst = tmp_path / "out.mp4"
    summary = run(src, dst, SPEC, progress=False)
    got = video_pts(dst)
    assert summary["frames"] == len(want) == len(got)
    assert summary["pipes"] == "nut"  # bare raw pipes carry no timestamps
    assert np.allclose(got, want, atol=1e-3), (got, want)


def test_constant_rate_files_take_raw_pipes_and_match_nut(clip, tmp_path, monkeypatch):
    raw = run(clip, tmp_path / "raw.mkv", SPEC, codec="ffv1", progress=False, threads=2)
    assert raw["pipes"] == "raw" and raw["frames"] == N
    monkeypatch.setenv("VPF_FFMPEG_PIPE", "nut")
    nut = run(clip, tmp_path / "nut.mkv", SPEC, codec="ffv1", progress=False)
    assert nut["pipes"] == "nut"
    assert_same(decode(tmp_path / "raw.mkv"), decode(tmp_path / "nut.mkv"))
    assert np.allclose(video_pts(tmp_path / "raw.mkv"), video_pts(tmp_path / "nut.mkv"),
                       atol=1e-3)
    a = [s for s in streams(tmp_path / "raw.mkv") if s["codec_type"] == "audio"]
    b = [s for s in streams(tmp_path / "nut.mkv") if s["codec_type"] == "audio"]
    assert len(a) == len(b) == 1 and a[0]["codec_name"] == b[0]["codec_name"] == "aac"


@pytest.mark.parametrize("spec", [SPEC, ("blur=box=10/330/200/360+600/0/768/20:feather=3:strength=4,"
                                   "pixelate=box=0/150/768/170:strength=6")])
def test_spliced_rows_give_the_same_bytes_as_the_full_read(clip, tmp_path, monkeypatch, spec):
    spliced = run(clip, tmp_path / "s.mkv", spec, codec="ffv1", progress=False)
    assert spliced["pipes"] == "raw" and spliced["spliced"] and spliced["frames"] == N
    monkeypatch.setenv("VPF_FFMPEG_SPLICE", "0")
    full = run(clip, tmp_path / "f.mkv", spec, codec="ffv1", progress=False)
    assert full["pipes"] == "raw" and not full["spliced"]
    assert_same(decode(tmp_path / "s.mkv"), decode(tmp_path / "f.mkv"))


class RowsBoom(Protector):
    """Declares the rows it touches (so the host splices the rest), then fails on frame 5."""

    name = "test_ff_rows_boom"

    def touched_rows(self, info):
        return [[(0, 8)], [(0, 4)], [(0, 4)]]

    def process(self, frame, ctx):
        if frame.index == 5:
            raise RuntimeError("detector crashed")
        frame.planes[0][:8] = 0
        return frame


@pytest.mark.parametrize("on_error", ["protect", "stop"])
def test_a_failure_after_splicing_stops_the_run_and_leaves_nothing(clip, tmp_path, on_error):
    register(RowsBoom)
    dst = tmp_path / "out.mp4"
    with pytest.raises(ProtectionError) as err:
        run(clip, dst, "test_ff_rows_boom", on_error=on_error, progress=False)
    assert err.value.frame == 5
    assert nothing_at(dst)


def test_protectors_that_may_touch_any_row_are_not_spliced(clip, tmp_path):
    register(Replace)
    s = run(clip, tmp_path / "o.mkv", f"{SPEC},test_ff_replace", codec="ffv1", progress=False)
    assert s["pipes"] == "raw" and not s["spliced"]
    s = run(clip, tmp_path / "o.mkv", "fill=box=0/0/768/432", codec="ffv1", progress=False)
    assert not s["spliced"]  # nothing to spare


@pytest.mark.parametrize("pipes,env", [("spliced", {}), ("raw", {"VPF_FFMPEG_SPLICE": "0"}),
                                       ("nut", {"VPF_FFMPEG_PIPE": "nut"})])
def test_on_frame_sees_every_protected_frame_as_encoded(clip, tmp_path, monkeypatch, pipes, env):
    """``on_frame(index, seconds, frame)`` on each pipe path: every frame once, in order, after
    protection (its luma is the output's, bit for bit through FFV1), at the output's time.
    Spliced: only the rows the protectors touch pass through Python, so only those are there."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    seen = []

    def on_frame(index, seconds, frame):
        seen.append((index, seconds, frame.planes[0].copy()))

    dst = tmp_path / "o.mkv"
    summary = run(clip, dst, SPEC, codec="ffv1", progress=False, on_frame=on_frame)
    assert summary["pipes"] == ("nut" if pipes == "nut" else "raw")
    assert summary["spliced"] == (pipes == "spliced")
    assert [i for i, _, _ in seen] == list(range(N)) == list(range(summary["frames"]))
    got = decode(dst)
    rows = slice(80, 200) if pipes == "spliced" else slice(None)
    for (i, _, y), planes in zip(seen, got, strict=True):
        assert np.array_equal(y[rows], planes[0][rows]), f"frame {i}"
    assert (got[4][0][85:195, 105:295] == 235).all()  # protected before the hook saw it
    t = [s for _, s, _ in seen]
    assert np.allclose(np.array(t) - t[0], video_pts(dst), atol=2e-3), t


def test_an_exception_in_on_frame_stops_the_run_and_leaves_nothing(clip, tmp_path):
    def on_frame(index, seconds, frame):
        if index == 3:
            raise RuntimeError("observer failed")

    dst = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="observer failed"):
        run(clip, dst, SPEC, progress=False, on_frame=on_frame)
    assert nothing_at(dst) and no_children()
    with pytest.raises(VpfError, match="on_frame"):
        run(clip, dst, SPEC, progress=False, on_frame="not callable")
    with pytest.raises(VpfError, match="open_timeout"):
        run(clip, dst, SPEC, progress=False, open_timeout=0)


def test_raw_pipes_keep_a_late_start_in_sync(clip, tmp_path):
    src = tmp_path / "late.mkv"  # video and audio start 0.5 s in
    ff("-i", clip, "-c", "copy", "-output_ts_offset", 0.5, src)
    dst = tmp_path / "out.mkv"
    assert run(src, dst, SPEC, codec="ffv1", progress=False)["pipes"] == "raw"
    first = {s["codec_type"]: float(s["start_time"]) for s in streams(dst)}
    want = {s["codec_type"]: float(s["start_time"]) for s in streams(src)}
    assert abs((first["video"] - first["audio"]) - (want["video"] - want["audio"])) < 0.03


def test_probe_without_ffprobe_agrees_with_ffprobe(clip):
    from vpfilters.hosts.ffmpeg import _ffprobe, _probe_info

    got, want = _probe_info(str(clip))["streams"], _ffprobe(str(clip))["streams"]
    assert [s["codec_type"] for s in got] == [s["codec_type"] for s in want]
    for key in ("codec_name", "width", "height", "pix_fmt", "nb_frames", "color_range",
                "color_space", "color_primaries", "color_transfer", "r_frame_rate",
                "avg_frame_rate"):
        assert got[0].get(key) == want[0].get(key), key
    assert abs(float(got[0]["start_time"]) - float(want[0]["start_time"])) < 1e-6


def test_rotation_is_applied_once_and_not_tagged(clip, tmp_path):
    src = tmp_path / "rot.mp4"
    ff("-i", clip, "-c", "copy", "-metadata:s:v:0", "rotate=90", src)
    assert any("rotation" in sd for sd in streams(src)[0].get("side_data_list", []))
    upright = tmp_path / "upright.mkv"  # ffmpeg's own autorotated decode
    ff("-i", src, "-an", "-c:v", "ffv1", upright)
    for keep in (False, True):
        dst = tmp_path / f"out_{keep}.mkv"
        summary = run(src, dst, SPEC, codec="ffv1", keep_metadata=keep, progress=False)
        assert summary["rotation"] in (90, 270)
        v = streams(dst)[0]
        assert (v["width"], v["height"]) == (H, W)
        assert not any("rotation" in sd for sd in v.get("side_data_list", []))
        assert "rotate" not in v.get("tags", {})
        assert_same(decode(dst), expected(upright))


@pytest.fixture(scope="module")
def tagged(clip, clips) -> Path:
    """The clip with identifying tags and a subtitle stream."""
    srt = clips / "names.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nJohn Doe, 12 Main Street\n")
    out = clips / "tagged.mp4"
    ff("-i", clip, "-i", srt, "-map", 0, "-map", 1, "-c", "copy", "-c:s", "mov_text",
       "-metadata", "title=Secret title", "-metadata", "location=+48.8577+002.2950/",
       "-metadata", "creation_time=2020-01-02T03:04:05Z", "-metadata:s:a:0", "language=fra", out)
    return out


def test_identifying_metadata_is_stripped_by_default(tagged, tmp_path):
    dst = tmp_path / "out.mp4"
    run(tagged, dst, SPEC, progress=False)
    info = ffprobe(dst, "-show_format", "-show_streams")
    tags = info["format"].get("tags", {})
    assert not {"title", "location", "creation_time"} & set(tags)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
    assert all("creation_time" not in s.get("tags", {}) for s in info["streams"])


def test_metadata_is_kept_when_asked(tagged, tmp_path):
    dst = tmp_path / "out.mp4"
    run(tagged, dst, SPEC, keep_metadata=True, progress=False)
    info = ffprobe(dst, "-show_format", "-show_streams")
    tags = info["format"].get("tags", {})
    assert tags.get("title") == "Secret title" and tags.get("location") == "+48.8577+002.2950/"
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "subtitle", "video"]
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert audio["tags"].get("language") == "fra"


def test_truncated_input_is_processed_and_reported(clip, tmp_path, caplog):
    whole = tmp_path / "whole.mp4"
    ff("-i", clip, "-c", "copy", "-movflags", "+faststart", whole)  # index first: still opens
    src = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    src.write_bytes(data[:len(data) // 2])
    dst = tmp_path / "out.mkv"
    with caplog.at_level(logging.WARNING, logger="vpfilters"):
        summary = run(src, dst, SPEC, codec="ffv1", progress=False)
    assert summary["truncated"] is True and 0 < summary["frames"] < N
    assert summary["expected_frames"] == N
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert str(src) in msg and f"{summary['frames']} of {N} frames" in msg
    assert len(decode(dst)) == summary["frames"]


# ------------------------------------------------------------------------------------ inputs
# Inputs that change what the picture means (issue #3): other codecs, the matrix and range that
# give a fill colour its YUV, and an EXIF orientation that turns the picture on decode.


def pyav_host(src, dst, spec=SPEC):
    """The same spec through the PyAV host (vpfilters.av.transcode), FFV1 out (or an image)."""
    from vpfilters.av import transcode

    return transcode(src, dst, spec, codec="ffv1", progress=False)


_ENCODERS: list[str] = []


def has_encoder(name: str) -> bool:
    """True when the ffmpeg command-line tool (not PyAV's libav) has this encoder."""
    if not _ENCODERS:
        out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                             text=True, timeout=60).stdout
        _ENCODERS.extend(line.split()[1] for line in out.splitlines()
                         if len(line.split()) > 1 and line.startswith(" "))
    return name in _ENCODERS


CUT = ("-ss", 20, "-t", 1, "-i", VIDEO, "-an")  # 1 s (10 frames) of the shared video


@pytest.mark.parametrize("kind,core,white", [
    ("hevc", "yuv420p", 235),      # libx265 8-bit in MP4 (hvc1), B-frames, BT.601 limited
    ("mjpeg", "yuv420p", 255),     # Motion JPEG yuvj420p in AVI: full range
    ("mjpeg422", "yuv422p", 255),  # Motion JPEG yuvj422p (what many webcams send)
])
def test_hevc_and_mjpeg_inputs_give_the_pipeline_pixels(clips, tmp_path, monkeypatch, kind, core,
                                                        white):
    encoder = "libx265" if kind == "hevc" else "mjpeg"
    if not has_encoder(encoder):
        pytest.skip(f"the ffmpeg tool has no {encoder} encoder")
    src = clips / ("hevc.mp4" if kind == "hevc" else f"{kind}.avi")
    if not src.exists():
        if kind == "hevc":
            ff(*CUT, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
               "-tag:v", "hvc1", src)
        else:
            ff(*CUT, "-pix_fmt", "yuvj422p" if kind == "mjpeg422" else "yuvj420p", "-c:v",
               "mjpeg", "-q:v", 3, src)
    assert streams(src)[0]["codec_name"] == ("hevc" if kind == "hevc" else "mjpeg")
    want = expected(src, core=core)
    assert len(want) == 10
    for pipes in ("raw", "nut"):
        if pipes == "nut":
            monkeypatch.setenv("VPF_FFMPEG_PIPE", "nut")
        dst = tmp_path / f"{pipes}.mkv"
        summary = run(src, dst, SPEC, codec="ffv1", progress=False)
        assert (summary["pipes"], summary["format"], summary["frames"]) == (pipes, core, 10)
        got = decode(dst)
        assert_same(got, want)
        assert (got[4][0][80:200, 100:300] == white).all()
        s = streams(dst)[0]
        assert s["pix_fmt"] == core
        assert s["color_range"] == ("pc" if white == 255 else "tv")
    pyav_host(src, tmp_path / "pyav.mkv")  # the other host agrees bit for bit
    assert_same(got, decode(tmp_path / "pyav.mkv"))


def red_yuv(matrix: str, full: bool) -> tuple[int, int, int]:
    """Y, Cb, Cr of pure red (#ff0000), from the matrix's Kr/Kb (H.273), 8 bit."""
    kr, kb = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}[matrix]
    y, cb, cr = kr, -kr / (2 * (1 - kb)), 0.5  # R=1, G=B=0
    if full:
        vals = (255 * y, 128 + 255 * cb, 128 + 255 * cr)
    else:
        vals = (16 + 219 * y, 128 + 224 * cb, 128 + 224 * cr)
    return tuple(int(min(255, max(0, np.floor(v + 0.5)))) for v in vals)


TAGS601 = ("-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m")
TAGS709 = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709")


@pytest.mark.parametrize("name,args,matrix,full", [
    ("bt601", (*TAGS601, "-color_range", "tv"), "bt601", False),
    ("bt709", (*TAGS709, "-color_range", "tv"), "bt709", False),       # SD size: the tags win
    ("hd601", ("-vf", "scale=1280:720", *TAGS601, "-color_range", "tv"), "bt601", False),
    ("hd_untagged", ("-vf", "scale=1280:720,setparams=range=unknown:colorspace=unknown:"
                     "color_primaries=unknown:color_trc=unknown"), "bt709", False),  # by size
    ("yuvj420p", ("-pix_fmt", "yuvj420p", *TAGS601), "bt601", True),
    ("yuvj420p_709", ("-pix_fmt", "yuvj420p", *TAGS709), "bt709", True),
])
def test_fill_colour_follows_matrix_and_range(clips, tmp_path, name, args, matrix, full):
    src = tmp_path / f"{name}.mp4"
    ff("-ss", 20, "-i", VIDEO, "-frames:v", 3, "-an", *args, "-c:v", "libx264", "-preset",
       "ultrafast", src)
    sv = streams(src)[0]
    assert sv["pix_fmt"] == ("yuvj420p" if full else "yuv420p")
    tag = "unknown" if name == "hd_untagged" else "smpte170m" if matrix == "bt601" else "bt709"
    assert sv.get("color_space", "unknown") == tag
    assert sv.get("color_range", "unknown") == ("pc" if full else "unknown" if tag == "unknown"
                                                else "tv")
    spec = "fill=box=16/16/80/64:color=#ff0000"
    dst = tmp_path / "out.mkv"
    summary = run(src, dst, spec, codec="ffv1", progress=False)
    assert summary["frames"] == 3
    want = red_yuv(matrix, full)
    got = decode(dst)
    for frame in got:
        y, u, v = frame
        assert (int(y[30, 30]), int(u[15, 15]), int(v[15, 15])) == want, name
        assert (y[16:64, 16:80] == want[0]).all()
        assert (u[8:32, 8:40] == want[1]).all() and (v[8:32, 8:40] == want[2]).all()
    dec = decode(src)
    assert np.array_equal(got[0][0][64:], dec[0][0][64:])  # below the box: untouched
    assert_same(got, expected(src, spec))
    pyav_host(src, tmp_path / "pyav.mkv", spec)  # the PyAV host picks the same YUV
    assert_same(got, decode(tmp_path / "pyav.mkv"))
    out = streams(dst)[0]  # the output keeps the source's tags (and adds none it lacked)
    assert out.get("color_range", "unknown") == sv.get("color_range", "unknown")
    assert out.get("color_space", "unknown") == sv.get("color_space", "unknown")


#: numpy turns of a coded picture that match PIL's ImageOps.exif_transpose per EXIF Orientation
EXIF_TURN = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1],
             4: lambda a: a[::-1], 5: lambda a: a.T, 6: lambda a: np.rot90(a, -1),
             7: lambda a: a.T[::-1, ::-1], 8: lambda a: np.rot90(a)}
TALL = "fill=box=0/0/40/80:color=white"  # a tall box at the top left of the *displayed* picture


def exif_jpeg(path: Path, orientation: int) -> Path:
    """A real Kodak photo (768x512) as a 4:2:0 JPEG with an EXIF Orientation tag."""
    image_mod = pytest.importorskip("PIL.Image")
    kodak = SHARED / "kodak24" / "kodim01.png"
    if not kodak.is_file():
        pytest.skip(f"shared image {kodak} not found (set VPF_SHARED_DATA)")
    exif = image_mod.Exif()
    exif[0x0112] = orientation
    image_mod.open(kodak).convert("RGB").save(path, quality=92, subsampling=2, exif=exif)
    return path


def expected_upright(path, orientation: int, spec=TALL) -> list[list[np.ndarray]]:
    """The pipeline applied to the coded frames PyAV decodes, turned upright per the EXIF tag."""
    pipeline = build(spec)
    out = []
    with av.open(str(path)) as c:
        for n, f in enumerate(c.decode(video=0)):
            planes = [np.ascontiguousarray(EXIF_TURN[orientation](p)) for p in planes_of(f)]
            props = {"_ColorRange": 0, "_Matrix": 5}  # JPEG: full range, BT.601
            out.append(pipeline.process(Frame(planes, "yuv420p", n, props), FrameContext(n))
                       .planes)
    return out


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_a_jpeg_is_applied_and_boxes_are_display_coordinates(
        clips, tmp_path, orientation):
    image_ops = pytest.importorskip("PIL.ImageOps")
    image_mod = pytest.importorskip("PIL.Image")
    src = exif_jpeg(tmp_path / f"o{orientation}.jpg", orientation)
    dst = tmp_path / "out.mkv"
    summary = run(src, dst, TALL, codec="ffv1", progress=False)
    assert summary["frames"] == 1
    if orientation in (1, 3, 6, 8):  # pure turns: the summary names the angle (clockwise)
        assert summary["rotation"] == {1: 0, 3: 180, 6: 90, 8: 270}[orientation]
    got = decode(dst)
    turned = orientation >= 5
    assert got[0][0].shape == ((768, 512) if turned else (512, 768))
    assert (got[0][0][:80, :40] == 255).all()  # full-range white, top left as displayed
    assert not (got[0][0][:40, 40:80] == 255).all()  # a tall box, not a wide one
    assert_same(got, expected_upright(src, orientation))
    # independent of ffmpeg: the upright picture PIL shows (decoders differ by ~1 level)
    with av.open(str(dst)) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(np.int16)
    ref = np.asarray(image_ops.exif_transpose(image_mod.open(src)).convert("RGB"), np.int16)
    assert rgb.shape == ref.shape
    assert float(np.abs(rgb - ref)[100:, 100:].mean()) < 3
    assert not streams(dst)[0].get("side_data_list")  # no orientation left to apply twice
    # the PyAV host shows the same picture (it writes stills as images: compare two PNGs)
    run(src, tmp_path / "ff.png", TALL, progress=False)
    pyav_host(src, tmp_path / "pyav.png", TALL)
    a, b = (np.asarray(image_mod.open(tmp_path / n).convert("RGB"), np.int16)
            for n in ("ff.png", "pyav.png"))
    assert a.shape == b.shape == ref.shape
    assert int(np.abs(a - b).max()) <= 2, "the two hosts disagree"


def test_mjpeg_video_with_exif_orientation_is_turned_not_scrambled(clips, tmp_path):
    """An MJPEG cut from an EXIF-rotated photo: ffmpeg turns every frame on decode (768x512 ->
    512x768, the same byte count), so bare raw pipes sized from the stream would scramble it."""
    photo = exif_jpeg(tmp_path / "o6.jpg", 6)
    src = tmp_path / "exif6.avi"
    ff("-framerate", 10, "-loop", 1, "-i", photo, "-t", 1, "-c:v", "copy", src)
    s = streams(src)[0]
    assert (s["codec_name"], s["width"], s["height"]) == ("mjpeg", 768, 512)
    dst = tmp_path / "out.mkv"
    summary = run(src, dst, TALL, codec="ffv1", progress=False)
    assert summary["rotation"] == 90 and summary["pipes"] == "nut" and summary["frames"] == 10
    v = streams(dst)[0]
    assert (v["width"], v["height"]) == (512, 768)
    upright = tmp_path / "upright.nut"  # ffmpeg's own autorotated decode, range kept
    ff("-i", src, "-c:v", "rawvideo", "-pix_fmt", "yuvj420p", upright)
    got, ref = decode(dst), decode(upright)
    assert len(got) == len(ref) == 10
    for g, r in zip(got, ref):  # outside the box: exactly what ffmpeg itself shows
        assert (g[0][:80, :40] == 255).all()
        assert np.array_equal(g[0][80:], r[0][80:]) and np.array_equal(g[0][:, 40:], r[0][:, 40:])
        assert np.array_equal(g[1][40:], r[1][40:]) and np.array_equal(g[2][:, 20:], r[2][:, 20:])
    assert_same(got, expected_upright(src, 6))



# ------------------------------------------------------------------------------------ look-ahead


class Neighbours(Protector):
    """Fills its frame, and checks that neighbours come as decoded (not yet / never filled)."""

    name = "test_ff_neighbours"
    window = 2
    seen: list = []

    def process(self, frame, ctx):
        here = frame.planes[0].copy()
        for n in range(frame.index - 2, frame.index + 3):
            try:
                other = ctx.frame(n)
            except IndexError:
                continue
            assert other.index == n and not (other.planes[0] == 7).all()
            if n == frame.index:
                assert np.array_equal(other.planes[0], here)
            type(self).seen.append((frame.index, n))
        frame.planes[0][...] = 7
        return frame


class Replace(Protector):
    """Returns a new frame instead of editing in place."""

    name = "test_ff_replace"

    def process(self, frame, ctx):
        out = frame.copy()
        out.planes[0][...] = 50
        return out


def test_a_protector_may_return_a_new_frame(clip, tmp_path):
    register(Replace)
    dst = tmp_path / "out.mkv"
    run(clip, dst, "test_ff_replace", codec="ffv1", progress=False)
    assert all((f[0] == 50).all() for f in decode(dst))


def test_window_protectors_see_decoded_neighbours(clip, tmp_path):
    register(Neighbours)
    Neighbours.seen = []
    dst = tmp_path / "out.mkv"
    summary = run(clip, dst, "test_ff_neighbours", codec="ffv1", on_error="stop", progress=False)
    assert summary["frames"] == N and summary["failed_frames"] == []
    assert (0, 2) in Neighbours.seen and (N - 1, N - 3) in Neighbours.seen
    assert (N - 1, N) not in Neighbours.seen  # past the end: IndexError
    assert all((f[0] == 7).all() for f in decode(dst))


# ------------------------------------------------------------------------------------ failures


class Boom(Protector):
    name = "test_ff_boom"
    error = RuntimeError

    def process(self, frame, ctx):
        if frame.index == 5:
            raise self.error("detector crashed")
        return frame


class Interrupt(Boom):
    name = "test_ff_interrupt"
    error = KeyboardInterrupt


def test_bad_spec_leaves_nothing(clip, tmp_path):
    dst = tmp_path / "out.mp4"
    with pytest.raises(SpecError):
        run(clip, dst, "no_such_protector=x=1", progress=False)
    with pytest.raises(SpecError):
        run(clip, dst, "", progress=False)
    assert nothing_at(dst)


def test_bad_inputs_are_input_errors(tmp_path):
    dst = tmp_path / "out.mp4"
    with pytest.raises(InputError, match="missing.mp4"):
        run(tmp_path / "missing.mp4", dst, SPEC, progress=False)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(20000))
    with pytest.raises(InputError, match="junk.mp4"):
        run(junk, dst, SPEC, progress=False)
    with pytest.raises(InputError):
        run(tmp_path, dst, SPEC, progress=False)
    assert nothing_at(dst)


def test_unwritable_output_leaves_nothing(clip, tmp_path):
    with pytest.raises(OutputError):
        run(clip, tmp_path / "no" / "such" / "dir" / "out.mp4", SPEC, progress=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        run(clip, blocker / "out.mp4", SPEC, progress=False)
    with pytest.raises(OutputError, match="input"):
        run(clip, clip, SPEC, progress=False)
    assert clip.stat().st_size > 0


def test_encoder_failure_names_the_output_and_quotes_ffmpeg(clip, tmp_path):
    dst = tmp_path / "out.mp4"
    with pytest.raises(OutputError) as err:
        run(clip, dst, SPEC, codec="no_such_encoder", progress=False)
    assert str(dst) in str(err.value) and "ffmpeg:" in str(err.value)
    assert "no_such_encoder" in str(err.value)
    assert nothing_at(dst) and no_children()


def test_protector_failure_with_stop_leaves_nothing_and_no_process(clip, tmp_path):
    register(Boom)
    dst = tmp_path / "out.mp4"
    with pytest.raises(ProtectionError) as err:
        run(clip, dst, "test_ff_boom", on_error="stop", progress=False)
    assert err.value.frame == 5
    assert nothing_at(dst) and no_children()


def test_protector_failure_fails_closed_by_default(clip, tmp_path):
    register(Boom)
    dst = tmp_path / "out.mkv"
    summary = run(clip, dst, "test_ff_boom", codec="ffv1", progress=False)
    assert summary["failed_frames"] == [5] and summary["frames"] == N
    y = decode(dst)[5][0]
    assert (y == y[0, 0]).all()  # the whole frame hidden


def test_interrupt_mid_stream_leaves_nothing_and_no_process(clip, tmp_path):
    register(Interrupt)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        run(clip, dst, "test_ff_interrupt", progress=False)
    assert nothing_at(dst) and no_children()


def test_max_frames(clip, tmp_path):
    dst = tmp_path / "out.mkv"
    summary = run(clip, dst, SPEC, codec="ffv1", max_frames=7, progress=False)
    assert summary["frames"] == 7 and summary["truncated"] is False
    assert len(decode(dst)) == 7 and no_children()
    with pytest.raises(VpfError):
        run(clip, dst, SPEC, max_frames=0, progress=False)


# ------------------------------------------------------------------------------------ units


def test_raw_formats_cover_core_formats_in_plane_order():
    from vpfilters.core import FORMATS

    assert {core for core, _, _ in RAW_FORMATS.values()} <= set(FORMATS)
    buf = bytearray(np.concatenate([np.full(6, v, np.uint8) for v in (1, 2, 3)]).tobytes())
    g, b, r = 1, 2, 3  # gbrp memory order
    planes = _views(buf, "rgbp", _geometry("rgbp", 3, 2), RAW_FORMATS["gbrp"][1], 0, "x")
    assert [int(p[0, 0]) for p in planes] == [r, g, b]
    planes[0][...] = 9  # views: writes reach the buffer
    assert buf[12] == 9
    odd = _geometry("yuv420p", 7, 5)
    assert odd == [(5, 7), (3, 4), (3, 4)]
    with pytest.raises(VpfError):
        _views(bytearray(10), "yuv420p", odd, None, 3, "x")


def test_commands():
    dec = decoder_command("udp://127.0.0.1:1234", ["yuv420p", "gray"], live=True)
    assert ["-fflags", "nobuffer"] == dec[dec.index("-fflags"):dec.index("-fflags") + 2]
    for flag in ("-rw_timeout", "-probesize", "-analyzeduration", "-flush_packets"):
        assert flag in dec
    assert "format=pix_fmts=yuv420p|gray" in dec and "passthrough" in dec and "0:a?" in dec
    enc = encoder_command("out.mp4", colour={"color_range": "pc"}, output_kwargs={"acodec": "aac"})
    assert enc[enc.index("-c:a") + 1] == "aac" and "-acodec" not in enc
    assert enc.count("-color_range") == 2  # on the raw input and on the output
    assert enc[enc.index("-map_metadata") + 1] == "-1"
    img = encoder_command("out.png")
    assert "-c:v" not in img and "-update" in img and "-crf" not in img
    dec = decoder_command("in.mp4", ["yuv420p"], raw=True, threads=2)
    assert dec[dec.index("-threads") + 1] == "2" and dec.index("-threads") < dec.index("-i")
    assert dec[dec.index("-f") + 1] == "rawvideo" and "0:a?" not in dec and "pipe:1" in dec
    enc = encoder_command("out.mp4", threads=2, raw={"pix_fmt": "yuv420p10le", "size": "64x48",
                                                     "rate": "25", "start": 0.5,
                                                     "audio_src": "in.mp4"})
    assert enc[enc.index("-f") + 1] == "rawvideo" and "pipe:0" in enc
    assert enc[enc.index("-pix_fmt") + 1] == "yuv420p10le" and "-itsoffset" in enc
    assert enc.index("-threads") > enc.index("-i") and "in.mp4" in enc and "1:a?" in enc
    # input options come last, before -i; a video_size string stays whole
    dec = decoder_command("rtsp://127.0.0.1:8554/x", ["yuv420p"], live=True,
                          input_kwargs={"rtsp_flags": "listen", "video_size": "768x432"})
    assert dec[dec.index("-rtsp_flags") + 1] == "listen"
    assert dec.index("-rtsp_flags") < dec.index("-i")
    assert dec[dec.index("-s") + 1] == "768x432" and "-video_size" not in dec


# ------------------------------------------------------------------------------------ crashes


def children(marker: str) -> list[int]:
    """Pids of this process's children whose command line contains ``marker``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and marker in cmd:
            out.append(int(d.name))
    return out


class KillChild(Protector):
    """Kills the decoder or the encoder (SIGKILL) when frame 5 arrives: a crash mid-stream."""

    name = "test_ff_kill_child"
    marker = ""

    def process(self, frame, ctx):
        if frame.index == 5:
            for pid in children(type(self).marker):
                os.kill(pid, 9)
        return frame


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("who,error", [("pipe:1", InputError), ("pipe:0", OutputError)])
def test_a_child_crashing_mid_stream_leaves_nothing(clip, tmp_path, who, error):
    register(KillChild)
    KillChild.marker = who  # the decoder writes pipe:1, the encoder reads pipe:0
    dst = tmp_path / "out.mp4"
    with pytest.raises(error) as err:
        run(clip, dst, "test_ff_kill_child", progress=False)
    assert str(clip if who == "pipe:1" else dst) in str(err.value)
    assert nothing_at(dst) and no_children()


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX signals")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_mid_stream_leaves_nothing_and_no_ffmpeg(clip, tmp_path, sig):
    import signal
    import sys

    dst = tmp_path / "out.mp4"
    code = ("import sys; from vpfilters.ffmpeg import run; "
            "run(sys.argv[1], sys.argv[2], 'blur=box=0/0/700/400', progress=False, "
            "input_kwargs={'stream_loop': 50})")
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    proc = subprocess.Popen([sys.executable, "-c", code, str(clip), str(dst)], env=env,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size > 0 for p in tmp_path.glob(".out.*.part*")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.05)
        os.kill(proc.pid, getattr(signal, sig))
        assert proc.wait(timeout=20) != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert nothing_at(dst)
    time.sleep(0.2)
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit()
            and str(tmp_path).encode() in _cmdline(p)]
    assert not left, "an ffmpeg child outlived the run"


def _cmdline(p: Path) -> bytes:
    try:
        return (p / "cmdline").read_bytes()
    except OSError:
        return b""
