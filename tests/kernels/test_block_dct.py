"""Block low-DCT kernels: native == numpy reference up to float rounding, typed errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vpfilters.errors import FormatError, ParameterError
from vpfilters.kernels import _reference, available_backends, block_lowdct, block_lowdct_apply

NATIVE = "native" in available_backends()
needs_native = pytest.mark.skipif(not NATIVE, reason="vpfilters._native is not built")
CLIP = Path(__file__).resolve().parents[2] / "benchmarks" / "clips" / "clean_1080p.mp4"


def random_plane(rng, h, w, bits):
    dtype = np.uint8 if bits == 8 else np.uint16
    return rng.integers(0, 1 << bits, (h, w)).astype(dtype)


def smooth_plane(rng, h, w, bits):
    """A natural-ish picture: smooth gradients plus mild noise (values mid-range and at the rails)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x = 0.5 + 0.6 * np.sin(xx / 37.0) * np.cos(yy / 23.0) + 0.05 * rng.standard_normal((h, w))
    m = (1 << bits) - 1
    return np.clip(np.rint(x * m), 0, m).astype(np.uint8 if bits == 8 else np.uint16)


def real_plane(bits):
    av = pytest.importorskip("av")
    if not CLIP.exists():
        pytest.skip("benchmark clip missing")
    with av.open(str(CLIP)) as c:
        y = next(c.decode(video=0)).to_ndarray(format="gray")
    return y if bits == 8 else y.astype(np.uint16) << (bits - 8)


def dense_lowdct(x, b):
    """Straightforward float64 definition: D X D^T per block."""
    d = _reference.dct_rows(b).astype(np.float64)
    hb, wb = x.shape[0] // b, x.shape[1] // b
    blocks = x[:hb * b, :wb * b].astype(np.float64).reshape(hb, b, wb, b).transpose(0, 2, 1, 3)
    return np.einsum("uy,ijyx,vx->ijuv", d, blocks, d)


def change_coefs(rng, hb, wb, scale):
    return (rng.standard_normal((hb, wb, 4, 4)) * scale).astype(np.float32)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("native", marks=needs_native)])
@pytest.mark.parametrize("b", [16, 24, 32])
def test_forward_matches_definition(backend, b):
    rng = np.random.default_rng(b)
    x = random_plane(rng, 3 * b + 5, 4 * b + 11, 8)  # partial blocks at the edges are ignored
    c = block_lowdct(x, b, backend=backend)
    assert c.shape == (3, 4, 4, 4) and c.dtype == np.float32
    np.testing.assert_allclose(c, dense_lowdct(x, b), rtol=1e-5, atol=2e-3 * b)


@needs_native
@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("b", [16, 24, 32])
@pytest.mark.parametrize("shape", [(97, 131), (256, 320), (50, 33)])
def test_forward_native_matches_numpy(bits, b, shape):
    rng = np.random.default_rng([bits, b, *shape])
    for x in (random_plane(rng, *shape, bits), smooth_plane(rng, *shape, bits)):
        ref = block_lowdct(x, b, backend="numpy")
        nat = block_lowdct(x, b, backend="native", threads=3)
        scale = float(1 << bits) * b
        np.testing.assert_allclose(nat, ref, rtol=1e-5, atol=1e-5 * scale)


@needs_native
def test_forward_float_and_strided():
    rng = np.random.default_rng(7)
    big = (rng.random((300, 400)) * 255).astype(np.float32)
    view = big[3:250, 5:390]  # padded rows, offset origin
    ref = block_lowdct(np.ascontiguousarray(view), 32, backend="numpy")
    nat = block_lowdct(view, 32, backend="native")
    np.testing.assert_allclose(nat, ref, rtol=1e-5, atol=0.05)


def _apply_both(x, b, coefs, maxval, threads=1):
    ref, nat = x.copy(), x.copy()
    block_lowdct_apply(ref, b, None, coefs, maxval, backend="numpy")
    block_lowdct_apply(nat, b, None, coefs, maxval, backend="native", threads=threads)
    return ref, nat


def _assert_close_ints(ref, nat, frac=1e-3):
    d = np.abs(ref.astype(np.int64) - nat.astype(np.int64))
    assert d.max() <= 1
    assert (d > 0).mean() <= frac


@needs_native
@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("b", [16, 24, 32])
@pytest.mark.parametrize("shape", [(97, 131), (256, 320), (50, 33)])
def test_apply_native_matches_numpy(bits, b, shape):
    rng = np.random.default_rng([bits, b, *shape, 1])
    maxval = (1 << bits) - 1
    for x in (random_plane(rng, *shape, bits), smooth_plane(rng, *shape, bits)):
        hb, wb = shape[0] // b, shape[1] // b
        coefs = change_coefs(rng, hb, wb, 40.0 * (1 << (bits - 8)) * b / 32)
        ref, nat = _apply_both(x, b, coefs, maxval, threads=2)
        _assert_close_ints(ref, nat)
        # partial blocks untouched, values clipped to the bit depth
        np.testing.assert_array_equal(nat[hb * b:], x[hb * b:])
        np.testing.assert_array_equal(nat[:, wb * b:], x[:, wb * b:])
        assert nat.max() <= maxval


@needs_native
@pytest.mark.parametrize("bits", [8, 10])
def test_apply_real_frame(bits):
    x = real_plane(bits)
    rng = np.random.default_rng(bits)
    b = 32
    coefs = change_coefs(rng, x.shape[0] // b, x.shape[1] // b, 30.0 * (1 << (bits - 8)))
    ref, nat = _apply_both(x, b, coefs, (1 << bits) - 1, threads=2)
    _assert_close_ints(ref, nat)
    c_ref = block_lowdct(x, b, backend="numpy")
    c_nat = block_lowdct(x, b, backend="native", threads=2)
    np.testing.assert_allclose(c_nat, c_ref, rtol=1e-5, atol=1e-5 * (1 << bits) * b)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("native", marks=needs_native)])
def test_apply_inverts_forward(backend):
    """Adding a coefficient change moves the block's coefficients by that change (no clipping)."""
    rng = np.random.default_rng(3)
    x = np.full((64, 96), 128, np.uint8) + rng.integers(-20, 20, (64, 96)).astype(np.uint8)
    coefs = change_coefs(rng, 2, 3, 30.0)
    before = block_lowdct(x, 32, backend=backend)
    block_lowdct_apply(x, 32, None, coefs, 255, backend=backend)
    after = block_lowdct(x, 32, backend=backend)
    # rounding to integers adds at most 0.5 per pixel: <= 0.5 * 32 per coefficient, ~0.3 * 32 rms
    np.testing.assert_allclose(after - before, coefs, atol=6.0)


@needs_native
def test_apply_clips_and_rounds_half_even():
    x = np.zeros((32, 32), np.uint8)
    coefs = np.zeros((1, 1, 4, 4), np.float32)
    coefs[0, 0, 0, 0] = 32 * 2.5  # DC: +2.5 everywhere -> rint -> 2 (half to even)
    for be in ("numpy", "native"):
        y = x.copy()
        block_lowdct_apply(y, 32, None, coefs, 255, backend=be)
        assert (y == 2).all(), be
        y = np.full((32, 32), 250, np.uint16)
        block_lowdct_apply(y, 32, None, coefs * 100, 255, backend=be)
        assert (y == 255).all(), be
        block_lowdct_apply(y, 32, None, -coefs * 200, 255, backend=be)
        assert (y == 0).all(), be


@pytest.mark.parametrize("backend", ["numpy", pytest.param("native", marks=needs_native)])
def test_errors(backend):
    x = np.zeros((64, 64), np.uint8)
    with pytest.raises(ParameterError):
        block_lowdct(x, 2, backend=backend)
    with pytest.raises(FormatError):
        block_lowdct(x, 32, np.zeros((4, 16), np.float32), backend=backend)
    with pytest.raises(FormatError):
        block_lowdct_apply(x, 32, None, np.zeros((1, 2, 4, 4), np.float32), backend=backend)
    with pytest.raises(FormatError):
        block_lowdct_apply(x.astype(np.float32), 32, None, np.zeros((2, 2, 4, 4), np.float32),
                           backend=backend)
    with pytest.raises(ParameterError):
        block_lowdct_apply(x, 32, None, np.zeros((2, 2, 4, 4), np.float32), 300, backend=backend)


@needs_native
def test_native_module_checks():
    from vpfilters import _native
    x = np.zeros((64, 64), np.uint8)
    d = _reference.dct_rows(32)
    with pytest.raises(ValueError):
        _native.block_lowdct(x, 32, d, np.zeros((2, 2, 4, 3), np.float32))
    with pytest.raises(TypeError):
        _native.block_lowdct(x, 32, d.astype(np.float64), np.zeros((2, 2, 4, 4), np.float32))
    ro = np.zeros((2, 2, 4, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        _native.block_lowdct(x, 32, d, ro)
    with pytest.raises(ValueError):
        _native.block_lowdct_apply(x, 32, d, np.zeros((2, 2, 4, 4), np.float32), 256)
