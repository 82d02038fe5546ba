"""flow_to_color: native vs numpy reference (fast atan2: rare one-bin direction differences only)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpfilters.errors import FormatError, ParameterError
from vpfilters.kernels import _reference, available_backends, flow_to_color

NATIVE = "native" in available_backends()
needs_native = pytest.mark.skipif(not NATIVE, reason="vpfilters._native is not built")
BACKENDS = ["numpy", pytest.param("native", marks=needs_native)]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def native():
    from vpfilters import _native
    return _native


def index_lut(n_dir, n_mag):
    """A table whose colour *is* the bin: R = direction bin, G = magnitude bin, B = 7."""
    d, m = np.meshgrid(np.arange(n_dir), np.arange(n_mag), indexing="ij")
    return np.stack([d, m, np.full_like(d, 7)], axis=-1).astype(np.uint8)


def extreme_diagonals(flow):
    """Exact diagonals (|u| == |v|) of overflowing or subnormal size: numpy's float32 arctan2
    puts them exactly on 1/8 turn, the native kernel (like numpy for ordinary sizes) just below."""
    a, b = np.abs(flow[..., 0]), np.abs(flow[..., 1])
    with np.errstate(all="ignore"):
        return (a == b) & ((a > 1e30) | ((a < 1e-30) & (a > 0)))


def assert_bins_match(got, ref, n_dir, max_fraction=1e-3, ignore=None):
    """Magnitude bins identical; direction bins identical but for a tiny fraction off by one
    (not counting the pixels of ``ignore``, which may be one bin off)."""
    np.testing.assert_array_equal(got[..., 1:], ref[..., 1:])
    d = (got[..., 0].astype(int) - ref[..., 0].astype(int)) % n_dir
    off = d != 0
    assert np.all((d[off] == 1) | (d[off] == n_dir - 1)), "a direction differs by more than one bin"
    if ignore is not None:
        off &= ~ignore
    assert off.sum() <= max(2, max_fraction * off.size), f"{off.sum()} of {off.size} pixels differ"


def special_flow(rng, h, w):
    """Random flow salted with the cases atan2 conventions hinge on."""
    f = (rng.standard_normal((h, w, 2)) * rng.choice([0.01, 1, 30])).astype(np.float32)
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-42, -1e-42, 3e38, -3e38,
                         1e-20], np.float32)
    salt = rng.random((h, w, 2)) < 0.15
    f[salt] = rng.choice(specials, salt.sum())
    axis = rng.random((h, w)) < 0.05  # exact axis and diagonal directions
    f[axis] = rng.choice([-2.0, 0.0, 2.0], (axis.sum(), 2)).astype(np.float32)
    return f


# ------------------------------------------------------------------------------------ parity


@needs_native
@SETTINGS
@given(h=st.integers(1, 40), w=st.integers(1, 40), n_dir=st.integers(1, 64), n_mag=st.integers(1, 32),
       max_mag=st.sampled_from([0.0, 0.1, 1.0, 7.3, 1e30, -1.0]),
       pad=st.integers(0, 3), threads=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_native_equals_reference(h, w, n_dir, n_mag, max_mag, pad, threads, seed):
    rng = np.random.default_rng(seed)
    flow = special_flow(rng, h, w)
    lut = index_lut(n_dir, n_mag)
    ref = np.empty((h, w, 3), np.uint8)
    with np.errstate(all="ignore"):
        _reference.flow_to_color(flow, lut, max_mag, ref)

    fbig = np.zeros((h + pad, w + 2 * pad, 2), np.float32)  # padded rows
    fview = fbig[:h, pad:pad + w]
    fview[...] = flow
    obig = np.full((h + 2 * pad, w + pad, 3), 99, np.uint8)
    oview = obig[pad:pad + h, :w]
    native().flow_to_color(fview, lut, max_mag, oview, threads)
    assert_bins_match(oview, ref, n_dir, ignore=extreme_diagonals(flow))
    outside = np.ones(obig.shape[:2], bool)
    outside[pad:pad + h, :w] = False
    assert (obig[outside] == 99).all()
    assert (oview[..., 2] == 7).all()


@needs_native
@SETTINGS
@given(h=st.integers(1, 30), w=st.integers(1, 30), n_dir=st.integers(1, 64), n_mag=st.integers(1, 32),
       max_mag=st.sampled_from([0.0, 0.5, 7.3, -1.0]),
       min_mag=st.sampled_from([0.0, 1e-4, 0.01, 1.0, 5.0, 1e30]), threads=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_native_static_mask_equals_reference(h, w, n_dir, n_mag, max_mag, min_mag, threads, seed):
    """min_mag (static pixels black in the same pass): native and numpy agree bin for bin."""
    rng = np.random.default_rng(seed)
    flow = special_flow(rng, h, w)
    flow[rng.random((h, w)) < 0.3] = 0.0  # static pixels, as the events mask leaves them
    lut = index_lut(n_dir, n_mag)
    ref = np.empty((h, w, 3), np.uint8)
    got = np.empty((h, w, 3), np.uint8)
    with np.errstate(all="ignore"):
        _reference.flow_to_color(flow, lut, max_mag, ref, 1, min_mag)
    native().flow_to_color(flow, lut, max_mag, got, threads, min_mag)
    assert_bins_match(got, ref, n_dir, ignore=extreme_diagonals(flow))


@pytest.mark.parametrize("backend", BACKENDS)
def test_static_mask_semantics(backend):
    """Below min_mag: entry (0, 0); at or above: magnitude bin >= 1; min_mag=0: no mask."""
    n_dir, n_mag = 8, 5
    flow = np.array([[[0.0, 0.0], [0.0, -0.0], [0.01, 0.0], [0.0, 0.2], [-3.0, 0.0], [np.nan, 1.0],
                      [0.0, 0.05]]], np.float32)
    lut = index_lut(n_dir, n_mag)
    out = flow_to_color(flow, lut, 3.0, min_mag=0.05, backend=backend)
    assert out[0, :, :2].tolist() == [[0, 0], [0, 0], [0, 0], [2, 1], [4, 4], [0, 0], [2, 1]]
    plain = flow_to_color(flow, lut, 3.0, backend=backend)
    assert plain[0, 3, 1] == 0 and plain[0, 2, 0] == 0  # no mask: slow flow rounds to bin 0
    np.testing.assert_array_equal(flow_to_color(flow, lut, 3.0, min_mag=0.0, backend=backend), plain)
    # max_mag 0 puts every pixel in bin 0, but a moving one still gets bin 1 under the mask
    out = flow_to_color(flow, lut, 0.0, min_mag=0.05, backend=backend)
    assert out[0, :, 1].tolist() == [0, 0, 0, 1, 1, 0, 1]
    # a one-bin table has nowhere to go: moving pixels stay in bin 0
    out = flow_to_color(flow, index_lut(n_dir, 1), 3.0, min_mag=0.05, backend=backend)
    assert (out[..., 1] == 0).all()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ParameterError):
            flow_to_color(flow, lut, 3.0, min_mag=bad, backend=backend)


@needs_native
def test_direction_bins_on_a_dense_circle():
    """Every direction around the circle: at most a handful of boundary pixels differ, by one bin."""
    n = 100_000
    ang = np.linspace(-np.pi, np.pi, n, dtype=np.float64)
    radius = np.geomspace(1e-3, 1e3, n)
    flow = np.stack([np.cos(ang) * radius, np.sin(ang) * radius], -1).astype(np.float32).reshape(1, n, 2)
    for n_dir in (6, 8, 64, 255):
        lut = index_lut(n_dir, 16)
        ref = np.empty((1, n, 3), np.uint8)
        got = np.empty((1, n, 3), np.uint8)
        _reference.flow_to_color(flow, lut, 500.0, ref)
        native().flow_to_color(flow, lut, 500.0, got, 2)
        assert_bins_match(got, ref, n_dir, max_fraction=1e-4)


@needs_native
def test_threads_do_not_change_the_result():
    rng = np.random.default_rng(2)
    flow = special_flow(rng, 257, 301)
    lut = rng.integers(0, 256, (24, 9, 3)).astype(np.uint8)
    outs = []
    for t in (1, 2, 5):
        o = np.empty((257, 301, 3), np.uint8)
        native().flow_to_color(flow, lut, 12.5, o, t)
        outs.append(o)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


@needs_native
@SETTINGS
@given(h=st.integers(0, 30), w=st.integers(0, 30), pad=st.integers(0, 2), threads=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_native_max_magnitude_equals_numpy(h, w, pad, threads, seed):
    """The default max_mag, computed as vpfilters.kernels.flow_to_color does, bit for bit."""
    rng = np.random.default_rng(seed)
    flow = special_flow(rng, h, w) if h and w else np.zeros((h, w, 2), np.float32)
    flow[np.abs(flow) > 1e18] = 5.0  # keep the squares finite, as real flow is
    big = np.zeros((h, w + pad, 2), np.float32)
    big[:, :w] = flow
    f = np.nan_to_num(flow, nan=0.0, posinf=0.0, neginf=0.0)
    expect = float(np.sqrt((f * f).sum(axis=2).max())) if f.size else 0.0
    assert native().flow_max_magnitude(big[:, :w], threads) == expect


# ------------------------------------------------------------------------------------ public API


def real_flow(frames):
    """A smooth, real-looking field: luma gradients of a decoded frame, as (u, v)."""
    y = frames[0][0].astype(np.float32)
    gy, gx = np.gradient(y)
    return np.ascontiguousarray(np.stack([gx, gy], -1) * np.float32(0.25))


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_flow_against_reference(real_frames, backend):
    flow = real_flow(real_frames)
    lut = index_lut(32, 12)
    got = flow_to_color(flow, lut, backend=backend)
    ref = flow_to_color(flow, lut, backend="numpy")
    assert got.shape == flow.shape[:2] + (3,) and got.dtype == np.uint8
    assert_bins_match(got, ref, 32, max_fraction=1e-4)
    # The default max_mag is the frame maximum: some pixel reaches the last magnitude bin.
    assert got[..., 1].max() == 11


@pytest.mark.parametrize("backend", BACKENDS)
def test_strided_flow_and_colour_lut(real_frames, backend):
    flow = real_flow(real_frames)
    wide = np.zeros(flow.shape[:2] + (3,), np.float32)
    wide[..., :2] = flow
    strided = wide[:, :, :2]  # pixel stride 12 bytes: the API copies, the result is unchanged
    rng = np.random.default_rng(0)
    lut = rng.integers(0, 256, (16, 8, 3)).astype(np.uint8)
    a = flow_to_color(strided, lut, 20.0, backend=backend)
    b = flow_to_color(flow, lut, 20.0, backend=backend)
    np.testing.assert_array_equal(a, b)
    out = np.empty_like(a)
    assert flow_to_color(flow, lut, 20.0, out=out, backend=backend) is out
    np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("backend", BACKENDS)
def test_known_directions_and_magnitudes(backend):
    n_dir, n_mag = 8, 5
    centres = (np.arange(n_dir) + 0.5) * (2 * np.pi / n_dir)  # mid-bin: no boundary ambiguity
    flow = np.zeros((2, n_dir + 2, 2), np.float32)
    flow[0, :n_dir] = np.stack([np.cos(centres), np.sin(centres)], -1) * 3.0
    flow[1, :n_dir] = np.stack([np.cos(centres), np.sin(centres)], -1) * 1.5
    flow[:, n_dir] = (np.nan, 1.0)  # non-finite: no motion
    out = flow_to_color(flow, index_lut(n_dir, n_mag), 3.0, backend=backend)
    assert list(out[0, :n_dir, 0]) == list(range(n_dir))  # bin 0 at +x, turning towards +y (down)
    assert list(out[0, :n_dir, 1]) == [4] * n_dir  # |f| = max_mag: last magnitude bin
    assert list(out[1, :n_dir, 1]) == [2] * n_dir  # half of it: floor(0.5 * 4 + 0.5)
    assert tuple(out[0, n_dir, :2]) == (0, 0) and tuple(out[0, n_dir + 1, :2]) == (0, 0)
    out = flow_to_color(flow, index_lut(n_dir, n_mag), 0.0, backend=backend)
    assert (out[..., 1] == 0).all()  # max_mag 0: every pixel in magnitude bin 0


@needs_native
@pytest.mark.parametrize("n_dir", [1, 2, 4, 8, 16, 24, 64])
def test_axis_and_diagonal_directions_equal_reference(n_dir):
    """Exact axes and diagonals (common in real, quantised flow) sit on bin boundaries."""
    vals = np.array([-2.0, -0.0, 0.0, 2.0], np.float32)
    u, v = np.meshgrid(vals, vals)
    flow = np.stack([u, v], -1).astype(np.float32)
    lut = index_lut(n_dir, 3)
    ref = np.empty(flow.shape[:2] + (3,), np.uint8)
    got = np.empty_like(ref)
    _reference.flow_to_color(flow, lut, 2.0, ref)
    native().flow_to_color(flow, lut, 2.0, got, 1)
    np.testing.assert_array_equal(got, ref)


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_arguments_raise_typed_errors(backend):
    flow = np.zeros((4, 5, 2), np.float32)
    lut = index_lut(8, 4)
    with pytest.raises(FormatError):
        flow_to_color(np.zeros((4, 5, 3), np.float32), lut, backend=backend)
    with pytest.raises(FormatError):
        flow_to_color(flow.astype(np.float64), lut, backend=backend)
    with pytest.raises(FormatError):
        flow_to_color(flow, lut[..., :2], backend=backend)
    with pytest.raises(FormatError):
        flow_to_color(flow, lut.astype(np.int16), backend=backend)
    with pytest.raises(ParameterError):
        flow_to_color(flow, lut, -1.0, backend=backend)
    with pytest.raises(ParameterError):
        flow_to_color(flow, lut, float("nan"), backend=backend)
    with pytest.raises(ParameterError):
        flow_to_color(flow, lut, threads=0, backend=backend)


@needs_native
def test_native_rejects_bad_arguments():
    n = native()
    flow = np.zeros((4, 5, 2), np.float32)
    lut = index_lut(8, 4)
    out = np.empty((4, 5, 3), np.uint8)
    n.flow_to_color(flow, lut, 1.0, out, 1)
    with pytest.raises(ValueError, match="flow_to_color: out"):
        n.flow_to_color(flow, lut, 1.0, out[:, :4], 1)
    with pytest.raises(TypeError, match="flow_to_color: out"):
        n.flow_to_color(flow, lut, 1.0, out.astype(np.uint16), 1)
    with pytest.raises(ValueError, match="flow_to_color: out"):
        n.flow_to_color(flow, lut, 1.0, np.empty((4, 5, 4), np.uint8)[..., :3], 1)
    with pytest.raises(ValueError, match="flow_to_color: flow"):
        n.flow_to_color(np.zeros((4, 5, 3), np.float32)[..., :2], lut, 1.0, out, 1)
    with pytest.raises(TypeError, match="flow_to_color: flow"):
        n.flow_to_color(flow.astype(np.float64), lut, 1.0, out, 1)
    with pytest.raises(ValueError, match="flow_to_color: lut"):
        n.flow_to_color(flow, lut[:, :, :2], 1.0, out, 1)
    with pytest.raises(ValueError, match="flow_to_color: max_mag"):
        n.flow_to_color(flow, lut, float("nan"), out, 1)
    with pytest.raises(ValueError, match="flow_to_color: threads"):
        n.flow_to_color(flow, lut, 1.0, out, 0)
    with pytest.raises(ValueError, match="flow_to_color: min_mag"):
        n.flow_to_color(flow, lut, 1.0, out, 1, float("nan"))
    # A strided lookup table is fine (it is tiny and repacked).
    n.flow_to_color(flow, np.ascontiguousarray(lut[::-1])[::-1], 1.0, out, 1)
