"""mask_blur / mask_apply: native == numpy reference bit for bit (integers), in-place, typed errors."""

from __future__ import annotations

import _kernel_common as kc
import numpy as np
import pytest
from _kernel_common import BACKENDS, hypothesis_settings, native, needs_native
from hypothesis import given
from hypothesis import strategies as st

from vpfilters.errors import FormatError, ParameterError
from vpfilters.kernels import _reference, mask_blur

SETTINGS = hypothesis_settings(60)

DEPTHS = [(np.uint8, 8), (np.uint16, 10), (np.uint16, 12), (np.uint16, 16), (np.float32, None)]
MODE_NAMES = ["box", "gaussian", "pixelate", "fill"]


def random_plane(rng, h, w, dtype, bits):
    return kc.random_plane(rng, h, w, dtype, bits, float_max=255)  # float planes: 0..255


def assert_same(a, b, dtype):
    kc.assert_same(a, b, dtype, rtol=1e-5)


@st.composite
def plane_boxes(draw, h, w):
    """Integer plane boxes, sometimes empty or reaching past the plane (as the kernels allow)."""
    n = draw(st.integers(0, 4))
    out = []
    for _ in range(n):
        x0 = draw(st.integers(-4, w + 2))
        y0 = draw(st.integers(-4, h + 2))
        out.append([x0, y0, x0 + draw(st.integers(-1, w)), y0 + draw(st.integers(-1, h))])
    return np.asarray(out, np.int32).reshape(-1, 4)


@st.composite
def mask_cases(draw):
    h = draw(st.integers(1, 48))
    w = draw(st.integers(1, 48))
    depth = draw(st.sampled_from(DEPTHS))
    mode = draw(st.integers(0, 3))
    param = draw(st.integers(0, 9))
    passes = draw(st.sampled_from([0, 1, 3])) if mode in (0, 1) else 1
    return dict(h=h, w=w, depth=depth, mode=mode, param=param, passes=passes,
                fx=draw(st.integers(0, 6)), fy=draw(st.integers(0, 6)),
                boxes=draw(plane_boxes(h, w)), with_mask=draw(st.booleans()),
                threads=draw(st.integers(1, 3)), pad=draw(st.integers(0, 3)),
                seed=draw(st.integers(0, 2**32 - 1)))


def reference(src, boxes, mode, param, passes, fx, fy, mask, value):
    out = np.empty_like(src)
    _reference.mask_apply(src, out, boxes, mode, param, passes, fx, fy, mask, value)
    return out


def fill_value(dtype, bits, rng):
    return 3.25 if bits is None else int(rng.integers(0, 1 << bits))


# ------------------------------------------------------------------------------------ parity


@needs_native
@SETTINGS
@given(case=mask_cases())
def test_native_equals_reference(case):
    dtype, bits = case["depth"]
    h, w, pad = case["h"], case["w"], case["pad"]
    rng = np.random.default_rng(case["seed"])
    x = random_plane(rng, h, w, dtype, bits)
    mask = None
    if case["with_mask"]:
        mask = (rng.integers(0, 256, (h, w)) * (rng.random((h, w)) < 0.1)).astype(np.uint8)
    value = fill_value(dtype, bits, rng)
    args = (case["boxes"], case["mode"], case["param"], case["passes"], case["fx"], case["fy"], mask, value)
    ref = reference(x, *args)

    # Source and destination are padded views into larger arrays.
    sbig = random_plane(rng, h + 2 * pad, w + 3 * pad, dtype, bits)
    src = sbig[pad:pad + h, pad:pad + w]
    src[...] = x
    sbefore = sbig.copy()
    dbig = np.full((h + 2 * pad, w + 2 * pad), 9, dtype)
    dst = dbig[pad:pad + h, pad:pad + w]
    native().mask_apply(src, dst, *args, case["threads"])
    assert_same(dst, ref, dtype)
    np.testing.assert_array_equal(sbig, sbefore)
    outside = np.ones(dbig.shape, bool)
    outside[pad:pad + h, pad:pad + w] = False
    assert (dbig[outside] == 9).all()

    # In place: dst is src.
    native().mask_apply(src, src, *args, case["threads"])
    assert_same(src, ref, dtype)
    sbefore[pad:pad + h, pad:pad + w] = src
    np.testing.assert_array_equal(sbig, sbefore)


@needs_native
@pytest.mark.parametrize("dtype,bits", [(np.uint8, 8), (np.uint16, 16), (np.float32, None)])
@pytest.mark.parametrize("mode,param,passes", [(0, 20000, 1), (1, 3000, 3), (2, 500, 1), (2, 7, 1)])
def test_radius_larger_than_the_plane(dtype, bits, mode, param, passes):
    """Huge radii/blocks (64-bit sums, windows clamped at both edges) still match."""
    rng = np.random.default_rng(param)
    x = random_plane(rng, 23, 31, dtype, bits)
    boxes = np.array([[2, 3, 9, 20], [25, 0, 31, 4]], np.int32)
    ref = reference(x, boxes, mode, param, passes, 2, 1, None, 0)
    got = np.empty_like(x)
    native().mask_apply(x, got, boxes, mode, param, passes, 2, 1, None, 0, 2)
    assert_same(got, ref, dtype)


@needs_native
def test_overlapping_but_different_views():
    """dst overlaps src shifted by a row and a column: the result is as if src were copied first."""
    rng = np.random.default_rng(5)
    big = rng.integers(0, 256, (41, 53)).astype(np.uint8)
    src, dst = big[:40, :52], big[1:, 1:]
    boxes = np.array([[3, 4, 30, 20], [10, 15, 50, 38]], np.int32)
    ref = reference(src.copy(), boxes, 1, 3, 3, 2, 2, None, 0)
    native().mask_apply(src, dst, boxes, 1, 3, 3, 2, 2, None, 0, 2)
    np.testing.assert_array_equal(dst, ref)


@needs_native
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_many_overlapping_boxes_and_threads(threads):
    rng = np.random.default_rng(threads)
    x = rng.integers(0, 1024, (120, 170)).astype(np.uint16)
    xy = rng.integers(0, 150, (40, 2))
    boxes = np.concatenate([xy, xy + rng.integers(1, 40, (40, 2))], axis=1).astype(np.int32)
    mask = np.zeros(x.shape, np.uint8)
    mask[60:90, 20:25] = 200
    for mode, param, passes in ((1, 4, 3), (0, 2, 1), (2, 6, 1), (3, 0, 0)):
        ref = reference(x, boxes, mode, param, passes, 3, 5, mask, 77)
        got = np.empty_like(x)
        native().mask_apply(x, got, boxes, mode, param, passes, 3, 5, mask, 77, threads)
        np.testing.assert_array_equal(got, ref)


@needs_native
@pytest.mark.parametrize("threads", [2, 3, 8])
@pytest.mark.parametrize("mode,param,passes", [(1, 8, 3), (0, 5, 1), (2, 12, 1)])
def test_threaded_work_on_a_real_frame(real_frames, threads, mode, param, passes):
    """Enough work for several threads: one large region (split into strips) and two small ones."""
    y = real_frames[1][0]
    boxes = np.array([[60, 40, 700, 400], [5, 5, 30, 30], [740, 410, 768, 432]], np.int32)
    mask = np.zeros(y.shape, np.uint8)
    mask[200:230, 0:50] = 128
    ref = reference(y, boxes, mode, param, passes, 4, 4, mask, 0)
    got = y.copy()
    native().mask_apply(got, got, boxes, mode, param, passes, 4, 4, mask, 0, threads)
    np.testing.assert_array_equal(got, ref)


# ------------------------------------------------------------------------------------ public API


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODE_NAMES)
def test_real_frame_all_planes(real_frames, backend, mode):
    """A YUV420P8 frame: luma boxes rounded outward on chroma; backends agree with numpy."""
    # The first box covers the most textured part of the frames (the person).
    boxes = np.array([[400.5, 220.2, 560.7, 410.0], [0, 0, 90, 60], [180, 150, 260, 260]])
    mask = np.zeros(real_frames[0][0].shape, np.uint8)
    mask[10:30, 700:760] = 255
    for planes in real_frames[:2]:
        for i, p in enumerate(planes):
            ss = (0, 0) if i == 0 else (1, 1)
            kw = dict(mode=mode, strength=9.0, feather=6.0, subsampling=ss, mask=mask, value=16)
            got = mask_blur(p, boxes, backend=backend, **kw)
            ref = mask_blur(p, boxes, backend="numpy", **kw)
            np.testing.assert_array_equal(got, ref)
            # Outside every grown box and the mask, the frame is untouched.
            untouched = np.ones(p.shape, bool)
            sx, sy = ss
            fx, fy = -(-6 // (1 << sx)), -(-6 // (1 << sy))  # the feather on this plane
            for x0, y0, x1, y1 in boxes:
                untouched[max(0, int(y0 // (1 << sy)) - fy):int(-(-y1 // (1 << sy))) + fy,
                          max(0, int(x0 // (1 << sx)) - fx):int(-(-x1 // (1 << sx))) + fx] = False
            untouched[10 >> sy:30 >> sy, 700 >> sx:760 >> sx] = False
            np.testing.assert_array_equal(got[untouched], p[untouched])
            if mode != "fill":
                # Blurring/pixelating removes detail inside the first box.
                inner = (slice(240 >> sy, 400 >> sy), slice(416 >> sx, 544 >> sx))
                assert np.abs(np.diff(got[inner].astype(int), axis=1)).mean() < \
                    np.abs(np.diff(p[inner].astype(int), axis=1)).mean()
            else:
                assert (got[225 >> sy:405 >> sy, 405 >> sx:555 >> sx] == 16).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_place_on_padded_view(real_frames, backend):
    y = real_frames[2][0]
    big = np.zeros((y.shape[0] + 4, y.shape[1] + 32), np.uint8)
    view = big[2:-2, 8:8 + y.shape[1]]
    view[...] = y
    boxes = [[300, 100, 420, 260]]
    ref = mask_blur(y, boxes, mode="gaussian", strength=8, feather=4, backend="numpy")
    out = mask_blur(view, boxes, mode="gaussian", strength=8, feather=4, out=view, backend=backend)
    assert out is view
    np.testing.assert_array_equal(view, ref)
    assert not big[:2].any() and not big[-2:].any() and not big[:, :8].any() and not big[:, 8 + y.shape[1]:].any()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bits", [10, 12, 16])
def test_kodak_high_bit_depth(kodak_luma, backend, bits):
    y = kodak_luma[0].astype(np.uint16) << (bits - 8)
    boxes = [[100, 120, 400, 300]]
    for mode in ("gaussian", "pixelate"):
        got = mask_blur(y, boxes, mode=mode, strength=12, feather=10, backend=backend)
        ref = mask_blur(y, boxes, mode=mode, strength=12, feather=10, backend="numpy")
        np.testing.assert_array_equal(got, ref)
        assert int(got.max()) < (1 << bits)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float_plane(kodak_luma, backend):
    y = kodak_luma[1].astype(np.float32) / 255
    boxes = [[50, 60, 200, 220]]
    got = mask_blur(y, boxes, mode="gaussian", strength=6, feather=5, backend=backend)
    ref = mask_blur(y, boxes, mode="gaussian", strength=6, feather=5, backend="numpy")
    np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pixelate_blocks_are_flat_on_a_grid_anchored_at_origin(backend):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (40, 50)).astype(np.uint8)
    got = mask_blur(x, [[0, 0, 50, 40]], mode="pixelate", strength=8, backend=backend)
    for by in range(0, 40, 8):
        for bx in range(0, 50, 8):
            block = got[by:by + 8, bx:bx + 8]
            src = x[by:by + 8, bx:bx + 8].astype(np.int64)
            assert (block == (src.sum() + src.size // 2) // src.size).all()  # partial edge blocks too


@pytest.mark.parametrize("backend", BACKENDS)
def test_feather_ramps_down_outside_the_box(backend):
    x = np.zeros((20, 40), np.uint8)
    got = mask_blur(x, [[10, 5, 20, 15]], mode="fill", value=255, feather=4, backend=backend)
    row = got[10, 6:24].astype(int)
    # Full inside the box, decreasing over the 4-pixel feather, zero beyond it.
    assert (row[4:14] == 255).all()
    assert list(row[:4]) == sorted(row[:4]) and row[0] < row[3] < 255
    assert list(row[14:]) == sorted(row[14:], reverse=True) and row[17] > 0
    assert got[10, 5] == 0 and got[10, 24] == 0


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_arguments_raise_typed_errors(backend):
    p = np.zeros((16, 16), np.uint8)
    box = [[1, 1, 5, 5]]
    cases = [
        (FormatError, dict(plane=np.zeros((4, 4, 3), np.uint8))),
        (FormatError, dict(plane=np.zeros((4, 4), np.int16))),
        (ParameterError, dict(mode="smudge")),
        (ParameterError, dict(strength=-1)),
        (ParameterError, dict(strength="a lot")),
        (ParameterError, dict(feather=float("nan"))),
        (ParameterError, dict(subsampling=(3, 0))),
        (ParameterError, dict(boxes=[1, 2, 3])),
        (ParameterError, dict(boxes=[[0, 0, np.nan, 4]])),
        (FormatError, dict(mask=np.zeros((16, 16), np.float32))),
        (FormatError, dict(mask=np.zeros((8, 16), np.uint8))),
        (FormatError, dict(out=np.zeros((16, 15), np.uint8))),
        (FormatError, dict(out=np.zeros((16, 16), np.uint16))),
        (ParameterError, dict(mode="fill", value=300)),
        (ParameterError, dict(threads=0)),
        (ParameterError, dict(backend="bogus")),
    ]
    for err, kw in cases:
        kw = {"plane": p, "boxes": box, "backend": backend, **kw}
        with pytest.raises(err):
            mask_blur(kw.pop("plane"), kw.pop("boxes"), **kw)


@needs_native
def test_native_rejects_bad_arguments():
    n = native()
    p = np.zeros((8, 8), np.uint8)
    out = np.zeros_like(p)
    boxes = np.array([[1, 1, 4, 4]], np.int32)
    n.mask_apply(p, out, boxes, 1, 2, 3, 0, 0, None, 0, 1)
    with pytest.raises(ValueError, match="mask_apply: mode"):
        n.mask_apply(p, out, boxes, 7, 2, 3, 0, 0, None, 0, 1)
    with pytest.raises(TypeError, match="mask_apply: boxes"):
        n.mask_apply(p, out, boxes.astype(np.float32), 1, 2, 3, 0, 0, None, 0, 1)
    with pytest.raises(ValueError, match="mask_apply: boxes"):
        n.mask_apply(p, out, np.zeros((2, 3), np.int32), 1, 2, 3, 0, 0, None, 0, 1)
    with pytest.raises(TypeError, match="mask_apply: dst"):
        n.mask_apply(p, out.astype(np.uint16), boxes, 1, 2, 3, 0, 0, None, 0, 1)
    with pytest.raises(ValueError, match="mask_apply: dst"):
        n.mask_apply(p, out[:, :7], boxes, 1, 2, 3, 0, 0, None, 0, 1)
    with pytest.raises(ValueError, match="mask_apply: mask"):
        n.mask_apply(p, out, boxes, 1, 2, 3, 0, 0, np.zeros((8, 7), np.uint8), 0, 1)
    with pytest.raises(ValueError, match="mask_apply: src"):
        n.mask_apply(np.zeros((8, 16), np.uint8)[:, ::2], out, boxes, 1, 2, 3, 0, 0, None, 0, 1)
    with pytest.raises(ValueError, match="mask_apply: threads"):
        n.mask_apply(p, out, boxes, 1, 2, 3, 0, 0, None, 0, 0)
    with pytest.raises(ValueError, match="mask_apply: value"):
        n.mask_apply(p, out, boxes, 3, 0, 0, 0, 0, None, 256, 1)
    with pytest.raises(ValueError, match="mask_apply: param"):
        n.mask_apply(p, out, boxes, 1, -2, 3, 0, 0, None, 0, 1)
