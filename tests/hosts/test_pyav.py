"""PyAV host: real clips in, protected clips out; pixels, colours, timing, audio and metadata."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "plugins")]
from _media import FFMPEG, clips, decode, exif_jpeg, shared_data_dir  # noqa: E402,F401 (fixtures)

from vpfilters.core import Option, Protector, register  # noqa: E402
from vpfilters.errors import InputError, OutputError, ParameterError, ProtectionError  # noqa: E402
from vpfilters.hosts import pyav  # noqa: E402
from vpfilters.av import FrameFilter, protect_frames, transcode  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ------------------------------------------------------------------------------------ helpers


def planes_of(avf: av.VideoFrame) -> list[np.ndarray]:
    """Copies of a decoded frame's planes, rows unpadded (independent of the host's code)."""
    dtype = np.uint8 if max(c.bits for c in avf.format.components) <= 8 else np.uint16
    out = []
    for p in avf.planes:
        row = p.line_size // np.dtype(dtype).itemsize
        a = np.frombuffer(p, dtype)[:row * p.height].reshape(p.height, row)[:, :p.width]
        out.append(a.copy())
    return out


def info(path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return {"container": dict(c.metadata), "streams": [(s.type, dict(s.metadata))
                                                           for s in c.streams],
                "types": [s.type for s in c.streams], "width": v.codec_context.width,
                "height": v.codec_context.height, "pix_fmt": v.codec_context.pix_fmt,
                "range": int(v.codec_context.color_range or 0),
                "matrix": int(v.codec_context.colorspace or 0)}


def psnr(a: np.ndarray, b: np.ndarray, peak=255.0) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(peak * peak / mse)


def run(src, dst, spec, **kw):
    kw.setdefault("progress", False)
    return transcode(src, dst, spec, **kw)


class Temporal(Protector):
    """Reads its neighbours through the window; records which it saw."""

    name = "test_temporal"
    window = 2
    options = (Option("k", int, 0),)

    def process(self, frame, ctx):
        seen = []
        for m in range(frame.index - self.window, frame.index + self.window + 1):
            try:
                seen.append(int(ctx.frame(m).planes[0][0, 0] >= 0) and m)
            except IndexError:
                pass
        frame.props["VPFSeen"] = seen
        return frame


class Failing(Protector):
    name = "test_failing"
    options = (Option("at", int, 0),)

    def process(self, frame, ctx):
        if frame.index >= self.opts["at"]:
            raise RuntimeError(f"detector crashed on frame {frame.index}")
        return frame


register(Temporal)
register(Failing)


# ------------------------------------------------------------------------------------ basics


def test_protects_the_box_and_keeps_the_rest(clips, tmp_path):
    out = tmp_path / "out.mp4"
    s = run(clips["base"], out, "fill=box=40/30/200/150:color=white", json_path=tmp_path / "m.json")
    assert s["frames"] == 20 and s["fail_closed"] == [] and not s["truncated"]
    src, dst = decode(clips["base"]), decode(out)
    assert len(dst) == 20
    assert [f.pts for f in dst] == [f.pts for f in src]
    for a, b in zip(src[:5], dst[:5]):
        ya, yb = planes_of(a)[0], planes_of(b)[0]
        assert np.all(np.abs(yb[34:146, 44:196].astype(int) - 235) <= 2)  # limited-range white
        keep = np.ones_like(ya, bool)
        keep[24:156, 34:210] = False
        assert psnr(ya[keep], yb[keep]) > 33
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["summary"]["frames"] == 20
    assert len(meta["frames"]) == 20
    assert meta["frames"][3]["VPFBoxes"] == [40.0, 30.0, 200.0, 150.0]
    assert meta["frames"][3]["index"] == 3 and meta["frames"][3]["time"] == pytest.approx(0.3)


def test_audio_is_stream_copied(clips, tmp_path):
    out = tmp_path / "out.mkv"
    s = run(clips["base"], out, "blur=box=0/0/64/64")
    assert s["audio"] == ["#1 copy"]

    def audio_payloads(path):
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]

    assert audio_payloads(out) == audio_payloads(clips["base"])


def test_audio_the_container_cannot_hold_is_reencoded_to_aac(clips, tmp_path):
    out = tmp_path / "out.mp4"
    s = run(clips["alaw"], out, "blur=box=0/0/64/64")
    assert s["audio"] == ["#1 aac"]
    assert any("re-encoded to AAC" in w for w in s["warnings"])
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac"
        assert float(a.duration * a.time_base) == pytest.approx(2.0, abs=0.25)


# ------------------------------------------------------------------------------------ colour


RED = "#ff0000"


@pytest.mark.parametrize("clip, yuv", [
    ("base", (81, 90, 240)),     # tagged BT.601 (smpte170m), limited
    ("sd709", (63, 102, 240)),   # SD size but tagged BT.709: the tags win
    ("hd601", (81, 90, 240)),    # HD size but tagged BT.601: the tags win
    ("yuvj", (76, 85, 255)),     # yuvj420p: full range (BT.601 by size, untagged)
])
def test_fill_colour_follows_matrix_and_range(clips, tmp_path, clip, yuv):
    out = tmp_path / "out.mkv"
    run(clips[clip], out, f"fill=box=16/16/80/64:color={RED}", codec="ffv1")
    f = decode(out, 1)[0]
    y, u, v = planes_of(f)
    assert (int(y[30, 30]), int(u[15, 15]), int(v[15, 15])) == yuv
    assert np.all(y[16:64, 16:80] == yuv[0])
    src, dst = info(clips[clip]), info(out)
    assert dst["range"] == (2 if clip == "yuvj" else 1)
    assert dst["matrix"] == src["matrix"]


def test_ten_bit_in_and_out(clips, tmp_path):
    out = tmp_path / "out.mkv"
    s = run(clips["hevc10"], out, "fill=box=0/0/64/64:color=white", codec="libx264")
    assert s["pix_fmt"] == "yuv420p10le"
    assert info(out)["pix_fmt"] == "yuv420p10le"
    lossless = tmp_path / "out10.mkv"
    run(clips["hevc10"], lossless, "fill=box=0/0/64/64:color=white", codec="ffv1")
    y, u, v = planes_of(decode(lossless, 1)[0])
    assert y.dtype == np.uint16 and y[10, 10] == 940 and u[5, 5] == 512 and v[5, 5] == 512
    ref = planes_of(decode(clips["hevc10"], 1)[0])[0]
    assert np.array_equal(y[100:, 100:], ref[100:, 100:])  # untouched pixels bit-exact


def test_gray_stays_gray(clips, tmp_path):
    out = tmp_path / "out.mkv"
    run(clips["gray"], out, "fill=box=0/0/32/32:color=white", codec="ffv1")
    f = decode(out, 1)[0]
    assert f.format.name == "gray"
    y = planes_of(f)[0]
    ref = planes_of(decode(clips["gray"], 1)[0])[0]
    assert info(clips["gray"])["range"] == 2  # ffmpeg tags its greyscale conversion full range
    assert np.all(y[:32, :32] == 255) and info(out)["range"] == 2
    assert np.array_equal(y[40:, 40:], ref[40:, 40:])
    run(clips["gray"], tmp_path / "x264.mp4", "blur=box=0/0/32/32")  # the default encoder too


# ------------------------------------------------------------------------------------ geometry


def test_odd_size(clips, tmp_path):
    lossless = tmp_path / "odd.mkv"
    run(clips["odd"], lossless, "fill=box=300/160/321/181:color=white", codec="ffv1")
    f = decode(lossless, 1)[0]
    assert (f.width, f.height, f.format.name) == (321, 181, "yuv420p")
    y, u, v = planes_of(f)
    assert u.shape == (91, 161)
    assert np.all(y[160:, 300:] == 235) and np.all(u[80:, 150:] == 128)
    # x264 cannot encode 4:2:0 at odd sizes: the host writes 4:4:4 and says so
    s = run(clips["odd"], tmp_path / "odd.mp4", "blur=box=0/0/50/50")
    assert s["pix_fmt"] == "yuv444p" and any("odd size" in w for w in s["warnings"])
    assert (info(tmp_path / "odd.mp4")["width"], info(tmp_path / "odd.mp4")["height"]) == (321, 181)


def test_rotation_is_applied_and_boxes_are_display_coordinates(clips, tmp_path):
    out = tmp_path / "rot.mkv"
    s = run(clips["rotated"], out, "fill=box=0/0/40/80:color=white", codec="ffv1")
    assert s["rotation"] == 270  # the coded picture is turned 270 degrees clockwise for display
    f = decode(out, 1)[0]
    assert (f.width, f.height) == (432, 768)
    assert pyav._io.display_matrix(f) is None or not any(pyav._io.display_matrix(f)[1:4])
    # the rest of the picture is exactly what ffmpeg's own autorotate shows
    raw = subprocess.run([FFMPEG, "-v", "error", "-i", str(clips["rotated"]), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], capture_output=True,
                         check=True).stdout
    ref = np.frombuffer(raw, np.uint8)[:432 * 768].reshape(768, 432)
    y = planes_of(f)[0]
    assert np.all(y[:80, :40] == 235)
    assert np.array_equal(y[80:, :], ref[80:, :]) and np.array_equal(y[:, 40:], ref[:, 40:])


# ------------------------------------------------------------------------------------ awkward input


def test_variable_frame_rate_keeps_every_timestamp(clips, tmp_path):
    out = tmp_path / "vfr.mp4"
    run(clips["vfr"], out, "blur=box=0/0/64/64")
    t_in = [round(float(f.time), 3) for f in decode(clips["vfr"])]
    t_out = [round(float(f.time), 3) for f in decode(out)]
    assert t_out == t_in
    assert len(set(np.diff(t_in).round(3))) > 1  # really variable


def test_truncated_input_keeps_what_decodes_and_says_so(clips, tmp_path, caplog):
    out = tmp_path / "trunc.mp4"
    with caplog.at_level("WARNING", logger="vpfilters"):
        s = run(clips["truncated"], out, "blur=box=0/0/64/64")
    assert s["truncated"] and 0 < s["frames"] < 20
    assert s["last_good_frame"] == s["frames"] - 1
    msg = " ".join(s["warnings"])
    assert str(clips["truncated"]) in msg and f"last good frame is {s['frames'] - 1}" in msg
    assert str(clips["truncated"]) in caplog.text
    assert len(decode(out)) == s["frames"]


@pytest.mark.parametrize("clip, codec, fmt", [
    ("yuvj", "h264", "yuvj420p"), ("mjpeg", "mjpeg", "yuvj420p"), ("hevc10", "hevc", None),
    ("gif", "gif", None),
])
def test_codecs_and_formats_in(clips, tmp_path, clip, codec, fmt):
    with av.open(str(clips[clip])) as c:
        assert c.streams.video[0].codec_context.name == codec
        n_in = sum(1 for _ in c.decode(video=0))
    out = tmp_path / "out.mp4"
    s = run(clips[clip], out, "pixelate=box=10/10/90/90")
    assert s["frames"] == n_in == len(decode(out))
    if fmt == "yuvj420p":  # full range survives as full range
        assert info(out)["range"] == 2


def test_yuvj_values_are_not_range_converted(clips, tmp_path):
    out = tmp_path / "out.mkv"
    run(clips["yuvj"], out, "fill=box=0/0/16/16:color=white", codec="ffv1")
    y = planes_of(decode(out, 1)[0])[0]
    ref = planes_of(decode(clips["yuvj"], 1)[0])[0]
    assert np.all(y[:16, :16] == 255)
    assert np.array_equal(y[32:, 32:], ref[32:, 32:])


# ------------------------------------------------------------------------------------ metadata


IDENTIFYING = ("location", "com.apple.quicktime.location.iso6709", "com.apple.quicktime.make",
               "com.apple.quicktime.model", "creation_time", "title", "location-eng",
               "serial_number", "timecode")


def _all_keys(meta) -> set[str]:
    keys = {k.lower() for k in meta["container"]}
    for _, tags in meta["streams"]:
        keys |= {k.lower() for k in tags}
    return keys


def test_identifying_metadata_and_data_streams_are_stripped(clips, tmp_path):
    src = info(clips["tagged"])
    assert {"location", "com.apple.quicktime.make", "creation_time"} <= _all_keys(src)
    assert {"subtitle", "data"} <= set(src["types"])
    out = tmp_path / "out.mov"
    s = run(clips["tagged"], out, "blur=box=0/0/64/64")
    dst = info(out)
    assert dst["types"] == ["video", "audio"]
    assert not (_all_keys(dst) & set(IDENTIFYING))
    assert "location" in s["stripped_tags"] and len(s["dropped_streams"]) == 2
    raw = out.read_bytes()
    assert b"48.8577" not in raw and b"iPhone" not in raw and b"Alice" not in raw


def test_keep_metadata_keeps_tags_and_streams(clips, tmp_path):
    out = tmp_path / "out.mov"
    s = run(clips["tagged"], out, "blur=box=0/0/64/64", keep_metadata=True)
    dst = info(out)
    keys = _all_keys(dst)
    assert {"location", "com.apple.quicktime.make", "com.apple.quicktime.model",
            "creation_time", "title"} <= keys
    assert "subtitle" in dst["types"]
    assert dst["container"]["location"] == "+48.8577+002.2950/"
    # the QuickTime timecode track is rebuilt by the muxer from the kept timecode tag
    assert "data" in dst["types"] or any("timecode" in w for w in s["warnings"])


# ------------------------------------------------------------------------------------ pipeline


def test_look_ahead_window(clips, tmp_path):
    out = tmp_path / "out.mp4"
    run(clips["base"], out, "test_temporal", json_path=tmp_path / "m.json")
    frames = json.loads((tmp_path / "m.json").read_text())["frames"]
    assert [f["index"] for f in frames] == list(range(20))
    assert frames[0]["VPFSeen"] == [0, 1, 2]
    assert frames[10]["VPFSeen"] == [8, 9, 10, 11, 12]
    assert frames[19]["VPFSeen"] == [17, 18, 19]
    assert [f.pts for f in decode(out)] == [f.pts for f in decode(clips["base"])]


def test_fail_closed_hides_the_whole_frame(clips, tmp_path):
    out = tmp_path / "out.mkv"
    s = run(clips["base"], out, "test_failing=at=15", codec="ffv1")
    assert s["fail_closed"] == [15, 16, 17, 18, 19] and s["frames"] == 20
    frames = decode(out)
    y15 = planes_of(frames[15])[0]
    assert np.all(y15 == y15[0, 0]) and abs(int(y15[0, 0]) - 126) <= 2  # mid grey
    y3 = planes_of(frames[3])[0]
    assert y3.std() > 10


def test_crash_with_on_error_stop_leaves_nothing(clips, tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(ProtectionError) as e:
        run(clips["base"], out, "test_failing=at=7", on_error="stop", json_path=tmp_path / "m.json")
    assert e.value.frame == 7 and "frame 7" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_output_options_are_checked_before_any_work(clips, tmp_path):
    for kw, param in (({"codec": "nope264"}, "codec"), ({"crf": 99}, "crf"),
                      ({"preset": "turbo"}, "preset")):
        with pytest.raises(ParameterError) as e:
            run(clips["base"], tmp_path / "o.mp4", "blur", **kw)
        assert e.value.parameter == param
    with pytest.raises(OutputError):
        run(clips["base"], tmp_path / "o.mp4", "blur", json_path=tmp_path / "o.mp4")
    assert list(tmp_path.iterdir()) == []


def test_on_frame_sees_every_protected_frame_in_order(clips, tmp_path):
    """``on_frame(index, seconds, frame)``: every frame once, in output order, after protection
    and the encoder hand-off (with a look-ahead window too), at the time the output gives it."""
    seen = []

    def on_frame(index, seconds, frame):
        seen.append((index, seconds, frame.planes[0].copy(), frame.props.get("VPFBoxes")))

    out = tmp_path / "out.mkv"
    s = run(clips["base"], out, "fill=box=40/30/200/150:color=white,test_temporal",
            codec="ffv1", on_frame=on_frame)
    assert [i for i, *_ in seen] == list(range(20)) == list(range(s["frames"]))
    dst = decode(out)
    assert [t for _, t, *_ in seen] == pytest.approx([float(f.time) for f in dst])
    for (i, _, y, boxes), f in zip(seen, dst, strict=True):
        assert np.array_equal(y, planes_of(f)[0]), f"frame {i}"
        assert list(boxes) == [40.0, 30.0, 200.0, 150.0]
    assert np.all(seen[3][2][34:146, 44:196] == 235)


def test_an_exception_in_on_frame_stops_the_run_and_leaves_nothing(clips, tmp_path):
    def on_frame(index, seconds, frame):
        if index == 4:
            raise RuntimeError("observer failed")

    with pytest.raises(RuntimeError, match="observer failed"):
        run(clips["base"], tmp_path / "out.mp4", "blur=box=0/0/64/64", on_frame=on_frame)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ParameterError) as e:
        run(clips["base"], tmp_path / "out.mp4", "blur=box=0/0/64/64", on_frame=42)
    assert e.value.parameter == "on_frame"
    assert list(tmp_path.iterdir()) == []


def test_on_frame_for_a_folder_of_images(clips, tmp_path):
    seen = []
    out = tmp_path / "protected"
    run(clips["images"], out, "fill=box=0/0/32/32:color=white",
        on_frame=lambda i, t, f: seen.append((i, t, f.width, int(f.planes[0][:32, :32].min()))))
    assert [(i, t) for i, t, *_ in seen] == [(0, None), (1, None), (2, None)]
    assert all(lo >= 235 for *_, lo in seen)  # after protection (full range gray: 255)


def test_input_options_open_a_raw_stream(clips, tmp_path):
    """A headerless raw file (real frames, gray 768x432) opens only with its demuxer and
    picture described: ``input_options`` reach the input's open (and not only live ones)."""
    raw = tmp_path / "clip.gray"
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(clips["base"]), "-f",
                    "rawvideo", "-pix_fmt", "gray", str(raw)], check=True, timeout=60)
    opts = {"f": "rawvideo", "video_size": "768x432", "pixel_format": "gray", "framerate": 10}
    with pytest.raises(InputError):  # without the options there is nothing to decode
        run(raw, tmp_path / "bad.mkv", "fill=box=40/30/200/150:color=white")
    out = tmp_path / "out.mkv"
    s = run(raw, out, "fill=box=40/30/200/150:color=white", codec="ffv1", input_options=opts)
    assert s["frames"] == 20
    frames = decode(out)
    assert len(frames) == 20 and frames[0].format.name == "gray"
    y = planes_of(frames[7])[0]
    assert np.all(y[30:150, 40:200] == 235) and y[200:].std() > 10
    assert [float(f.time) for f in frames[:3]] == pytest.approx([0.0, 0.1, 0.2])
    with pytest.raises(ParameterError) as e:
        run(raw, tmp_path / "o.mkv", "blur", input_options={"f": "no-such-demuxer"})
    assert e.value.parameter == "input_options"


# ------------------------------------------------------------------------------------ stills


def test_image_and_folder(clips, tmp_path):
    s = run(clips["jpg"], tmp_path / "photo.png", "fill=box=0/0/40/40:color=red")
    assert s["frames"] == 1 and s["still"]
    rgb = decode(tmp_path / "photo.png")[0].to_ndarray()
    # (the box edge blends with its neighbours where 4:2:0 chroma is upsampled to RGB)
    assert np.all(np.abs(rgb[:36, :36].astype(int) - [255, 0, 0]) <= 2)

    out = tmp_path / "protected"
    s = run(clips["images"], out, "fill=box=0/0/32/32:color=white", json_path=tmp_path / "m.json")
    assert s["frames"] == 3
    assert sorted(p.name for p in out.iterdir()) == ["face.pgm", "kodim01.png", "kodim02.png"]
    face = decode(out / "face.pgm")[0]
    assert face.format.name == "gray" and np.all(planes_of(face)[0][:32, :32] == 255)
    kodim = decode(out / "kodim01.png")[0].to_ndarray()
    orig = decode(clips["images"] / "kodim01.png")[0].to_ndarray()
    assert np.all(kodim[:32, :32] == 255) and np.array_equal(kodim[40:, 40:], orig[40:, 40:])
    files = [f["file"] for f in json.loads((tmp_path / "m.json").read_text())["frames"]]
    assert files == ["face.pgm", "kodim01.png", "kodim02.png"]


# ------------------------------------------------------------------------------------ live


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_tcp_input(clips, tmp_path):
    port = _free_port()
    server = subprocess.Popen([FFMPEG, "-nostdin", "-v", "error", "-re", "-i",
                               str(clips["base"]), "-c", "copy", "-f", "mpegts",
                               f"tcp://127.0.0.1:{port}?listen=1"])
    try:
        s = run(f"tcp://127.0.0.1:{port}", tmp_path / "live.mp4", "blur=box=0/0/64/64",
                open_timeout=15, read_timeout=10)
    finally:
        server.wait(timeout=30)
    assert s["frames"] == 20 and s["audio"] == ["#1 copy"]
    assert len(decode(tmp_path / "live.mp4")) == 20


def test_live_input_bounded_by_max_frames(clips, tmp_path):
    port = _free_port()
    server = subprocess.Popen([FFMPEG, "-nostdin", "-v", "error", "-re", "-i",
                               str(clips["long"]), "-c", "copy", "-f", "mpegts",
                               f"tcp://127.0.0.1:{port}?listen=1"])
    try:
        s = run(f"tcp://127.0.0.1:{port}", tmp_path / "live.mp4", "blur=box=0/0/64/64",
                max_frames=8, open_timeout=15)
    finally:
        server.kill()
        server.wait(timeout=30)
    assert s["frames"] == 8 and not s["truncated"]


# ------------------------------------------------------------------------------------ own loops


def test_frame_filter_edits_in_place_and_keeps_timing(clips):
    protect = FrameFilter("fill=box=0/0/32/32:color=white")
    with av.open(str(clips["base"])) as c:
        for i, f in enumerate(c.decode(video=0)):
            pts, tb = f.pts, f.time_base
            out = protect(f)
            assert out is f and out.pts == pts and out.time_base == tb
            assert np.all(planes_of(out)[0][:32, :32] == 235)
            if i == 3:
                break
    assert protect.props["VPFBoxes"] == [0.0, 0.0, 32.0, 32.0]


WHITE = {"nv12": 235, "rgb24": 255, "bgra": 255, "yuv420p10le": 940, "gray": 235, "yuv444p": 235}


@pytest.mark.parametrize("fmt", sorted(WHITE))
def test_frame_filter_returns_the_input_format(clips, fmt):
    src = decode(clips["base"], 1)[0].reformat(format=fmt)
    src.pts = 42
    before = decode(clips["base"], 1)[0].reformat(format=fmt)  # the filter may edit src itself
    out = FrameFilter("fill=box=0/0/8/8:color=white")(src, index=5)
    assert out.format.name == fmt and out.pts == 42
    if fmt in ("rgb24", "bgra"):
        a, ref = out.to_ndarray(), before.to_ndarray()
        assert np.all(a[:8, :8, :3] == 255)
    else:
        a, ref = planes_of(out)[0], planes_of(before)[0]  # luma (nv12: its Y plane)
        assert np.all(a[:8, :8] == WHITE[fmt])
    assert np.array_equal(a[16:, 16:], ref[16:, 16:])  # repacking there and back is lossless


def test_frame_filter_refuses_a_look_ahead_spec():
    with pytest.raises(ParameterError):
        FrameFilter("test_temporal")


def test_protect_frames_with_window(clips):
    frames = decode(clips["base"])
    pts = [f.pts for f in frames]
    out = list(protect_frames(frames, "test_temporal,fill=box=0/0/8/8:color=white"))
    assert [f.pts for f in out] == pts
    assert all(np.all(planes_of(f)[0][:8, :8] == 235) for f in out)


def test_frame_conversion_round_trip_gbrp_order():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    core, used, _ = pyav.frame_to_core(f)
    assert core.format == "rgbp" and [p[0, 0] for p in core.planes] == [200, 100, 50]
    back = pyav.core_to_frame(core).reformat(format="rgb24").to_ndarray()
    assert np.array_equal(back, rgb)
    assert core.planes[0].base is not None  # a view, not a copy


# ------------------------------------------------------------------------------------ EXIF stills


def upright(path) -> np.ndarray:
    """What a viewer shows: PIL's own EXIF transpose, as RGB."""
    from PIL import Image, ImageOps

    return np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB")).astype(int)


def rgb_of(path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


# EXIF orientation -> (degrees clockwise, mirrored)
EXIF_ORIENTATION = {1: (0, False), 2: (0, True), 3: (180, False), 4: (180, True),
                    5: (90, True), 6: (90, False), 7: (270, True), 8: (270, False)}


def test_probe_reports_the_exif_orientation(shared_data_dir, tmp_path):
    for o, (rot, mirrored) in EXIF_ORIENTATION.items():
        pr = pyav._io.probe(exif_jpeg(shared_data_dir, tmp_path / f"o{o}.jpg", o))
        assert (pr.rotation, pr.mirrored) == (rot, mirrored), o
        assert (pr.width, pr.height, pr.codec) == (768, 512, "mjpeg")  # coded size, as before


@pytest.mark.parametrize("orientation", [3, 6, 8, 5])
def test_exif_rotated_jpeg_comes_out_upright_with_display_boxes(shared_data_dir, tmp_path,
                                                               orientation):
    src = exif_jpeg(shared_data_dir, tmp_path / "in.jpg", orientation)
    out = tmp_path / "out.png"
    s = run(src, out, "fill=box=10/20/110/70:color=white")
    assert (s["rotation"], s["mirrored"]) == EXIF_ORIENTATION[orientation]
    ref, got = upright(src), rgb_of(out)
    assert got.shape == ref.shape == ((768, 512, 3) if orientation >= 5 else (512, 768, 3))
    assert np.all(got[20:70, 10:110] == 255)  # the box is where the viewer sees it
    keep = np.ones(ref.shape[:2], bool)
    keep[16:74, 6:114] = False  # the box and the chroma it shares with its neighbours
    assert psnr(got[keep], ref[keep]) > 35  # the same picture, the same way up
    # the output holds no orientation of its own: a viewer shows it as it is
    assert np.array_equal(upright(out), got)


@pytest.mark.parametrize("orientation", [6, 3])
def test_exif_jpeg_without_an_image_name_takes_the_video_path_upright(shared_data_dir, tmp_path,
                                                                     orientation):
    src = exif_jpeg(shared_data_dir, tmp_path / "in.jpg", orientation).rename(tmp_path / "in.jpe")
    out = tmp_path / "out.mkv"
    s = run(src, out, "fill=box=10/20/110/70:color=white", codec="ffv1")
    assert s["frames"] == 1 and s["rotation"] == EXIF_ORIENTATION[orientation][0]
    assert pyav._io.probe(src).rotation == s["rotation"]
    ref = upright(src)
    got = decode(out)[0]
    assert (got.height, got.width) == ref.shape[:2]
    y = planes_of(got)[0]
    assert np.all(y[20:70, 10:110] == 255)  # full-range white where the viewer sees the box
    rgb = got.to_ndarray(format="rgb24").astype(int)
    keep = np.ones(ref.shape[:2], bool)
    keep[16:74, 6:114] = False
    assert psnr(rgb[keep], ref[keep]) > 30


def test_image_output_carries_no_exif_or_gps(shared_data_dir, tmp_path):
    from PIL import Image

    src = exif_jpeg(shared_data_dir, tmp_path / "gps.jpg", 6, gps=True)
    assert Image.open(src).getexif().get_ifd(0x8825)  # the input really has GPS
    for name in ("out.jpg", "out.png"):
        s = run(src, tmp_path / name, "blur=box=0/0/64/64")
        assert {"exif", "Make", "Model", "GPSInfo/GPSLatitude"} <= set(s["stripped_tags"])
        im = Image.open(tmp_path / name)
        assert len(im.getexif()) == 0 and "exif" not in im.info
        raw = (tmp_path / name).read_bytes()
        assert b"Exif\x00\x00" not in raw and b"eXIf" not in raw
        assert b"TestCamMake" not in raw and b"ModelX1" not in raw
    s = run(src, tmp_path / "kept.jpg", "blur=box=0/0/64/64", keep_metadata=True)
    assert any("EXIF" in w and "not kept" in w for w in s["warnings"])
    assert b"TestCamMake" not in (tmp_path / "kept.jpg").read_bytes()


# ------------------------------------------------------------------------------------ progress


def test_frame_estimate_without_a_container_count(clips, tmp_path):
    """Matroska stores no frame count: the estimate (the progress bar's total) is duration x rate."""
    mkv = tmp_path / "nocount.mkv"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(clips["base"]), "-an", "-c", "copy",
                    "-f", "matroska", str(mkv)], check=True)
    with av.open(str(mkv)) as c:
        assert c.streams.video[0].frames == 0
    pr = pyav._io.probe(mkv)
    assert pr.num_frames == round(pr.duration * float(pr.fps)) == 20 == len(decode(mkv))


# ------------------------------------------------------------------------------------ own loops: colour and buffers


def _tags(f: av.VideoFrame) -> tuple:
    return (f.format.name, int(f.colorspace or 0), int(f.color_range or 0),
            int(f.color_primaries or 0), int(f.color_trc or 0), f.pts, f.time_base)


@pytest.mark.parametrize("clip", ["base", "sd709", "yuvj", "hevc10", "odd", "gif"])
def test_frame_filter_keeps_colour_tags_pts_and_time_base(clips, clip):
    from fractions import Fraction

    first = decode(clips[clip], 1)[0]
    if clip not in ("odd", "gif"):  # tagged clips (odd and gif: untagged, kept untagged)
        assert int(first.color_range or 0) in (1, 2)
    for fmt in (None, "nv12", "rgb24", "yuv444p"):
        for spec in ("fill=box=0/0/16/16:color=white", "test_failing=at=0"):
            f = decode(clips[clip], 1)[0]
            if fmt is not None:
                f = f.reformat(format=fmt)
                f.pts, f.time_base = 123456, Fraction(1, 90000)
            before = _tags(f)
            out = FrameFilter(spec)(f)
            assert _tags(out) == before, (fmt, spec)


def test_frame_filter_never_edits_the_decoders_reference_pictures(clips):
    """H.264 P-frames are predicted from the decoder's copy of earlier frames: protecting frame 0
    in place must not change what the decoder makes of the frames after it."""
    clean = [planes_of(f) for f in decode(clips["base"], 8)]
    protect = FrameFilter("fill=box=0/0/256/192:color=white")
    got = []
    with av.open(str(clips["base"])) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == 0:
                out = protect(f)
                assert out is f and np.all(planes_of(f)[0][:192, :256] == 235)
            got.append(planes_of(f))
            if i == 7:
                break
    for g, c in zip(got[1:], clean[1:]):
        for a, b in zip(g, c):
            assert np.array_equal(a, b)


def test_frame_filter_edits_only_the_frame_it_is_given(clips):
    """Two frames sharing one buffer (a filter graph's ``split``): only the one passed changes."""
    with av.open(str(clips["base"])) as c:
        stream = c.streams.video[0]
        f = next(c.decode(stream))
        graph = av.filter.Graph()
        src = graph.add_buffer(template=stream)
        split = graph.add("split")
        sinks = graph.add("buffersink"), graph.add("buffersink")
        src.link_to(split)
        split.link_to(sinks[0], 0, 0)
        split.link_to(sinks[1], 1, 0)
        graph.configure()
        src.push(f)
        a, b = sinks[0].pull(), sinks[1].pull()
    assert a.planes[0].buffer_ptr == b.planes[0].buffer_ptr  # one buffer, referenced twice
    before = planes_of(b)
    out = FrameFilter("fill=box=0/0/64/64:color=white")(a)
    assert out is a and np.all(planes_of(a)[0][:64, :64] == 235)
    assert all(np.array_equal(x, y) for x, y in zip(planes_of(b), before))
    # reformat to the frame's own format returns the very same object: the caller's frame itself
    g = b.reformat(format=b.format.name)
    assert g is b
    out = FrameFilter("fill=box=0/0/8/8:color=white")(g)
    assert out is b and np.all(planes_of(b)[0][:8, :8] == 235)
    assert np.array_equal(planes_of(b)[0][8:, 8:], before[0][8:, 8:])
    # a repacked layout (nv12) is converted: the frame passed in stays as it was
    nv = decode(clips["base"], 1)[0].reformat(format="nv12")
    nv_before = planes_of(nv)
    out = FrameFilter("fill=box=0/0/8/8:color=white")(nv)
    assert out is not nv and all(np.array_equal(x, y) for x, y in zip(planes_of(nv), nv_before))
