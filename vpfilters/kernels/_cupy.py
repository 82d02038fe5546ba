"""CuPy backend: the reference kernels as CUDA kernels, with the same caller-allocated signatures.

Each function takes CuPy arrays, or numpy arrays (copied to the device, computed, and copied back
into the numpy outputs). The CUDA sources are ``.cu`` files compiled by NVRTC on first use through
memoised factories keyed by dtype (cuCIM style). They ship in ``vpfilters/kernels/cuda/`` and are
read from ``csrc/cuda/`` in a source checkout. CuPy is imported lazily, so this module imports on
machines without it. ``threads`` is accepted for signature parity and ignored.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from vpfilters.errors import BackendError, FormatError, ParameterError
from vpfilters.kernels import _reference
from vpfilters.kernels._backend import is_cupy_array

_HERE = Path(__file__).resolve().parent
CUDA_DIRS = (_HERE / "cuda", _HERE.parents[1] / "csrc" / "cuda")
CUDA_SOURCES = ("haar.cu", "blur.cu", "flowcolor.cu")

# Never add fast-math here: the integer kernels are bit-exact and the float ones rely on IEEE ops.
_NVRTC_OPTIONS: tuple[str, ...] = ()
_BLOCK = (32, 8, 1)

_CTYPE = {
    np.dtype(np.uint8): "unsigned char",
    np.dtype(np.uint16): "unsigned short",
    np.dtype(np.int16): "short",
    np.dtype(np.int32): "int",
    np.dtype(np.float32): "float",
}
_DETAIL = {np.dtype(np.uint8): np.dtype(np.int16), np.dtype(np.uint16): np.dtype(np.int32),
           np.dtype(np.float32): np.dtype(np.float32)}
# Work buffers of the blur passes and mosaic means: every intermediate value of an integer plane
# is a rounded mean of pixels, so int32 holds it.
_WORK = {np.dtype(np.uint8): np.dtype(np.int32), np.dtype(np.uint16): np.dtype(np.int32),
         np.dtype(np.float32): np.dtype(np.float32)}


# ------------------------------------------------------------------------------ sources, factories


def cuda_source_path(name: str) -> Path:
    """Path of a ``.cu`` file: the installed package data first, then the source checkout."""
    for d in CUDA_DIRS:
        p = d / name
        if p.is_file():
            return p
    raise BackendError(f"CUDA source {name} not found in {', '.join(str(d) for d in CUDA_DIRS)} "
                       "(the wheel must install csrc/cuda/*.cu into vpfilters/kernels/cuda)")


@functools.cache
def cuda_source(name: str) -> str:
    return cuda_source_path(name).read_text(encoding="utf-8")


def haar_names(dtype) -> tuple[str, str]:
    """Name expressions (forward, inverse) of the Haar kernels for a plane dtype."""
    dtype = np.dtype(dtype)
    t, d = _CTYPE[dtype], _CTYPE[_DETAIL[dtype]]
    return f"vpf_haar_fwd<{t}, {d}>", f"vpf_haar_inv<{t}, {d}>"


def blur_names(dtype) -> tuple[str, str, str, str]:
    """Name expressions (box_h, box_v, pixelate_means, composite) for a plane dtype."""
    dtype = np.dtype(dtype)
    t, w = _CTYPE[dtype], _CTYPE[_WORK[dtype]]
    return (f"vpf_box_h<{w}>", f"vpf_box_v<{w}>", f"vpf_pixelate_means<{t}, {w}>",
            f"vpf_mask_composite<{t}, {w}>")


FLOW_NAMES = ("vpf_flow_to_color",)


def kernel_names() -> dict[str, tuple[str, ...]]:
    """Every kernel name expression the factories compile, per source file (for tests)."""
    dts = list(_DETAIL)
    return {
        "haar.cu": tuple(n for dt in dts for n in haar_names(dt)),
        "blur.cu": tuple(n for dt in dts for n in blur_names(dt)),
        "flowcolor.cu": FLOW_NAMES,
    }


def _cupy():
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - the backend selector checks first
        raise BackendError("the cupy backend needs CuPy (pip install vpfilters[gpu])") from exc
    return cupy


@functools.cache
def _module(source: str, names: tuple[str, ...]):
    cp = _cupy()
    return cp.RawModule(code=cuda_source(source), options=_NVRTC_OPTIONS,
                        name_expressions=names)


@functools.cache
def _haar_kernels(dtype: np.dtype):
    names = haar_names(dtype)
    mod = _module("haar.cu", names)
    return tuple(mod.get_function(n) for n in names)


@functools.cache
def _blur_kernels(dtype: np.dtype):
    names = blur_names(dtype)
    mod = _module("blur.cu", names)
    return tuple(mod.get_function(n) for n in names)


@functools.cache
def _flow_kernel():
    return _module("flowcolor.cu", FLOW_NAMES).get_function(FLOW_NAMES[0])


# ------------------------------------------------------------------------------ array plumbing


def _grid(w: int, h: int) -> tuple[int, int, int]:
    return ((w + _BLOCK[0] - 1) // _BLOCK[0], (h + _BLOCK[1] - 1) // _BLOCK[1], 1)


def _rows_ok(a, pixel: int) -> bool:
    """True when ``a`` has contiguous pixels (of ``pixel`` bytes) and a usable row stride."""
    s = a.strides
    if s[0] < 0 or s[0] % a.itemsize:
        return False
    if a.ndim == 2:
        return s[1] == a.itemsize
    # (H, W, C): channels contiguous, pixels packed
    return s[2] == a.itemsize and s[1] == pixel


def _check(a, dtype, shape, name: str, func: str):
    if np.dtype(a.dtype) != dtype:
        raise FormatError(f"{func}: {name} must be {dtype}, got {a.dtype}", parameter=name)
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise FormatError(f"{func}: {name} must have shape {tuple(shape)}, got {tuple(a.shape)}",
                          parameter=name)


def _input(cp, a, dtype, shape, name: str, func: str, ndim: int = 2):
    """Device view of an input with contiguous pixels (copied when it has none)."""
    a = cp.asarray(a)
    if a.ndim != ndim:
        raise FormatError(f"{func}: {name} must be {ndim}-D, got shape {tuple(a.shape)}",
                          parameter=name)
    _check(a, dtype, shape, name, func)
    pixel = a.itemsize * (a.shape[2] if ndim == 3 else 1)
    if not _rows_ok(a, pixel):
        a = cp.ascontiguousarray(a)
    return a


def _output(cp, a, dtype, shape, name: str, func: str):
    """(device array to write, user array to copy it into afterwards, or None)."""
    if getattr(a, "ndim", None) != len(shape):
        raise FormatError(f"{func}: {name} must have shape {tuple(shape)}, got "
                          f"{getattr(a, 'shape', None)}", parameter=name)
    _check(a, dtype, shape, name, func)
    pixel = a.itemsize * (shape[2] if len(shape) == 3 else 1)
    if is_cupy_array(a) and _rows_ok(a, pixel):
        return a, None
    return cp.empty(shape, dtype), a


def _finish(dev, target) -> None:
    if target is None:
        return
    if is_cupy_array(target):
        target[...] = dev
    else:
        target[...] = dev.get()


def _stride(a) -> np.int64:
    """Row stride in elements, as the kernels' ``long long``."""
    return np.int64(a.strides[0] // a.itemsize)


# ------------------------------------------------------------------------------ Haar


def haar_fwd(src, ll, lh, hl, hh, threads=1):
    """One forward level: ``src`` (H, W) -> bands of shape (ceil(H/2), ceil(W/2))."""
    cp = _cupy()
    dtype = np.dtype(src.dtype)
    if dtype not in _DETAIL:
        raise FormatError(f"haar_fwd: src must be uint8, uint16 or float32, got {dtype}",
                          parameter="src")
    s = _input(cp, src, dtype, None, "src", "haar_fwd")
    h, w = s.shape
    bshape = ((h + 1) // 2, (w + 1) // 2)
    ddt = _DETAIL[dtype]
    outs = [_output(cp, ll, dtype, bshape, "ll", "haar_fwd")]
    outs += [_output(cp, b, ddt, bshape, n, "haar_fwd") for n, b in (("lh", lh), ("hl", hl),
                                                                       ("hh", hh))]
    if h and w:
        fwd, _ = _haar_kernels(dtype)
        args = [s, _stride(s), np.int32(w), np.int32(h)]
        for dev, _t in outs:
            args += [dev, _stride(dev)]
        fwd(_grid(bshape[1], bshape[0]), _BLOCK, tuple(args))
    for dev, target in outs:
        _finish(dev, target)


def haar_inv(ll, lh, hl, hh, dst, threads=1):
    """One inverse level: bands -> ``dst`` (H, W); exact inverse of :func:`haar_fwd`."""
    cp = _cupy()
    dtype = np.dtype(dst.dtype)
    if dtype not in _DETAIL:
        raise FormatError(f"haar_inv: dst must be uint8, uint16 or float32, got {dtype}",
                          parameter="dst")
    if getattr(dst, "ndim", None) != 2:
        raise FormatError(f"haar_inv: dst must be 2-D, got shape {getattr(dst, 'shape', None)}",
                          parameter="dst")
    h, w = dst.shape
    bshape = ((h + 1) // 2, (w + 1) // 2)
    ddt = _DETAIL[dtype]
    bands = [_input(cp, ll, dtype, bshape, "ll", "haar_inv")]
    bands += [_input(cp, b, ddt, bshape, n, "haar_inv") for n, b in (("lh", lh), ("hl", hl),
                                                                      ("hh", hh))]
    dev, target = _output(cp, dst, dtype, (h, w), "dst", "haar_inv")
    if h and w:
        _, inv = _haar_kernels(dtype)
        args = []
        for b in bands:
            args += [b, _stride(b)]
        args += [dev, _stride(dev), np.int32(w), np.int32(h)]
        inv(_grid(bshape[1], bshape[0]), _BLOCK, tuple(args))
    _finish(dev, target)


# ------------------------------------------------------------------------------ masking


def mask_apply(src, dst, boxes, mode, param, passes, fx, fy, mask, value, threads=1):
    """Composite F(src) over ``src`` into ``dst`` with the box/mask alpha (see ``_reference``)."""
    cp = _cupy()
    dtype = np.dtype(src.dtype)
    if dtype not in _WORK:
        raise FormatError(f"mask_apply: src must be uint8, uint16 or float32, got {dtype}",
                          parameter="src")
    mode = int(mode)
    if mode not in (0, 1, 2, 3):
        raise ParameterError(f"mask_apply: unknown mode {mode}", parameter="mode")
    s = _input(cp, src, dtype, None, "src", "mask_apply")
    h, w = s.shape
    out, target = _output(cp, dst, dtype, (h, w), "dst", "mask_apply")
    if boxes is None:
        boxes = np.zeros((0, 4), np.int32)
    b = cp.ascontiguousarray(cp.asarray(boxes).astype(cp.int32).reshape(-1, 4))
    nboxes = int(b.shape[0])

    if not (h and w):
        _finish(out, target)
        return
    if nboxes == 0 and mask is None:  # alpha is 0 everywhere: dst = src
        if out is not s:
            out[...] = s
        _finish(out, target)
        return

    if mask is not None:
        m = _input(cp, mask, np.dtype(np.uint8), (h, w), "mask", "mask_apply")
        mstride, has_mask = _stride(m), 1
    else:
        m, mstride, has_mask = cp.zeros(1, cp.uint8), np.int64(0), 0

    wdt = _WORK[dtype]
    box_h, box_v, means_k, composite = _blur_kernels(dtype)
    scalar = np.float32 if wdt == np.float32 else np.int32
    grid = _grid(w, h)
    use_fill, block, fill = 0, 1, scalar(0)
    if mode in (0, 1):
        fbuf = s.astype(wdt, order="C")
        tmp = cp.empty((h, w), wdt)
        r = np.int32(param)
        for _ in range(int(passes)):
            box_h(grid, _BLOCK, (fbuf, tmp, np.int32(w), np.int32(h), r))
            box_v(grid, _BLOCK, (tmp, fbuf, np.int32(w), np.int32(h), r))
        fstride = np.int64(w)
    elif mode == 2:
        block = max(1, int(param))
        gh, gw = -(-h // block), -(-w // block)
        fbuf = cp.empty((gh, gw), wdt)
        means_k(_grid(gw, gh), _BLOCK, (s, _stride(s), np.int32(w), np.int32(h),
                                         np.int32(block), fbuf, np.int32(gw), np.int32(gh)))
        fstride = np.int64(gw)
    else:
        use_fill = 1
        fill = scalar(value) if wdt == np.float32 else scalar(int(value))
        fbuf, fstride = cp.zeros(1, wdt), np.int64(0)

    composite(grid, _BLOCK, (s, _stride(s), out, _stride(out), np.int32(w), np.int32(h),
                             b, np.int32(nboxes), np.int32(fx), np.int32(fy), m, mstride,
                             np.int32(has_mask), np.int32(use_fill), fbuf, fstride,
                             np.int32(block), fill))
    _finish(out, target)


# ------------------------------------------------------------------------------ flow


def flow_to_color(flow, lut, max_mag, out, threads=1, min_mag=0.0):
    """Colour a (H, W, 2) float32 flow through ``lut`` (n_dir, n_mag, 3) into ``out`` (H, W, 3)."""
    cp = _cupy()
    f = _input(cp, flow, np.dtype(np.float32), None, "flow", "flow_to_color", ndim=3)
    if f.shape[2] != 2:
        raise FormatError(f"flow_to_color: flow must have shape (H, W, 2), got {f.shape}",
                          parameter="flow")
    lut_d = cp.asarray(lut)
    if lut_d.ndim != 3 or lut_d.shape[2] != 3 or lut_d.shape[0] < 1 or lut_d.shape[1] < 1:
        raise FormatError(f"flow_to_color: lut must have shape (n_dir, n_mag, 3), got "
                          f"{lut_d.shape}", parameter="lut")
    _check(lut_d, np.dtype(np.uint8), None, "lut", "flow_to_color")
    lut_d = cp.ascontiguousarray(lut_d)
    h, w = f.shape[:2]
    dev, target = _output(cp, out, np.dtype(np.uint8), (h, w, 3), "out", "flow_to_color")
    if h and w:
        max_mag = float(max_mag)
        has_mag = max_mag > 0
        inv_max = np.float32(1.0 / max_mag) if has_mag else np.float32(0.0)
        n_dir, n_mag = int(lut_d.shape[0]), int(lut_d.shape[1])
        _flow_kernel()(_grid(w, h), _BLOCK,
                       (f, _stride(f), np.int32(w), np.int32(h), lut_d, np.int32(n_dir),
                        np.int32(n_mag), np.float32(1.0 / (2.0 * np.pi)), inv_max,
                        np.int32(has_mag), dev, _stride(dev),
                        np.float32(min_mag) if min_mag > 0 else np.float32(0.0)))
    _finish(dev, target)


# ------------------------------------------------------------------------------ block low DCT
# Thin: two small matmuls each way (cuBLAS), the same algebra as the numpy reference.


def block_lowdct(src, b, dct, out, threads=1):
    cp = _cupy()
    s = cp.asarray(src)
    h, w = s.shape
    shape = (h // b, w // b, 4, 4)
    _check(out, np.dtype(np.float32), shape, "out", "block_lowdct")
    if is_cupy_array(out) and out.flags.c_contiguous:
        dev, target = out, None
    else:
        dev, target = cp.empty(shape, cp.float32), out
    _reference.lowdct_xp(cp, s, b, cp.asarray(dct, cp.float32), dev)
    _finish(dev, target)


def block_lowdct_apply(plane, b, dct, coefs, maxval, threads=1):
    cp = _cupy()
    dev = plane if is_cupy_array(plane) else cp.asarray(plane)
    _reference.lowdct_apply_xp(cp, dev, b, cp.asarray(dct, cp.float32),
                               cp.asarray(coefs, cp.float32), maxval)
    if dev is not plane:
        plane[...] = dev.get()
