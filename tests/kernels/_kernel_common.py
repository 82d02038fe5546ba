"""Helpers shared by the kernel parity tests (test_haar, test_haar_wide, test_mask_blur).

Imported as ``_kernel_common``: pytest puts this folder (no ``__init__.py``) on ``sys.path``
when it imports the test modules beside it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from vpfilters.kernels import _reference, available_backends

NATIVE = "native" in available_backends()
needs_native = pytest.mark.skipif(not NATIVE, reason="vpfilters._native is not built")
BACKENDS = ["numpy", pytest.param("native", marks=needs_native)]


def hypothesis_settings(max_examples: int):
    """No deadline (native and numpy timings vary widely), big and slow examples allowed."""
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def native():
    from vpfilters import _native
    return _native


def random_plane(rng, h, w, dtype, bits, *, float_max=None):
    """An (h, w) plane of random ``bits``-bit samples in ``dtype``; ``bits=None``: float32,
    N(0, 100^2) (signed, like detail bands), or uniform in [0, ``float_max``) when given."""
    if bits is None:
        if float_max is None:
            return (rng.standard_normal((h, w)) * 100).astype(np.float32)
        return (rng.random((h, w)) * float_max).astype(np.float32)
    return rng.integers(0, 1 << bits, (h, w)).astype(dtype)


def assert_same(a, b, dtype, rtol=0.0):
    """Bit for bit for integer samples; within 1e-3 (and ``rtol``) for float32."""
    if np.dtype(dtype) == np.float32:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-3)
    else:
        np.testing.assert_array_equal(a, b)


def assert_native_inverse_of_random_bands(rng, h, w, dtype, scale, *, extremes=False):
    """Native ``haar_inv`` == the reference on random bands for an (h, w) plane: LL anywhere in
    ``dtype``, details within +-``scale``, or (``scale=None``) over the detail type's whole range,
    with ``extremes`` its minimum and maximum planted every 7th / 5th sample."""
    bh, bw = (h + 1) // 2, (w + 1) // 2
    ddt = _reference.DETAIL_DTYPE[np.dtype(dtype)]
    info = np.iinfo(ddt)
    ll = rng.integers(0, np.iinfo(dtype).max + 1, (bh, bw)).astype(dtype)
    if scale is None:
        bands = [rng.integers(info.min, info.max, (bh, bw), endpoint=True).astype(ddt)
                 for _ in range(3)]
        if extremes:
            bands[0].flat[::7] = info.min
            bands[1].flat[::5] = info.max
    else:
        bands = [rng.integers(-scale, scale + 1, (bh, bw)).astype(ddt) for _ in range(3)]
    ref = np.empty((h, w), dtype)
    got = np.empty((h, w), dtype)
    _reference.haar_inv(ll, *bands, ref)
    native().haar_inv(ll, *bands, got)
    np.testing.assert_array_equal(got, ref)
