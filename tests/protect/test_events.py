"""events: colour tables (Munsell from colour-science, Middlebury against flow_vis), sparsity,
random access, the round trip back to flow before and after H.264, and the PyAV host."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from vpfilters.core import Frame, FrameContext, StreamInfo, register
from vpfilters.errors import FormatError, ParameterError
from vpfilters.kernels import flow_to_color
from vpfilters.protect import _colorsystems as cs
from vpfilters.protect.events import (
    Events,
    color_wheel,
    decode_events,
    event_mask,
    write_colors,
)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
VIDEO = DATA / "intel_sample_videos" / "one-by-one-person-detection.mp4"
needs_video = pytest.mark.skipif(not VIDEO.is_file(), reason="shared data not present")
register(Events)


def _rotation_flow(h=120, w=160, speed=12.0):
    """Every direction and a spread of speeds: flow along circles around the centre, plus a
    radial part, so directions are not tied to position."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = np.arctan2(y - h / 2, x - w / 2) * 2.0
    r = np.hypot(y - h / 2, x - w / 2) / (w / 2)
    s = speed * (0.3 + 0.7 * np.clip(r, 0, 1))
    return np.stack([s * np.cos(ang), s * np.sin(ang)], -1).astype(np.float32)


def _angle_error_deg(flow, angle):
    true = np.arctan2(flow[..., 1], flow[..., 0]) % (2 * np.pi)
    ok = np.isfinite(angle)
    d = np.abs((angle[ok] - true[ok] + np.pi) % (2 * np.pi) - np.pi)
    return np.degrees(d), ok


def _yuv_frame(w, h, bits=8, full=False, matrix=1, index=0):
    dt = np.uint8 if bits == 8 else np.uint16
    fmt = "yuv420p" if bits == 8 else f"yuv420p{bits}"
    planes = [np.zeros((h, w), dt), np.zeros((h // 2, w // 2), dt), np.zeros((h // 2, w // 2), dt)]
    return Frame(planes, fmt, index, {"_Matrix": matrix, "_ColorRange": 0 if full else 1})


# ---------------------------------------------------------------------------- tables


@pytest.mark.parametrize("system", cs.SYSTEMS)
def test_tables_black_at_rest_and_every_direction_distinct(system):
    t = cs.rgb_table(system)
    assert t.shape == (cs.N_DIR, cs.N_MAG, 3) and t.dtype == np.uint8
    assert np.all(t[:, 0] == 0)  # no motion = black, in every system
    top = t[:, -1].astype(int)
    assert (top.max(1) - top.min(1)).min() > 40  # every direction is clearly coloured
    # neighbouring directions differ, so the direction can be read back
    assert np.abs(np.diff(top, axis=0, append=top[:1])).sum(1).min() >= 2


def test_munsell_table_is_small_and_shipped():
    assert cs.MUNSELL_PATH.stat().st_size < 16_000
    lut = cs.load_munsell()
    assert lut.shape == (100, cs.N_MAG, 3)
    # speed rides on chroma at a fixed Munsell value: saturation grows with the speed bin
    sat = lut.max(2).astype(int) - lut.min(2).astype(int)
    assert np.all(np.diff(sat[:, 1:], axis=1) >= -2)


def test_munsell_table_matches_colour_science():
    colour = pytest.importorskip("colour")
    spec = importlib.util.spec_from_file_location("build_munsell_lut",
                                                  REPO / "scripts" / "build_munsell_lut.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    lut = cs.load_munsell()
    for d in (0, 37, 64, 99):
        hue = mod.hue_name(d + 1)
        cmax = mod.max_chroma(colour, hue, 6.0, 16.0)
        for k in (1, 16, cs.N_MAG - 1):
            c = cmax * (cs.SPEED_FLOOR + (1 - cs.SPEED_FLOOR) * k / (cs.N_MAG - 1))
            want = np.round(np.clip(mod.munsell_srgb(colour, hue, 6.0, c), 0, 1) * 255)
            assert np.abs(lut[d, k].astype(int) - want).max() <= 1, (hue, k)
    assert mod.hue_name(1) == "1R" and mod.hue_name(11) == "1YR" and mod.hue_name(100) == "10RP"


def test_middlebury_matches_flow_vis_at_full_speed():
    flow_vis = pytest.importorskip("flow_vis")
    turns = (np.arange(cs.N_DIR) + 0.5) / cs.N_DIR
    ang = 2 * np.pi * turns
    flow = np.stack([np.cos(ang), np.sin(ang)], -1)[None].astype(np.float32)  # all speed 1
    want = flow_vis.flow_to_color(flow).astype(int)[0]
    got = cs.rgb_table("middlebury")[:, -1].astype(int)
    assert np.abs(got - want).max() <= 1
    # and through the kernel, the way the protector uses it
    out = flow_to_color(flow, cs.rgb_table("middlebury"), 1.0).astype(int)[0]
    assert np.abs(out - want).max() <= 1


# ---------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("system", cs.SYSTEMS)
def test_round_trip_rgb(system):
    flow = _rotation_flow()
    rgb = flow_to_color(flow, cs.rgb_table(system), 12.0)
    angle, speed = decode_events(rgb, system)
    err, ok = _angle_error_deg(flow, angle)
    assert ok.all()  # nothing moving decodes as black
    assert np.median(err) <= 3.0
    true_speed = np.minimum(np.hypot(flow[..., 0], flow[..., 1]) / 12.0, 1)
    assert np.median(np.abs(speed - true_speed)) <= 0.05


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("system", ["munsell", "yuv"])
def test_round_trip_yuv_frame(system, full):
    flow = _rotation_flow(120, 160)
    frame = _yuv_frame(160, 120, full=full)
    lut = cs.code_table(system, "yuv", frame.matrix, frame.full_range)
    write_colors(frame, flow, lut, 12.0, "flow")
    angle, _ = decode_events(frame, system)
    err, ok = _angle_error_deg(flow, angle)
    assert ok.mean() > 0.99 and np.median(err) <= 3.0


def _real_frames(n, start=52):
    frames = []
    with av.open(str(VIDEO)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= start:
                frames.append(_core(f, len(frames)))
            if len(frames) == n:
                break
    return frames


def _h264(outs) -> bytes:
    from vpfilters.hosts.pyav import core_to_frame

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as o:
        s = o.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = outs[0].width, outs[0].height, "yuv420p"
        s.options = {"crf": "23", "preset": "veryfast"}
        for fr in outs:
            for p in s.encode(core_to_frame(fr)):
                o.mux(p)
        for p in s.encode(None):
            o.mux(p)
    return buf.getvalue()


@needs_video
@pytest.mark.parametrize("block", ["auto", 0])
def test_munsell_round_trip_through_h264_crf23(block):
    """Real motion, the protector's own frames, H.264 CRF 23 yuv420p: median error <= 3 deg
    before the codec and <= 8 deg after, against the flow each pixel was coloured with."""
    frames = _real_frames(12)
    ev = Events(colors="munsell", block=block)
    ev.open(StreamInfo(frames[0].width, frames[0].height, frames[0].format))
    flows, outs = [], []
    for n, fr in enumerate(frames):
        ctx = FrameContext(n, lambda m: frames[m], ev.window)
        flows.append(ev.coloured_flow(fr, ctx))
        outs.append(ev.process(fr.copy(), ctx))
    errs_before, errs_after = [], []
    with av.open(io.BytesIO(_h264(outs))) as c:
        for n, f in enumerate(c.decode(video=0)):
            moving = (flows[n] != 0).any(2).astype(np.uint8)
            moving = cv2.erode(moving, np.ones((9, 9), np.uint8)).astype(bool)
            if not moving.any():
                continue
            for target, src in ((errs_before, outs[n]), (errs_after, _core(f, n))):
                angle, _ = decode_events(src, "munsell")
                e, ok = _angle_error_deg(flows[n], angle)
                target.append(e[(moving & ok)[ok]])
    before, after = np.concatenate(errs_before), np.concatenate(errs_after)
    assert before.size > 1000
    assert np.median(before) <= 3.0
    assert np.median(after) <= 8.0


@needs_video
def test_blocks_make_the_event_video_smaller_and_are_flat():
    """The default flat-colour blocks, aligned with the codec's macroblocks, cost the codec well
    under half of the per-pixel picture (the size bar is about this), and each block is flat."""
    frames = _real_frames(24, start=56)
    sizes = {}
    for block in ("auto", 0):
        ev = Events(colors="munsell", block=block)
        ev.open(StreamInfo(frames[0].width, frames[0].height, frames[0].format))
        outs = [ev.process(fr.copy(), FrameContext(n, lambda m: frames[m], ev.window))
                for n, fr in enumerate(frames)]
        sizes[block] = len(_h264(outs))
        if block == "auto":
            b = 16  # 432 lines
            lit = [o for o in outs if o.props["VPFEventSparsity"] > 0]
            assert len(lit) > 10
            for o in lit:
                y = o.planes[0].astype(int)
                assert np.isclose(o.props["VPFEventSparsity"], np.mean(y > 16), atol=1e-9)
                h, w = y.shape
                tiles = y[:h - h % b, :w - w % b].reshape(h // b, b, w // b, b)
                assert (tiles.max((1, 3)) == tiles.min((1, 3))).all()  # one colour per block
                u = o.planes[1].astype(int)[:(h // b) * 8, :(w // b) * 8]
                t = u.reshape(h // b, 8, w // b, 8)
                assert (t.max((1, 3)) == t.min((1, 3))).all()
    assert sizes["auto"] < 0.5 * sizes[0], sizes


def test_block_option():
    assert Events().opts["block"] == "auto"
    from vpfilters.protect.events import block_size

    assert [block_size("auto", h) for h in (192, 432, 720, 1080, 2160)] == [16, 16, 16, 32, 64]
    assert block_size("auto", 1920, 1080) == block_size("auto", 1080, 1920) == 32  # portrait too
    assert block_size(8, 1080) == 8
    for bad in ("7", "-2", "big"):
        with pytest.raises(ParameterError):
            Events(block=bad)
    # a moving square: lit blocks cover it, static blocks stay black; block=0 is per pixel
    frames = _pair_frames((6, 0))
    out = _run(Events(scale=0.5, min_area=0.0, persist=False, block=8), frames, 1)
    y = out.planes[0].astype(int)
    assert (y[64:120, 88:136] > 40).mean() > 0.9 and np.all(y[:48] == 16)
    assert np.all(y.reshape(24, 8, 32, 8).std((1, 3)) == 0)
    out0 = _run(Events(scale=0.5, min_area=0.0, persist=False, block=0), frames, 1)
    assert (out0.planes[0] > 40).any()
    assert out0.props["VPFEventSparsity"] > 0 and out.props["VPFEventSparsity"] > 0


def _core(avf, index):
    from vpfilters.hosts.pyav import frame_to_core

    return frame_to_core(avf, index)[0].copy()


# ---------------------------------------------------------------------------- protector


def _textured(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w)).astype(np.uint8), (0, 0), 1.5)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


def _pair_frames(shift=(6, 0), h=192, w=256):
    """Two frames: a textured square moves by ``shift`` on a flat grey background."""
    tex = _textured(64, 64)
    frames = []
    for i, (dx, dy) in enumerate(((0, 0), shift)):
        f = _yuv_frame(w, h, index=i)
        f.planes[0][...] = 120
        f.planes[1][...] = 128
        f.planes[2][...] = 128
        f.planes[0][60 + dy:124 + dy, 80 + dx:144 + dx] = tex
        frames.append(f)
    return frames


def _run(ev, frames, n):
    ev.open(StreamInfo(frames[0].width, frames[0].height, frames[0].format))
    return ev.process(frames[n].copy(), FrameContext(n, lambda m: frames[m], ev.window))


def test_motion_is_coloured_static_is_black_and_first_frame_black():
    frames = _pair_frames((6, 0))
    out = _run(Events(scale=0.5, min_area=0.0, persist=False), frames, 1)
    y, u, v = (p.astype(int) for p in out.planes)
    assert np.all(y[:40] == 16) and np.all(u[:20] == 128) and np.all(v[:20] == 128)  # static
    assert (y[70:110, 90:140] > 40).mean() > 0.8  # the moving square is lit
    angle, _ = decode_events(out)
    inner = angle[70:110, 95:135]
    err = np.degrees(np.abs((inner - 0 + np.pi) % (2 * np.pi) - np.pi))  # moved towards +x
    assert np.median(err) <= 10
    assert 0 < out.props["VPFEventSparsity"] < 0.5
    first = _run(Events(), frames, 0)
    assert np.all(first.planes[0] == 16) and first.props["VPFEventSparsity"] == 0.0


def _moving_square(shifts, h=192, w=256):
    tex = _textured(64, 64)
    frames, x, y = [], 80, 60
    for i, (dx, dy) in enumerate(shifts):
        x, y = x + dx, y + dy
        f = _yuv_frame(w, h, index=i)
        f.planes[0][...] = 120
        f.planes[1][...] = 128
        f.planes[2][...] = 128
        f.planes[0][y:y + 64, x:x + 64] = tex
        frames.append(f)
    return frames


def test_temporal_hysteresis_keeps_steady_motion_and_drops_a_one_frame_jump():
    frames = _moving_square([(0, 0), (5, 0), (5, 0), (0, 0), (0, 0), (6, 0), (0, 0)])
    ev = Events(scale=0.5, min_area=0.0)
    assert ev.window == 2
    lit = [float((_run(ev, frames, n).planes[0] > 40).mean()) for n in range(len(frames))]
    assert lit[0] == lit[1] == 0  # frame 1 moved, but nothing moved before it
    assert lit[2] > 0.02  # steady motion shows from its second frame
    assert lit[5] == 0  # a jump out of stillness is held back one frame (flicker is dropped)
    no_persist = Events(scale=0.5, min_area=0.0, persist=False)
    assert (_run(no_persist, frames, 5).planes[0] > 40).mean() > 0.02


def test_random_access_same_answer_in_any_order():
    frames = _pair_frames((5, 3)) + _pair_frames((0, 0))[:1]
    frames[2].index = 2
    a = Events(scale=0.5)
    outs = [_run(a, frames, n) for n in (0, 1, 2)]
    b = Events(scale=0.5)
    again = [_run(b, frames, n) for n in (2, 1)]
    for x, y in zip(again, (outs[2], outs[1])):
        for p, q in zip(x.planes, y.planes):
            np.testing.assert_array_equal(p, q)


def test_ten_bit_and_full_range():
    frames = _pair_frames((6, 0))
    ten = [Frame([(p.astype(np.uint16) << 2) for p in f.planes], "yuv420p10", f.index,
                 {"_Matrix": 1, "_ColorRange": 0}) for f in frames]
    out = _run(Events(scale=0.5, min_area=0.0, persist=False), ten, 1)
    assert out.planes[0].dtype == np.uint16
    assert out.planes[0][0, 0] == 0 and out.planes[1][0, 0] == 512  # full-range black
    assert out.planes[0].max() > 200


def test_event_mask_hysteresis_contrast_and_area():
    speed = np.zeros((60, 60), np.float32)
    speed[10:20, 10:20] = 3.0       # strong
    speed[10:20, 20:30] = 1.0       # weak, touching the strong block: kept
    speed[40:50, 40:50] = 1.0       # weak, alone: dropped
    m = event_mask(speed, 2.0, 0.4)
    assert m[15, 25] and m[15, 15] and not m[45, 45]
    change = np.zeros_like(speed)
    assert not event_mask(speed, 2.0, 0.4, change, 2.0).any()  # no brightness change: no motion
    change[10:20, 10:30] = 5.0
    assert event_mask(speed, 2.0, 0.4, change, 2.0)[15, 25]
    assert not event_mask(speed, 2.0, 0.4, min_area=0.1).any()  # 200 px < 10 % of 3600


def test_options_are_checked():
    with pytest.raises(ParameterError):
        Events(colors="lab")
    with pytest.raises(ParameterError):
        Events(scale="2")
    with pytest.raises(ParameterError):
        Events(upsample="cubic")
    assert Events(accumulate="2").window == 3
    with pytest.raises(FormatError):
        decode_events(np.zeros((4, 4), np.uint8))


def test_color_wheel_is_black_in_the_middle():
    w = color_wheel("munsell", 65)
    assert w.shape == (65, 65, 3) and np.all(w[32, 32] == 0) and w[32, 60].max() > 100


@needs_video
@pytest.mark.parametrize("colors", ["munsell", "hsv"])
def test_through_the_pyav_host(tmp_path, colors):
    from vpfilters.hosts.pyav import transcode

    dst = tmp_path / "events.mp4"
    r = transcode(VIDEO, dst, f"events=colors={colors}:threshold=1.5", progress=False,
                  max_frames=70, threads=2)
    assert r["frames"] == 70 and r["fail_closed"] == []
    with av.open(str(dst)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        lit = [float(np.mean(f.to_ndarray(format="gray") > 40)) for f in c.decode(video=0)]
    assert len(lit) == 70 and lit[0] == 0.0
    assert 0.001 < max(lit) < 0.6  # motion shows, most of the picture stays black
    assert dst.stat().st_size < VIDEO.stat().st_size * 70 / 300


def test_a_still_image_is_black(tmp_path):
    from PIL import Image

    from vpfilters.hosts.pyav import transcode

    img = tmp_path / "in.png"
    Image.fromarray(np.dstack([_textured(96, 128)] * 3)).save(img)
    r = transcode(img, tmp_path / "out.png", "events", progress=False)
    assert r["fail_closed"] == []
    assert np.asarray(Image.open(tmp_path / "out.png")).max() == 0


def _decoded(path, n=None):
    from vpfilters.hosts.pyav import frame_to_core

    with av.open(str(path)) as c:
        return [frame_to_core(f, i)[0].copy() for i, f in enumerate(c.decode(video=0))
                if n is None or i < n]


@needs_video
def test_same_frames_from_pyav_ffmpeg_and_vapoursynth(tmp_path):
    """The protector's own output on decoded frames, bit for bit, through the hosts (FFV1)."""
    import shutil

    n = 16
    from vpfilters.hosts.pyav import core_to_frame, transcode

    src = tmp_path / "src.mkv"  # source frames 52.. (someone walks in), lossless
    with av.open(str(VIDEO)) as c, av.open(str(src), "w") as o:
        s = o.add_stream("ffv1", rate=25)
        for i, f in enumerate(c.decode(video=0)):
            if i < 52:
                continue
            core = _core(f, i - 52)
            if i == 52:
                s.width, s.height, s.pix_fmt = core.width, core.height, "yuv420p"
            vf = core_to_frame(core)
            vf.pts = None
            for p in s.encode(vf):
                o.mux(p)
            if i == 52 + n - 1:
                break
        for p in s.encode(None):
            o.mux(p)
    frames = _decoded(src)
    ev = Events(colors="munsell")
    ev.open(StreamInfo(frames[0].width, frames[0].height, frames[0].format))
    want = [ev.process(f.copy(), FrameContext(i, lambda m: frames[m], ev.window, n))
            for i, f in enumerate(frames)]
    assert max(w.props["VPFEventSparsity"] for w in want) > 0.001

    def same(got, how):
        assert len(got) == n, how
        for i, (g, w) in enumerate(zip(got, want)):
            for p, q in zip(g.planes, w.planes):
                np.testing.assert_array_equal(p, q, err_msg=f"{how}: frame {i}")

    out = tmp_path / "pyav.mkv"
    transcode(src, out, "events", codec="ffv1", progress=False)
    same(_decoded(out), "pyav")
    if shutil.which("ffmpeg"):
        from vpfilters.hosts.ffmpeg import run

        out = tmp_path / "ffmpeg.mkv"
        run(src, out, "events", codec="ffv1", progress=False)
        same(_decoded(out), "ffmpeg")
    vs = pytest.importorskip("vapoursynth")
    from vpfilters.hosts.vapoursynth import protect

    core = vs.core
    clip = core.std.BlankClip(width=frames[0].width, height=frames[0].height,
                              format=vs.YUV420P8, length=n)

    def load(n, f):  # the decoded source frames, as a VapourSynth clip
        fout = f.copy()
        for p in range(3):
            np.asarray(fout[p])[...] = frames[n].planes[p]
        for k in ("_Matrix", "_ColorRange", "_Primaries", "_Transfer"):
            if k in frames[n].props:
                fout.props[k] = frames[n].props[k]
        return fout

    clip = core.std.ModifyFrame(clip, clip, load)
    res = protect(clip, "events")
    got = []
    for i in (list(range(n))[::-1]):  # out of order: random access
        f = res.get_frame(i)
        got.append(Frame([np.asarray(f[p]).copy() for p in range(3)], "yuv420p", i))
    same(got[::-1], "vapoursynth (frames asked in reverse order)")
