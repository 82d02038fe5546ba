"""Haar wavelet kernels: native == numpy reference bit for bit, lossless roundtrip, typed errors."""

from __future__ import annotations

import numpy as np
import pytest
from _kernel_common import (BACKENDS, assert_native_inverse_of_random_bands, assert_same,
                            hypothesis_settings, native, needs_native, random_plane)
from hypothesis import given
from hypothesis import strategies as st

from vpfilters.errors import BackendError, FormatError, ParameterError
from vpfilters.kernels import HaarPyramid, _reference, haar_forward, haar_inverse

SETTINGS = hypothesis_settings(60)

# (dtype, bit depth): uint16 planes hold 10/12/16-bit values; None marks float32.
DEPTHS = [(np.uint8, 8), (np.uint16, 10), (np.uint16, 12), (np.uint16, 16), (np.float32, None)]


def embed(rng, a, pad_x, pad_y):
    """``a`` as a view into a larger random array (padded rows, offset origin)."""
    h, w = a.shape
    big = random_plane(rng, h + 2 * pad_y, w + 2 * pad_x, a.dtype.type,
                       None if a.dtype == np.float32 else 8)
    view = big[pad_y:pad_y + h, pad_x:pad_x + w]
    view[...] = a
    return big, view


def empty_bands(shape, dtype, pad=0):
    h, w = (shape[0] + 1) // 2, (shape[1] + 1) // 2
    ddt = _reference.DETAIL_DTYPE[np.dtype(dtype)]
    out = []
    for dt in (np.dtype(dtype), ddt, ddt, ddt):
        big = np.zeros((h + 2 * pad, w + 2 * pad), dt)
        out.append((big, big[pad:pad + h, pad:pad + w]))
    return out


# ------------------------------------------------------------------------------------ parity


@needs_native
@SETTINGS
@given(h=st.integers(1, 41), w=st.integers(1, 41), depth=st.sampled_from(DEPTHS),
       pad_x=st.integers(0, 5), pad_y=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_native_forward_and_inverse_equal_reference(h, w, depth, pad_x, pad_y, seed):
    dtype, bits = depth
    rng = np.random.default_rng(seed)
    x = random_plane(rng, h, w, dtype, bits)
    big, src = embed(rng, x, pad_x, pad_y)
    before = big.copy()

    ref = [np.empty_like(v) for _, v in empty_bands(x.shape, dtype)]
    _reference.haar_fwd(x, *ref)
    got = empty_bands(x.shape, dtype, pad=2)
    native().haar_fwd(src, *(v for _, v in got))
    for r, (whole, v) in zip(ref, got):
        assert_same(v, r, dtype)
        assert not whole[:2].any() and not whole[-2:].any()  # nothing written outside the views
        assert not whole[:, :2].any() and not whole[:, -2:].any()
    np.testing.assert_array_equal(big, before)  # the source is untouched

    ref_out = np.empty((h, w), dtype)
    _reference.haar_inv(*ref, ref_out)
    out_big = np.full((h + 4, w + 6), 7, dtype)
    out = out_big[2:2 + h, 3:3 + w]
    native().haar_inv(*(v for _, v in got), out)
    assert_same(out, ref_out, dtype)
    mask = np.ones(out_big.shape, bool)
    mask[2:2 + h, 3:3 + w] = False
    assert (out_big[mask] == 7).all()
    if bits is not None:
        np.testing.assert_array_equal(out, x)  # lossless


@needs_native
@SETTINGS
@given(h=st.integers(1, 25), w=st.integers(1, 25), dtype=st.sampled_from([np.uint8, np.uint16]),
       scale=st.sampled_from([1, 100, 10_000, None]), seed=st.integers(0, 2**32 - 1))
def test_native_inverse_of_edited_bands_equals_reference(h, w, dtype, scale, seed):
    """Edited or arbitrary detail bands (outside what a forward pass makes) still match."""
    assert_native_inverse_of_random_bands(np.random.default_rng(seed), h, w, dtype, scale)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (1, 7), (7, 1), (3, 3), (2, 2)])
@pytest.mark.parametrize("dtype,bits", DEPTHS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_planes(shape, dtype, bits, backend):
    rng = np.random.default_rng(sum(shape))
    x = random_plane(rng, *shape, dtype, bits)
    pyr = haar_forward(x, 1, backend=backend)
    assert pyr.ll.shape == ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    ref = [np.empty_like(v) for v in (pyr.ll, *pyr.details[0])]
    _reference.haar_fwd(x, *ref)
    for a, b in zip((pyr.ll, *pyr.details[0]), ref):
        assert_same(a, b, dtype)
    assert_same(haar_inverse(pyr, backend=backend), x, dtype)


# ------------------------------------------------------------------------------------ public API


@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(h=st.integers(1, 70), w=st.integers(1, 70), levels=st.integers(1, 4),
       depth=st.sampled_from(DEPTHS[:4]), seed=st.integers(0, 2**32 - 1))
def test_multilevel_roundtrip_is_lossless(backend, h, w, levels, depth, seed):
    dtype, bits = depth
    x = random_plane(np.random.default_rng(seed), h, w, dtype, bits)
    pyr = haar_forward(x, levels, backend=backend)
    assert pyr.levels == levels
    assert pyr.shapes[0] == (h, w)
    ddt = _reference.DETAIL_DTYPE[np.dtype(dtype)]
    assert all(b.dtype == ddt for lvl in pyr.details for b in lvl)
    y = haar_inverse(pyr, backend=backend)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float_roundtrip_and_ll_is_box_average(backend):
    rng = np.random.default_rng(3)
    x = rng.random((37, 52)).astype(np.float32)
    pyr = haar_forward(x, 3, backend=backend)
    np.testing.assert_allclose(haar_inverse(pyr, backend=backend), x, atol=1e-5)
    one = haar_forward(x[:36], 1, backend=backend)
    box = x[:36].reshape(18, 2, 26, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(one.ll, box, atol=1e-6)


@needs_native
def test_public_api_backends_agree_on_strided_input():
    rng = np.random.default_rng(11)
    big = rng.integers(0, 1024, (90, 140)).astype(np.uint16)
    views = [big[3:80, 5:130], big[::2, 1:], big[:, ::3], big[::-1, :]]  # padded, pixel-strided, flipped
    for v in views:
        a = haar_forward(v, 2, backend="numpy")
        b = haar_forward(v, 2, backend="native")
        np.testing.assert_array_equal(a.ll, b.ll)
        for la, lb in zip(a.details, b.details):
            for x, y in zip(la, lb):
                np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(haar_inverse(b, backend="native"), v)


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_frames_roundtrip_and_parity(real_frames, backend):
    for planes in real_frames:
        for p in planes:
            pyr = haar_forward(p, 3, backend=backend)
            ref = haar_forward(p, 3, backend="numpy")
            np.testing.assert_array_equal(pyr.ll, ref.ll)
            for la, lb in zip(pyr.details, ref.details):
                for x, y in zip(la, lb):
                    np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(haar_inverse(pyr, backend=backend), p)
            # A natural image keeps most energy in LL: detail bands are small on average.
            assert np.abs(pyr.details[0][2]).mean() < 8


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bits", [10, 12, 16])
def test_kodak_high_bit_depth_roundtrip(kodak_luma, backend, bits):
    rng = np.random.default_rng(bits)
    for y in kodak_luma[:2]:
        hi = (y.astype(np.uint16) << (bits - 8)) | rng.integers(0, 1 << (bits - 8), y.shape).astype(np.uint16)
        pyr = haar_forward(hi, 2, backend=backend)
        np.testing.assert_array_equal(haar_inverse(pyr, backend=backend), hi)
        assert int(pyr.ll.max()) < (1 << bits)


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_arguments_raise_typed_errors(backend):
    good = np.zeros((8, 8), np.uint8)
    with pytest.raises(FormatError):
        haar_forward(np.zeros((4, 4, 3), np.uint8), backend=backend)
    with pytest.raises(FormatError):
        haar_forward(np.zeros((4, 4), np.int32), backend=backend)
    with pytest.raises(FormatError):
        haar_forward(np.zeros((0, 4), np.uint8), backend=backend)
    with pytest.raises(ParameterError):
        haar_forward(good, 0, backend=backend)
    with pytest.raises(ParameterError):
        haar_forward(good, 1.5, backend=backend)
    with pytest.raises(ParameterError):
        haar_inverse("not a pyramid", backend=backend)
    with pytest.raises(ParameterError):
        haar_inverse(HaarPyramid(ll=good), backend=backend)
    pyr = haar_forward(good, 1, backend=backend)
    lh, hl, hh = pyr.details[0]
    pyr.details[0] = (lh[:-1], hl, hh)
    with pytest.raises(FormatError) as e:
        haar_inverse(pyr, backend=backend)
    assert e.value.parameter == "lh"
    with pytest.raises(ParameterError):
        haar_forward(good, backend="bogus")


def test_forcing_missing_native_raises_backend_error(monkeypatch):
    from vpfilters.kernels import _backend
    monkeypatch.setattr(_backend, "_native", lambda: None)
    with pytest.raises(BackendError):
        haar_forward(np.zeros((4, 4), np.uint8), backend="native")


@needs_native
def test_native_rejects_bad_views_and_types():
    n = native()
    src = np.zeros((6, 9), np.uint8)
    bands = [np.zeros((3, 5), np.uint8)] + [np.zeros((3, 5), np.int16) for _ in range(3)]
    n.haar_fwd(src, *bands)  # the good call works
    with pytest.raises(ValueError, match="haar_fwd: src"):
        n.haar_fwd(np.zeros((6, 18), np.uint8)[:, ::2], *bands)  # pixels not contiguous
    with pytest.raises(ValueError, match="haar_fwd: ll"):
        n.haar_fwd(src, np.zeros((3, 4), np.uint8), *bands[1:])
    with pytest.raises(TypeError, match="haar_fwd: lh"):
        n.haar_fwd(src, bands[0], np.zeros((3, 5), np.int32), *bands[2:])
    with pytest.raises(TypeError, match="haar_fwd: src"):
        n.haar_fwd(src.astype(np.int8), *bands)
    with pytest.raises(TypeError, match="must be a numpy array"):
        n.haar_fwd(src.tolist(), *bands)
    ro = bands[0].copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        n.haar_fwd(src, ro, *bands[1:])
    with pytest.raises(ValueError, match="share memory"):
        n.haar_fwd(src, bands[0], bands[1], bands[1], bands[3])
    with pytest.raises(ValueError, match="haar_inv: dst"):
        n.haar_inv(*bands, np.zeros((6, 9), np.uint8)[:, ::-1])  # negative pixel stride
    with pytest.raises(ValueError, match="haar_inv: ll"):
        n.haar_inv(*bands, np.zeros((8, 9), np.uint8))
    with pytest.raises(TypeError, match="haar_inv: dst"):
        n.haar_inv(*bands, np.zeros((6, 9), np.uint16))
