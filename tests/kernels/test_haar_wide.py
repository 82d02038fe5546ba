"""Native Haar on wide planes (the vector loops and their tails) and with several threads.

The native kernels run 16 (uint8) or 8 (uint16) blocks per vector step, two steps at a time,
with a scalar tail, and split band rows between threads on large planes: every width class,
every view layout and every thread count must give the numpy reference's numbers bit for bit
and write nothing outside the views they were given.
"""

from __future__ import annotations

import numpy as np
import pytest
from _kernel_common import (BACKENDS, assert_native_inverse_of_random_bands, assert_same,
                            hypothesis_settings, native, needs_native, random_plane)
from hypothesis import given
from hypothesis import strategies as st

from vpfilters.errors import ParameterError
from vpfilters.kernels import _reference, haar_forward, haar_inverse

SETTINGS = hypothesis_settings(40)
DEPTHS = [(np.uint8, 8), (np.uint16, 10), (np.uint16, 16), (np.float32, None)]


def padded(shape, dtype, pad_x, pad_y, fill):
    """(whole, view): a view of ``shape`` inside a larger array filled with ``fill``."""
    h, w = shape
    whole = np.full((h + 2 * pad_y, w + 2 * pad_x), fill, dtype)
    return whole, whole[pad_y:pad_y + h, pad_x:pad_x + w]


def band_views(shape, dtype, pad_x=0, pad_y=0):
    h, w = (shape[0] + 1) // 2, (shape[1] + 1) // 2
    ddt = _reference.DETAIL_DTYPE[np.dtype(dtype)]
    return [padded((h, w), dt, pad_x, pad_y, 5) for dt in (np.dtype(dtype), ddt, ddt, ddt)]


def outside(whole, pad_x, pad_y):
    mask = np.ones(whole.shape, bool)
    mask[pad_y:whole.shape[0] - pad_y, pad_x:whole.shape[1] - pad_x] = False
    return whole[mask]


def reference_bands(x):
    ref = [np.empty_like(v) for _, v in band_views(x.shape, x.dtype)]
    _reference.haar_fwd(x, *ref)
    return ref


@needs_native
@SETTINGS
@given(h=st.integers(1, 6), w=st.integers(1, 300), depth=st.sampled_from(DEPTHS),
       pad_x=st.integers(0, 37), pad_y=st.integers(0, 2), flip=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_wide_rows_equal_reference_and_stay_in_their_views(h, w, depth, pad_x, pad_y, flip, seed):
    dtype, bits = depth
    rng = np.random.default_rng(seed)
    x = random_plane(rng, h, w, dtype, bits)
    big, src = padded((h, w), dtype, pad_x, pad_y, 0)
    src[...] = x
    if flip:  # negative row stride
        src = src[::-1]
        x = x[::-1]
    before = big.copy()

    ref = reference_bands(x)
    got = band_views(x.shape, dtype, pad_x=3, pad_y=1)
    native().haar_fwd(src, *(v for _, v in got))
    for r, (whole, v) in zip(ref, got):
        assert_same(v, r, dtype)
        assert (outside(whole, 3, 1) == 5).all()
    np.testing.assert_array_equal(big, before)

    ref_out = np.empty((h, w), dtype)
    _reference.haar_inv(*ref, ref_out)
    out_whole, out = padded((h, w), dtype, pad_x + 1, pad_y, 7)
    native().haar_inv(*(v for _, v in got), out)
    assert_same(out, ref_out, dtype)
    assert (outside(out_whole, pad_x + 1, pad_y) == 7).all()
    if bits is not None:
        np.testing.assert_array_equal(out, x)


@needs_native
@SETTINGS
@given(h=st.integers(1, 5), w=st.integers(1, 300), dtype=st.sampled_from([np.uint8, np.uint16]),
       scale=st.sampled_from([1, 300, 20_000, None]), seed=st.integers(0, 2**32 - 1))
def test_wide_inverse_of_arbitrary_bands_equals_reference(h, w, dtype, scale, seed):
    """The vector inverse works modulo its lane width: exact for any detail values."""
    assert_native_inverse_of_random_bands(np.random.default_rng(seed), h, w, dtype, scale,
                                          extremes=True)


# Large enough (>= 2 MiB per plane, 3 MiB for three threads) that the kernels really split rows.
BIG = [((1051, 2000), np.uint8, 8), ((1000, 1100), np.uint16, 12), ((700, 801), np.float32, None),
       ((1601, 2049), np.uint8, 8)]


@needs_native
@pytest.mark.parametrize("shape,dtype,bits", BIG)
def test_threads_split_rows_without_changing_a_value(shape, dtype, bits):
    rng = np.random.default_rng(shape[0])
    x = random_plane(rng, *shape, dtype, bits)
    ref = reference_bands(x)
    one = band_views(shape, dtype)
    native().haar_fwd(x, *(v for _, v in one))
    for r, (_, v) in zip(ref, one):
        assert_same(v, r, dtype)
    back_one = np.empty(shape, dtype)
    native().haar_inv(*(v for _, v in one), back_one)
    for threads in (2, 3, 8):
        got = band_views(shape, dtype, pad_x=2, pad_y=1)
        native().haar_fwd(x, *(v for _, v in got), threads=threads)
        for (_, a), (whole, b) in zip(one, got):
            np.testing.assert_array_equal(b, a)
            assert (outside(whole, 2, 1) == 5).all()
        out_whole, out = padded(shape, dtype, 1, 2, 7)
        native().haar_inv(*(v for _, v in got), out, threads=threads)
        np.testing.assert_array_equal(out, back_one)
        assert (outside(out_whole, 1, 2) == 7).all()
    if bits is not None:
        np.testing.assert_array_equal(back_one, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_public_threads_keyword(backend, monkeypatch):
    x = np.random.default_rng(5).integers(0, 256, (1100, 2000)).astype(np.uint8)
    a = haar_forward(x, 2, backend=backend)
    b = haar_forward(x, 2, backend=backend, threads=2)
    np.testing.assert_array_equal(a.ll, b.ll)
    for la, lb in zip(a.details, b.details):
        for u, v in zip(la, lb):
            np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(haar_inverse(b, backend=backend, threads=2), x)
    monkeypatch.setenv("VPF_THREADS", "2")  # the default thread count
    np.testing.assert_array_equal(haar_inverse(haar_forward(x, 1, backend=backend),
                                               backend=backend), x)
    with pytest.raises(ParameterError):
        haar_forward(x, 1, backend=backend, threads=0)
    with pytest.raises(ParameterError):
        haar_inverse(a, backend=backend, threads=-1)


@needs_native
def test_native_rejects_bad_thread_counts():
    src = np.zeros((6, 9), np.uint8)
    bands = [np.zeros((3, 5), np.uint8)] + [np.zeros((3, 5), np.int16) for _ in range(3)]
    with pytest.raises(ValueError, match="haar_fwd: threads"):
        native().haar_fwd(src, *bands, threads=0)
    with pytest.raises(ValueError, match="haar_inv: threads"):
        native().haar_inv(*bands, src, threads=0)
