"""Backend selection: numpy reference, native C++ (vpfilters._native) or CuPy."""

from __future__ import annotations

import functools
import os

import numpy as np

from vpfilters.errors import BackendError, ParameterError

BACKENDS = ("numpy", "native", "cupy")


@functools.cache
def _native():
    try:
        from vpfilters import _native as mod
    except ImportError:
        return None
    return mod


@functools.cache
def _cupy_ok() -> bool:
    """True only when CuPy imports *and* a CUDA device is really present."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy raises several driver/runtime error types without a GPU
        return False


def available_backends() -> list[str]:
    out = ["numpy"]
    if _native() is not None:
        out.append("native")
    if _cupy_ok():
        out.append("cupy")
    return out


def is_cupy_array(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def array_module(x):
    if is_cupy_array(x):
        import cupy
        return cupy
    return np


def select_backend(name: str | None = None, array=None) -> str:
    """Resolve the backend for an array: explicit ``name``, else ``VPF_BACKEND``, else automatic."""
    if array is not None and is_cupy_array(array):
        if not _cupy_ok():
            raise BackendError("a CuPy array was given but no CUDA device is available")
        return "cupy"
    name = name or os.environ.get("VPF_BACKEND") or None
    if name is None:
        return "native" if _native() is not None else "numpy"
    if name not in BACKENDS:
        raise ParameterError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}",
                             parameter="backend")
    if name == "native" and _native() is None:
        raise BackendError("the native backend was requested but vpfilters._native is not built "
                           "(reinstall with a C++ compiler, or use VPF_BACKEND=numpy)")
    if name == "cupy" and not _cupy_ok():
        raise BackendError("the cupy backend was requested but CuPy or a CUDA device is missing")
    return name


def implementation(name: str | None, array):
    """(module with haar_fwd/haar_inv/mask_apply/flow_to_color, array module) for ``array``."""
    chosen = select_backend(name, array)
    if chosen == "numpy":
        from vpfilters.kernels import _reference
        return _reference, np
    if chosen == "native":
        return _native(), np
    from vpfilters.kernels import _cupy
    return _cupy, (array_module(array) if is_cupy_array(array) else np)


def threads(n: int | None) -> int:
    """Thread count for one kernel call: ``n``, else ``VPF_THREADS``, else 1 (hosts parallelise)."""
    if n is None:
        n = int(os.environ.get("VPF_THREADS", "1") or 1)
    if n < 1:
        raise ParameterError(f"threads must be >= 1, got {n}", parameter="threads")
    return int(n)
