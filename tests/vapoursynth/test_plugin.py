"""Tests of the native VapourSynth plug-in `vpf`: bit-exact against the Python kernels API."""

from __future__ import annotations

import hashlib
import random
from concurrent.futures import wait
from pathlib import Path

import numpy as np
import pytest

try:
    import vapoursynth as vs
except ImportError as exc:
    pytest.skip(f"vapoursynth is not importable: {exc}", allow_module_level=True)

from vpfilters.kernels import haar_forward, mask_blur  # noqa: E402

INT_FORMATS = ["GRAY8", "GRAY10", "GRAY16", "YUV420P8", "YUV420P10", "YUV420P16",
               "YUV444P8", "YUV444P10", "YUV444P16", "YUV422P10", "YUV410P8"]
FLOAT_FORMATS = ["GRAYS", "YUV444PS", "YUV420PS"]
MODES = ["box", "gaussian", "pixelate", "fill"]
COLOR_PROPS = dict(_Matrix=1, _Transfer=1, _Primaries=1, _Range=0, _ChromaLocation=0)

# Luma boxes per frame of the synthetic clips: fractional, reversed, partly/fully outside, tiny.
SYNTH_BOXES = [
    [[5.5, 3.2, 20.7, 17.1], [70.0, -5.0, 50.0, 10.0], [60.0, 40.0, 100.0, 100.0]],
    [[-10.0, -10.0, 5.0, 5.0], [30.25, 20.5, 30.75, 21.0], [200.0, 200.0, 300.0, 300.0]],
    None,  # no VPFBoxes: the frame must pass unchanged
]
VIDEO_BOXES = [[100.0, 50.0, 260.5, 300.0], [500.0, 120.0, 640.0, 400.0]]


# ------------------------------------------------------------------------------------ helpers


def planes_of(frame) -> list[np.ndarray]:
    return [np.array(frame[p], copy=True) for p in range(frame.format.num_planes)]


def plane_subsampling(fmt, p: int) -> tuple[int, int]:
    return (fmt.subsampling_w, fmt.subsampling_h) if p else (0, 0)


def frame_digest(frame) -> str:
    h = hashlib.sha256()
    for a in planes_of(frame):
        h.update(a.tobytes())
    return h.hexdigest()


def props_of(frame) -> dict:
    return {k: frame.props[k] for k in frame.props.keys()}


def synthetic(core, fmt: str, width: int, height: int, *, length: int = 3, seed: int = 0,
              boxes=None, props=COLOR_PROPS):
    """A BlankClip filled with per-frame noise that hits 0 and the maximum sample value."""
    blank = core.std.BlankClip(format=getattr(vs, fmt), width=width, height=height, length=length,
                               fpsnum=25, fpsden=1)
    if props:
        blank = core.std.SetFrameProps(blank, **props)

    def fill(n, f):
        out = f.copy()
        rng = np.random.default_rng(seed * 1000 + n)
        for p in range(out.format.num_planes):
            a = np.asarray(out[p])
            if out.format.sample_type == vs.FLOAT:
                a[...] = rng.random(a.shape, dtype=np.float32) - np.float32(0.5 if p else 0.0)
            else:
                hi = (1 << out.format.bits_per_sample) - 1
                a[...] = rng.integers(0, hi + 1, a.shape)
                a[0, 0], a[0, 1], a[-1, -1] = 0, hi, hi
        if boxes is not None and boxes[n % len(boxes)] is not None:
            out.props["VPFBoxes"] = [float(v) for b in boxes[n % len(boxes)] for v in b]
        return out

    return core.std.ModifyFrame(blank, blank, fill)


def with_boxes(core, clip, boxes_for_frame):
    """`clip` with VPFBoxes from boxes_for_frame(n): a list of boxes, or None to leave it unset."""
    def put(n, f):
        b = boxes_for_frame(n)
        if b is None:
            return f
        out = f.copy()
        out.props["VPFBoxes"] = [float(v) for box in b for v in box]
        return out
    return core.std.ModifyFrame(clip, clip, put)


def expected_mask_blur(frame, boxes, *, mode, strength, feather, values, mask=None, planes=None):
    """What vpfilters.kernels.mask_blur (numpy reference) makes of each plane of `frame`."""
    fmt = frame.format
    out = []
    for p, plane in enumerate(planes_of(frame)):
        if (planes is not None and p not in planes) or (boxes is None and mask is None):
            out.append(plane)
            continue
        out.append(mask_blur(plane, boxes, mode=mode, strength=strength, feather=feather,
                             subsampling=plane_subsampling(fmt, p), mask=mask, value=values[p],
                             backend="numpy"))
    return out


def default_values(fmt, limited: bool) -> list[float]:
    if fmt.sample_type == vs.FLOAT:
        return [0.0] * fmt.num_planes
    shift = fmt.bits_per_sample - 8
    y = (16 << shift) if limited else 0
    return [y] + [128 << shift] * (fmt.num_planes - 1)


def assert_planes_equal(got, want, what=""):
    """Bit for bit, float planes included (the plug-in runs the same kernels as the Python API)."""
    for p, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what} plane {p}: {g.shape} {g.dtype}"
        diff = int(np.count_nonzero(g.view(np.uint8) != w.view(np.uint8)))
        assert diff == 0, f"{what} plane {p}: {diff} bytes of {g.nbytes} differ"


# ------------------------------------------------------------------------------------ loading


def test_plugin_is_installed_in_autoload_folder(core):
    path = Path(core.vpf.plugin_path)
    assert path.parent.name == "vpfilters"
    assert path.parent.parent.name == "plugins"
    assert path.parent.parent.parent.name == "vapoursynth"
    assert sorted(f.name for f in core.vpf.functions()) == ["HaarDown", "HaarUp", "MaskBlur"]
    assert core.vpf.MaskBlur.signature.startswith("clip:vnode;mode:data:opt;strength:float:opt;")
    assert "planes:int[]:opt;" in core.vpf.MaskBlur.signature


# ------------------------------------------------------------------------------------ Haar


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("size", [(64, 32), (37, 23), (50, 26)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("fmt", INT_FORMATS + FLOAT_FORMATS)
def test_haar_round_trip_is_exact(core, fmt, size, levels):
    vf = core.get_video_format(getattr(vs, fmt))
    fx, fy = 1 << vf.subsampling_w, 1 << vf.subsampling_h
    w, h = -(-size[0] // fx) * fx, -(-size[1] // fy) * fy  # the nearest valid size
    src = synthetic(core, fmt, w, h)
    ll = core.vpf.HaarDown(src, levels=levels)
    mx, my = 1 << (levels + src.format.subsampling_w), 1 << (levels + src.format.subsampling_h)
    assert (ll.width, ll.height) == (-(-w // mx) * mx >> levels, -(-h // my) * my >> levels)
    assert ll.format.id == src.format.id
    back = core.vpf.HaarUp(ll)
    assert (back.width, back.height, back.num_frames) == (w, h, src.num_frames)
    for n in range(src.num_frames):
        fs, fl, fb = src.get_frame(n), ll.get_frame(n), back.get_frame(n)
        assert fl.props["VPFHaarLevels"] == levels
        assert (fl.props["VPFHaarWidth"], fl.props["VPFHaarHeight"]) == (w, h)
        assert isinstance(fl.props["VPFHaarBands"], bytes)
        if src.format.sample_type == vs.FLOAT:  # float lifting rounds: close, not exact
            for p, (a, b) in enumerate(zip(planes_of(fb), planes_of(fs))):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=f"frame {n} plane {p}")
        else:  # lossless lifting: bit for bit
            for p, (a, b) in enumerate(zip(planes_of(fb), planes_of(fs))):
                assert np.array_equal(a, b), f"frame {n} plane {p} not restored exactly"
        assert props_of(fb) == props_of(fs)  # colour props kept, VPFHaar* removed


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("fmt", ["GRAY8", "GRAY16", "YUV444P10", "GRAYS"])
def test_haar_ll_matches_python_api(core, fmt, levels):
    """GRAY/4:4:4 need no padding beyond the kernel's own: LL is haar_forward(...).ll, any size."""
    src = synthetic(core, fmt, 37, 23, length=1)
    f = core.vpf.HaarDown(src, levels=levels).get_frame(0)
    for p, plane in enumerate(planes_of(src.get_frame(0))):
        want = haar_forward(plane, levels, backend="numpy").ll
        assert_planes_equal([np.array(f[p])], [want], f"plane {p}")


@pytest.mark.parametrize("fmt", ["YUV420P8", "YUV444P16", "GRAYS"])
def test_haar_band_layout(core, fmt):
    """VPFHaarBands = per plane, per level (finest first): lh, hl, hh, row-major, native order."""
    levels = 2
    src = synthetic(core, fmt, 64, 32, length=1)
    f = core.vpf.HaarDown(src, levels=levels).get_frame(0)
    fmtinfo = src.format
    dt = np.float32 if fmtinfo.sample_type == vs.FLOAT else (
        np.int16 if fmtinfo.bytes_per_sample == 1 else np.int32)
    blob = np.frombuffer(f.props["VPFHaarBands"], dtype=dt)
    pos = 0
    for p, plane in enumerate(planes_of(src.get_frame(0))):
        pyr = haar_forward(plane, levels, backend="numpy")
        for bands in pyr.details:
            for band in bands:
                got = blob[pos:pos + band.size].reshape(band.shape)
                pos += band.size
                np.testing.assert_array_equal(got, band)
        np.testing.assert_array_equal(np.asarray(f[p]), pyr.ll)
    assert pos == blob.size


def test_haar_on_video_round_trip(core, video):
    for levels in (1, 3, 5):  # 432 = 27 * 16: levels 5 pads to 448 rows
        ll = core.vpf.HaarDown(video, levels=levels)
        back = core.vpf.HaarUp(ll)
        assert (back.width, back.height) == (768, 432)
        for n in (0, 7, 39):
            fs, fb = video.get_frame(n), back.get_frame(n)
            for p, (a, b) in enumerate(zip(planes_of(fb), planes_of(fs))):
                assert np.array_equal(a, b), f"levels {levels} frame {n} plane {p}"
            assert props_of(fb) == props_of(fs)
    f = core.vpf.HaarDown(video, levels=1).get_frame(3)
    want = haar_forward(np.asarray(video.get_frame(3)[0]), 1, backend="numpy").ll
    np.testing.assert_array_equal(np.asarray(f[0]), want)


def test_haar_up_with_edited_ll_keeps_details(core):
    """HaarUp only needs the properties: an edited LL is recombined with the stored details."""
    src = core.std.Expr(synthetic(core, "GRAY8", 32, 16, length=1), "x 0.75 * 20 +")
    ll = core.vpf.HaarDown(src, levels=1)
    brighter = core.std.Expr(ll, "x 1 +")  # Expr keeps the first clip's frame properties
    got = np.asarray(core.vpf.HaarUp(brighter).get_frame(0)[0]).astype(np.int64)
    orig = np.asarray(src.get_frame(0)[0]).astype(np.int64)
    # lifting: LL + 1 with unchanged details moves all four samples of each block by exactly 1
    np.testing.assert_array_equal(got, orig + 1)


def test_haar_up_without_properties_fails(core):
    src = synthetic(core, "YUV420P8", 32, 16, length=2)
    with pytest.raises(vs.Error, match=r"^HaarUp: frame 0 has no .*VPFHaar"):
        core.vpf.HaarUp(src)
    ll = core.vpf.HaarDown(src)
    stripped = core.std.RemoveFrameProps(ll, props=["VPFHaarBands"])
    mixed = ll[0] + stripped[1]
    up = core.vpf.HaarUp(mixed)
    up.get_frame(0)
    with pytest.raises(vs.Error, match=r"HaarUp: frame 1 has no VPFHaarBands"):
        up.get_frame(1)
    resized = core.resize.Point(ll, width=ll.width + 2)
    with pytest.raises(vs.Error, match=r"^HaarUp: .*LL frame cannot come from"):
        core.vpf.HaarUp(resized)
    with pytest.raises(vs.Error, match=r"^HaarUp: .*format"):
        core.vpf.HaarUp(core.resize.Point(ll, format=vs.YUV420P10))


def test_haar_down_rejects_bad_levels(core):
    src = synthetic(core, "GRAY8", 32, 16, length=1)
    for bad in (0, -1, 16):
        with pytest.raises(vs.Error, match=r"^HaarDown: levels must be in 1\.\.15"):
            core.vpf.HaarDown(src, levels=bad)


# ------------------------------------------------------------------------------------ MaskBlur


@pytest.mark.parametrize("mode,strength,feather", [("box", 3.0, 0.0), ("gaussian", 8.0, 3.5),
                                                   ("pixelate", 5.0, 2.0), ("fill", 8.0, 4.0)])
@pytest.mark.parametrize("fmt", INT_FORMATS + FLOAT_FORMATS)
def test_mask_blur_matches_python_api(core, fmt, mode, strength, feather):
    src = synthetic(core, fmt, 64, 48, boxes=SYNTH_BOXES)
    out = core.vpf.MaskBlur(src, mode=mode, strength=strength, feather=feather)
    for n in range(src.num_frames):
        fs, fo = src.get_frame(n), out.get_frame(n)
        want = expected_mask_blur(fs, SYNTH_BOXES[n], mode=mode, strength=strength,
                                  feather=feather, values=default_values(fs.format, limited=True))
        assert_planes_equal(planes_of(fo), want, f"{fmt} {mode} frame {n}")
        assert props_of(fo) == props_of(fs)
    # frame 2 has no VPFBoxes: unchanged
    assert frame_digest(out.get_frame(2)) == frame_digest(src.get_frame(2))


@pytest.mark.parametrize("fmt", ["YUV420P8", "YUV444P16", "GRAY10", "YUV420PS"])
def test_mask_blur_with_mask_clip(core, fmt):
    """The soft mask is max-pooled onto chroma exactly like vpfilters.kernels.pool_mask."""
    src = synthetic(core, fmt, 64, 48, boxes=SYNTH_BOXES)
    mask = synthetic(core, "GRAY8", 64, 48, seed=7, props=None)
    mask = core.std.Expr(mask, "x 160 > x 0 ?")  # sparse soft mask with exact zeros
    out = core.vpf.MaskBlur(src, mode="gaussian", strength=4.0, feather=2.0, mask=mask)
    for n in range(src.num_frames):
        fs, fo = src.get_frame(n), out.get_frame(n)
        m = np.array(mask.get_frame(n)[0])
        want = expected_mask_blur(fs, SYNTH_BOXES[n], mode="gaussian", strength=4.0, feather=2.0,
                                  values=default_values(fs.format, True), mask=m)
        assert_planes_equal(planes_of(fo), want, f"{fmt} frame {n}")
        if n == 2:  # mask only, no boxes: still protected
            assert frame_digest(fo) != frame_digest(fs)


def test_mask_blur_planes_and_values(core):
    src = synthetic(core, "YUV420P10", 64, 48, boxes=SYNTH_BOXES)
    out = core.vpf.MaskBlur(src, mode="fill", value=[100.4, 700.5], planes=[0, 2])
    fs, fo = src.get_frame(0), out.get_frame(0)
    # Python rounds the fill value half to even: 100.4 -> 100, 700.5 -> 700 (plane 2 repeats it)
    want = expected_mask_blur(fs, SYNTH_BOXES[0], mode="fill", strength=8.0, feather=0.0,
                              values=[100, 700, 700], planes=[0, 2])
    assert_planes_equal(planes_of(fo), want)
    assert np.array_equal(np.asarray(fo[1]), np.asarray(fs[1]))
    assert int(np.asarray(fo[0])[10, 10]) == 100 and int(np.asarray(fo[2])[5, 5]) == 700


@pytest.mark.parametrize("fmt,props,y,uv", [
    ("YUV420P10", {"_Range": 0}, 64, 512),          # limited (vs.RANGE_LIMITED == 0)
    ("YUV420P10", {"_Range": 1}, 0, 512),           # full
    ("YUV444P8", {"_ColorRange": 0}, 0, 128),       # legacy property: 0 = full
    ("YUV444P16", {}, 16 << 8, 128 << 8),           # YUV without range: limited
    ("GRAY8", {}, 0, None),                         # GRAY without range: full
    ("GRAY16", {"_Range": 0}, 16 << 8, None),
    ("YUV444PS", {"_Range": 0}, 0.0, 0.0),
])
@pytest.mark.filterwarnings("ignore:The _ColorRange frame property has been deprecated")
def test_mask_blur_default_fill_follows_range(core, fmt, props, y, uv):
    assert int(vs.RANGE_LIMITED) == 0 and int(vs.RANGE_FULL) == 1
    src = synthetic(core, fmt, 32, 32, length=1, props=props or None,
                    boxes=[[[0.0, 0.0, 16.0, 16.0]]])
    f = core.vpf.MaskBlur(src, mode="fill").get_frame(0)
    assert np.asarray(f[0])[3, 3] == y and np.asarray(f[0])[20, 20] == np.asarray(
        src.get_frame(0)[0])[20, 20]
    if uv is not None:
        assert np.asarray(f[1])[2, 2] == uv and np.asarray(f[2])[2, 2] == uv


def test_mask_blur_integer_boxes_equal_float_boxes(core):
    src = synthetic(core, "YUV420P8", 64, 48, length=1)

    def put(n, f):
        out = f.copy()
        out.props["VPFBoxes"] = [4, 6, 30, 20]
        return out
    ints = core.std.ModifyFrame(src, src, put)
    floats = with_boxes(core, src, lambda n: [[4.0, 6.0, 30.0, 20.0]])
    a = core.vpf.MaskBlur(ints, mode="pixelate", strength=4).get_frame(0)
    b = core.vpf.MaskBlur(floats, mode="pixelate", strength=4).get_frame(0)
    assert frame_digest(a) == frame_digest(b) != frame_digest(src.get_frame(0))


@pytest.mark.parametrize("bad,why", [([1.0, 2.0, 3.0], "multiple of 4"),
                                     ([1.0, 2.0, float("nan"), 4.0], "NaN"),
                                     ([1.0, 2.0, float("inf"), 4.0], "NaN or infinite")])
def test_mask_blur_bad_boxes_fail_closed(core, bad, why):
    src = synthetic(core, "YUV420P8", 32, 32, length=3)

    def put(n, f):
        out = f.copy()
        out.props["VPFBoxes"] = bad if n == 1 else [0.0, 0.0, 8.0, 8.0]
        return out
    out = core.vpf.MaskBlur(core.std.ModifyFrame(src, src, put))
    out.get_frame(0)
    with pytest.raises(vs.Error, match=rf"MaskBlur: frame 1: VPFBoxes .*{why}"):
        out.get_frame(1)


def test_mask_blur_rejects_bad_arguments(core):
    src = synthetic(core, "YUV420P8", 32, 32, length=1)
    cases = [
        (dict(mode="blur"), r"^MaskBlur: mode must be one of box, gaussian, pixelate, fill"),
        (dict(strength=-1.0), r"^MaskBlur: strength must be"),
        (dict(feather=float("nan")), r"^MaskBlur: feather must be"),
        (dict(value=[256.0]), r"^MaskBlur: fill value 256.* outside 0\.\.255"),
        (dict(value=[1.0, 2.0, 3.0, 4.0]), r"^MaskBlur: value has 4 entries"),
        (dict(planes=[3]), r"^MaskBlur: plane index 3 is out of range"),
        (dict(planes=[0, 0]), r"^MaskBlur: plane 0 is listed twice"),
        (dict(mask=core.std.BlankClip(src, format=vs.GRAY16)), r"^MaskBlur: mask must be a GRAY8"),
        (dict(mask=core.std.BlankClip(format=vs.GRAY8, width=16, height=32)),
         r"^MaskBlur: mask must have the clip's luma size 32x32"),
    ]
    for kwargs, pattern in cases:
        with pytest.raises(vs.Error, match=pattern):
            core.vpf.MaskBlur(src, **kwargs)
    # a GRAY8 luma-size mask at least as long as the clip is accepted
    core.vpf.MaskBlur(src, mask=core.std.BlankClip(format=vs.GRAY8, width=32, height=32, length=3))
    longer = synthetic(core, "YUV420P8", 32, 32, length=5)
    with pytest.raises(vs.Error, match=r"^MaskBlur: mask has 1 frames, fewer than the clip's 5"):
        core.vpf.MaskBlur(longer, mask=core.std.BlankClip(format=vs.GRAY8, width=32, height=32,
                                                          length=1))


@pytest.mark.parametrize("mode,strength,feather", [("gaussian", 6.0, 2.0), ("fill", 8.0, 0.0)])
@pytest.mark.parametrize("fmt", ["YUV420P8", "YUV444P16", "GRAY10"])
def test_mask_blur_fixed_boxes_ignore_and_extend_vpfboxes(core, fmt, mode, strength, feather):
    """boxes=: those regions on every frame (not VPFBoxes'), appended to VPFBoxes."""
    fixed = [[5.5, 3.2, 20.7, 17.1], [60.0, 40.0, 100.0, 100.0]]
    flat = [v for b in fixed for v in b]
    src = synthetic(core, fmt, 64, 48, boxes=SYNTH_BOXES)
    out = core.vpf.MaskBlur(src, mode=mode, strength=strength, feather=feather, boxes=flat)
    for n in range(src.num_frames):
        fs, fo = src.get_frame(n), out.get_frame(n)
        want = expected_mask_blur(fs, fixed, mode=mode, strength=strength, feather=feather,
                                  values=default_values(fs.format, limited=True))
        assert_planes_equal(planes_of(fo), want, f"{fmt} {mode} frame {n}")
        before = [v for b in (SYNTH_BOXES[n] or []) for v in b]
        assert list(fo.props["VPFBoxes"]) == before + flat
        assert "VPFTrackIds" not in fo.props


def test_mask_blur_fixed_boxes_extend_track_ids(core):
    src = synthetic(core, "YUV420P8", 32, 32, length=2)

    def put(n, f):
        out = f.copy()
        out.props["VPFBoxes"] = [0.0, 0.0, 4.0, 4.0, 8.0, 8.0, 12.0, 12.0]
        out.props["VPFTrackIds"] = [7] if n == 0 else [7, 8, 9]  # short / long: fitted to boxes
        return out
    out = core.vpf.MaskBlur(core.std.ModifyFrame(src, src, put), boxes=[1.0, 1.0, 9.0, 9.0])
    assert list(out.get_frame(0).props["VPFTrackIds"]) == [7, -1, -1]
    assert list(out.get_frame(1).props["VPFTrackIds"]) == [7, 8, -1]
    assert list(out.get_frame(1).props["VPFBoxes"])[-4:] == [1.0, 1.0, 9.0, 9.0]


@pytest.mark.parametrize("props,group", [
    ({"_Matrix": 1, "_Range": 0}, 0), ({"_Matrix": 1, "_Range": 1}, 1),
    ({"_Matrix": 6, "_Range": 0}, 2), ({"_Matrix": 5, "_Range": 1}, 3),
    ({"_Matrix": 2}, 2),            # unspecified matrix below 720 lines: BT.601, limited
    ({"_ColorRange": 0}, 3),        # legacy range property: 0 = full
])
@pytest.mark.filterwarnings("ignore:The _ColorRange frame property has been deprecated")
def test_mask_blur_fillmap_follows_matrix_and_range(core, props, group):
    fillmap = [10.0, 11.0, 12.0, 20.0, 21.0, 22.0, 30.0, 31.0, 32.0, 40.0, 41.0, 42.0]
    src = synthetic(core, "YUV420P8", 32, 32, length=1, props=props)
    f = core.vpf.MaskBlur(src, mode="fill", boxes=[0.0, 0.0, 16.0, 16.0],
                          fillmap=fillmap).get_frame(0)
    assert [int(np.asarray(f[p])[2, 2]) for p in range(3)] == fillmap[3 * group:3 * group + 3]


def test_mask_blur_fixed_arguments_are_checked(core):
    src = synthetic(core, "YUV420P8", 32, 32, length=1)
    cases = [
        (dict(boxes=[1.0, 2.0, 3.0]), r"^MaskBlur: boxes must hold x1, y1, x2, y2"),
        (dict(boxes=[1.0, 2.0, float("nan"), 4.0]), r"^MaskBlur: boxes holds NaN"),
        (dict(fillmap=[1.0] * 11), r"^MaskBlur: fillmap must hold 4 groups of 3 values"),
        (dict(fillmap=[1.0] * 11 + [256.0]), r"^MaskBlur: fillmap value 256.* outside 0\.\.255"),
        (dict(fillmap=[1.0] * 12, value=[1.0]), r"^MaskBlur: give value or fillmap, not both"),
    ]
    for kwargs, pattern in cases:
        with pytest.raises(vs.Error, match=pattern):
            core.vpf.MaskBlur(src, **kwargs)


@pytest.mark.parametrize("func", ["MaskBlur", "HaarDown", "HaarUp"])
def test_rejects_variable_and_rgb_formats(core, func):
    a = core.std.BlankClip(format=vs.YUV420P8, width=32, height=32, length=2)
    b = core.std.BlankClip(format=vs.GRAY8, width=32, height=32, length=2)
    variable = core.std.Splice([a, b], mismatch=True)
    with pytest.raises(vs.Error, match=rf"^{func}: clip must be YUV or GRAY with constant format"):
        getattr(core.vpf, func)(variable)
    with pytest.raises(vs.Error, match=rf"^{func}: clip must be YUV or GRAY .*RGB24"):
        getattr(core.vpf, func)(core.std.BlankClip(format=vs.RGB24))
    with pytest.raises(vs.Error, match=rf"^{func}: clip must have 8\.\.16-bit integer"):
        getattr(core.vpf, func)(core.std.BlankClip(format=vs.GRAYH))


def test_mask_blur_on_video_matches_python_api(core, video):
    clip = with_boxes(core, video, lambda n: VIDEO_BOXES if n % 2 == 0 else VIDEO_BOXES[:1])
    for mode, strength, feather in [("gaussian", 12.0, 6.0), ("pixelate", 15.0, 0.0),
                                    ("box", 7.0, 3.0), ("fill", 8.0, 1.5)]:
        out = core.vpf.MaskBlur(clip, mode=mode, strength=strength, feather=feather)
        for n in (0, 5):
            fs, fo = clip.get_frame(n), out.get_frame(n)
            want = expected_mask_blur(fs, VIDEO_BOXES if n % 2 == 0 else VIDEO_BOXES[:1],
                                      mode=mode, strength=strength, feather=feather,
                                      values=default_values(fs.format, limited=True))
            assert_planes_equal(planes_of(fo), want, f"{mode} frame {n}")
            assert props_of(fo) == props_of(fs)
            assert fo.props["_Matrix"] == 6 and fo.props["_Range"] == vs.RANGE_LIMITED


def test_video_without_boxes_passes_unchanged(core, video):
    out = core.vpf.MaskBlur(video)
    for n in (0, 13):
        assert frame_digest(out.get_frame(n)) == frame_digest(video.get_frame(n))
        assert props_of(out.get_frame(n)) == props_of(video.get_frame(n))


def test_parallel_and_out_of_order_requests_agree(core, video, threads):
    """A fresh graph per pass (no shared caches): sequential, shuffled and concurrent requests."""
    def boxes(n):
        return [[10.0 * n, 20.0, 10.0 * n + 150.0, 200.0 + n]]

    def graph():
        clip = with_boxes(core, video, boxes)
        blurred = core.vpf.MaskBlur(clip, mode="gaussian", strength=10.0, feather=4.0)
        return blurred, core.vpf.HaarUp(core.vpf.HaarDown(blurred, levels=2))

    blurred, restored = graph()
    sequential = [frame_digest(blurred.get_frame(n)) for n in range(video.num_frames)]
    assert len(set(sequential)) == video.num_frames  # boxes move: every frame differs
    for n in range(0, video.num_frames, 13):
        assert frame_digest(restored.get_frame(n)) == sequential[n]

    blurred, restored = graph()
    order = list(range(video.num_frames))
    random.Random(1).shuffle(order)
    assert {n: frame_digest(blurred.get_frame(n)) for n in order} == dict(enumerate(sequential))

    blurred, restored = graph()
    futures = {n: restored.get_frame_async(n) for n in reversed(range(video.num_frames))}
    wait(list(futures.values()))
    assert [frame_digest(futures[n].result()) for n in range(video.num_frames)] == sequential
    blurred, _ = graph()
    assert [frame_digest(f) for f in blurred.frames(prefetch=8)] == sequential
