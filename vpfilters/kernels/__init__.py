"""Hot-path kernels with one Python signature each and three backends (numpy, native C++, CuPy).

The backend is chosen automatically (CuPy for CuPy arrays when a GPU is present, else the native
module, else numpy) and can be forced with ``VPF_BACKEND=numpy|native|cupy`` or ``backend=``.

Kernels
-------
haar_forward / haar_inverse
    Multi-level 2-D Haar wavelet on a plane: integer lossless lifting for uint8/uint16, and a float
    variant for float32. Odd sizes replicate the last row/column; the inverse crops it away.
mask_blur
    Box blur, Gaussian-like blur, pixelate or solid fill inside boxes and/or a soft mask, with
    feathered edges. Boxes are luma pixels and are rounded outward on subsampled planes.
flow_to_color
    A 2-channel float flow field to RGB through a (direction x magnitude) lookup table.
block_lowdct / block_lowdct_apply
    The 4x4 lowest orthonormal DCT-II coefficients of every b x b block of a plane, and the fused
    inverse: add a coefficient change back to a uint8/uint16 plane with rounding and clipping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vpfilters.errors import FormatError, ParameterError
from vpfilters.kernels import _backend, _reference
from vpfilters.kernels._backend import available_backends, select_backend
from vpfilters.kernels._params import plane_boxes, plane_feather, plane_param, pool_mask

__all__ = [
    "HaarPyramid",
    "MODES",
    "available_backends",
    "block_lowdct",
    "block_lowdct_apply",
    "flow_to_color",
    "haar_forward",
    "haar_inverse",
    "mask_blur",
    "select_backend",
]

MODES = tuple(_reference.MODES)
_PLANE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


def _check_plane(plane, name: str, func: str):
    xp = _backend.array_module(plane)
    if not hasattr(plane, "ndim") or plane.ndim != 2:
        raise FormatError(f"{func}: {name} must be a 2-D plane, got shape {getattr(plane, 'shape', None)}",
                          parameter=name)
    if plane.dtype not in _PLANE_DTYPES:
        raise FormatError(f"{func}: {name} must be uint8, uint16 or float32, got {plane.dtype}",
                          parameter=name)
    if plane.shape[0] < 1 or plane.shape[1] < 1:
        raise FormatError(f"{func}: {name} is empty (shape {plane.shape})", parameter=name)
    if plane.strides[1] != plane.itemsize:
        plane = xp.ascontiguousarray(plane)  # rows may be padded; pixels within a row may not
    return plane


# ------------------------------------------------------------------------------------ Haar


@dataclass
class HaarPyramid:
    """Result of :func:`haar_forward`.

    Attributes
    ----------
    ll : array (ceil(H / 2**levels), ceil(W / 2**levels)), input dtype
        The low-pass band: a downscaled picture.
    details : list of (lh, hl, hh)
        Detail bands per level, finest first; int16 for uint8 input, int32 for uint16, float32 for
        float32. ``lh`` holds horizontal edges (vertical high-pass), ``hl`` vertical edges.
    shapes : list of (H, W)
        The plane shape entering each level, finest first (needed to undo odd-size padding).
    """

    ll: np.ndarray
    details: list = field(default_factory=list)
    shapes: list = field(default_factory=list)

    @property
    def levels(self) -> int:
        return len(self.details)


def haar_forward(plane, levels: int = 1, *, backend: str | None = None,
                 threads: int | None = None) -> HaarPyramid:
    """Forward 2-D Haar transform of ``plane`` over ``levels`` levels.

    Integer input (uint8, uint16 with any bit depth up to 16) uses lossless lifting:
    ``haar_inverse(haar_forward(x))`` equals ``x`` bit for bit. A plane with an odd width or
    height is extended by replicating its last column/row before each level.
    ``threads`` (default ``VPF_THREADS``, else 1) splits the rows of the native kernel between
    threads where the plane is large enough for that to pay; the result does not depend on it.
    """
    plane = _check_plane(plane, "plane", "haar_forward")
    if not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ParameterError(f"haar_forward: levels must be an integer >= 1, got {levels!r}",
                             parameter="levels")
    impl, xp = _backend.implementation(backend, plane)
    nthreads = _backend.threads(threads)
    ddt = _reference.DETAIL_DTYPE[np.dtype(plane.dtype)]
    pyr = HaarPyramid(ll=plane)
    cur = plane
    for _ in range(int(levels)):
        h, w = cur.shape
        hh_, ww_ = (h + 1) // 2, (w + 1) // 2
        ll = xp.empty((hh_, ww_), cur.dtype)
        bands = tuple(xp.empty((hh_, ww_), ddt) for _ in range(3))
        impl.haar_fwd(cur, ll, *bands, nthreads)
        pyr.details.append(bands)
        pyr.shapes.append((h, w))
        cur = ll
    pyr.ll = cur
    return pyr


def haar_inverse(pyramid: HaarPyramid, *, backend: str | None = None, threads: int | None = None):
    """Inverse of :func:`haar_forward`: rebuilds the plane from ``pyramid``.

    ``threads`` as for :func:`haar_forward`.
    """
    if not isinstance(pyramid, HaarPyramid) or not pyramid.details:
        raise ParameterError("haar_inverse: pyramid must be a HaarPyramid with at least one level",
                             parameter="pyramid")
    cur = pyramid.ll
    impl, xp = _backend.implementation(backend, cur)
    nthreads = _backend.threads(threads)
    for (lh, hl, hh), shape in zip(reversed(pyramid.details), reversed(pyramid.shapes)):
        expect = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
        for name, band in (("ll", cur), ("lh", lh), ("hl", hl), ("hh", hh)):
            if tuple(band.shape) != expect:
                raise FormatError(f"haar_inverse: band {name} has shape {tuple(band.shape)}, "
                                  f"expected {expect}", parameter=name)
        out = xp.empty(shape, cur.dtype)
        impl.haar_inv(xp.ascontiguousarray(cur), lh, hl, hh, out, nthreads)
        cur = out
    return cur


# ------------------------------------------------------------------------------------ masking


def mask_blur(plane, boxes=None, *, mode: str = "gaussian", strength: float = 8.0,
              feather: float = 0.0, subsampling=(0, 0), mask=None, value=0, out=None,
              threads: int | None = None, backend: str | None = None):
    """Blur, pixelate or fill ``plane`` inside ``boxes`` and/or a soft ``mask``.

    Parameters
    ----------
    plane : array (H, W), uint8 | uint16 | float32
        The plane to protect. It may be a strided view (padded rows).
    boxes : array-like (N, 4) float, optional
        ``x1, y1, x2, y2`` in **luma** pixels. On a plane subsampled by ``subsampling = (sx, sy)``
        (log2 factors, e.g. (1, 1) for 4:2:0 chroma) they are divided and rounded outward, so
        protection never shrinks.
    mode : {"box", "gaussian", "pixelate", "fill"}
        ``box``: box mean of radius ``strength``; ``gaussian``: three box passes approximating a
        Gaussian of sigma ``strength``; ``pixelate``: mosaic blocks of ``strength`` px on a grid
        anchored at (0, 0); ``fill``: the constant ``value``. Sizes are luma pixels.
    feather : float
        Width in luma pixels of a soft edge *outside* each box (the box itself is fully covered).
    mask : array, optional
        Soft mask at luma resolution, uint8 0..255 (or bool); max-pooled onto subsampled planes.
    out : array, optional
        Output plane (may be ``plane`` itself for in-place work); a new array otherwise.

    Returns
    -------
    The output plane.
    """
    plane = _check_plane(plane, "plane", "mask_blur")
    if mode not in _reference.MODES:
        raise ParameterError(f"mask_blur: mode must be one of {', '.join(MODES)}, got {mode!r}",
                             parameter="mode")
    try:
        strength = float(strength)
        feather = float(feather)
    except (TypeError, ValueError):
        raise ParameterError("mask_blur: strength and feather must be numbers",
                             parameter="strength") from None
    if not np.isfinite(strength) or strength < 0:
        raise ParameterError(f"mask_blur: strength must be a finite number >= 0, got {strength}",
                             parameter="strength")
    if not np.isfinite(feather) or feather < 0:
        raise ParameterError(f"mask_blur: feather must be a finite number >= 0, got {feather}",
                             parameter="feather")
    sx, sy = (int(s) for s in subsampling)
    if sx not in (0, 1, 2) or sy not in (0, 1, 2):
        raise ParameterError(f"mask_blur: subsampling must be log2 factors in 0..2, got {subsampling}",
                             parameter="subsampling")
    impl, xp = _backend.implementation(backend, plane)
    h, w = plane.shape
    pboxes = plane_boxes(boxes, sx, sy, w, h)
    pmask = None
    if mask is not None:
        pmask = pool_mask(mask, sx, sy, h, w, xp)
    if out is None:
        out = xp.empty_like(plane)
    elif tuple(out.shape) != tuple(plane.shape) or out.dtype != plane.dtype:
        raise FormatError(f"mask_blur: out must have shape {plane.shape} and dtype {plane.dtype}",
                          parameter="out")
    mode_id = _reference.MODES[mode]
    param, passes = plane_param(mode, strength, sx, sy)
    fx, fy = plane_feather(feather, sx, sy)
    fill = _fill_value(value, plane.dtype)
    impl.mask_apply(plane, out, pboxes, mode_id, param, passes, fx, fy, pmask, fill,
                    _backend.threads(threads))
    return out


def _fill_value(value, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return float(value)
    v = int(round(float(value)))
    hi = np.iinfo(dtype).max
    if not 0 <= v <= hi:
        raise ParameterError(f"mask_blur: fill value {value} is outside 0..{hi} for {dtype}",
                             parameter="value")
    return v


# ------------------------------------------------------------------------------------ flow


def flow_to_color(flow, lut, max_mag: float | None = None, *, min_mag: float = 0.0, out=None,
                  threads: int | None = None, backend: str | None = None):
    """Colour a flow field through a lookup table.

    Parameters
    ----------
    flow : array (H, W, 2) float32
        ``u`` (towards +x) and ``v`` (towards +y, i.e. down) in pixels per frame.
    lut : array (n_dir, n_mag, 3) uint8
        RGB colour per direction bin (bin 0 starts at +x, turning towards +y) and normalised
        magnitude bin (0 = no motion, n_mag - 1 = ``max_mag`` or more).
    max_mag : float, optional
        The magnitude mapped to the last bin; the frame's maximum when omitted.
    min_mag : float, optional
        Static-pixel mask in the same pass: when > 0, a pixel whose magnitude (float32
        ``sqrt(u*u + v*v)``) is below ``min_mag``, or is not finite, gets entry ``lut[0, 0]`` (no
        motion), and every other pixel a magnitude bin of at least 1, so slow motion never looks
        static. 0 (default): no mask.

    Returns
    -------
    array (H, W, 3) uint8 RGB.
    """
    xp = _backend.array_module(flow)
    if getattr(flow, "ndim", 0) != 3 or flow.shape[2] != 2:
        raise FormatError(f"flow_to_color: flow must have shape (H, W, 2), got "
                          f"{getattr(flow, 'shape', None)}", parameter="flow")
    if flow.dtype != np.float32:
        raise FormatError(f"flow_to_color: flow must be float32, got {flow.dtype}", parameter="flow")
    if getattr(lut, "ndim", 0) != 3 or lut.shape[2] != 3 or lut.dtype != np.uint8 \
            or lut.shape[0] < 1 or lut.shape[1] < 1:
        raise FormatError(f"flow_to_color: lut must be uint8 with shape (n_dir, n_mag, 3), got "
                          f"{getattr(lut, 'shape', None)} {getattr(lut, 'dtype', None)}",
                          parameter="lut")
    if flow.strides[2] != flow.itemsize or flow.strides[1] != 2 * flow.itemsize:
        flow = xp.ascontiguousarray(flow)
    impl, xp = _backend.implementation(backend, flow)
    lut = xp.ascontiguousarray(xp.asarray(lut))
    if max_mag is None:
        if impl is _backend._native():
            max_mag = float(impl.flow_max_magnitude(flow, _backend.threads(threads)))
        else:
            f = xp.nan_to_num(flow, nan=0.0, posinf=0.0, neginf=0.0)
            max_mag = float(xp.sqrt((f * f).sum(axis=2).max())) if f.size else 0.0
    max_mag = float(max_mag)
    if not np.isfinite(max_mag) or max_mag < 0:
        raise ParameterError(f"flow_to_color: max_mag must be finite and >= 0, got {max_mag}",
                             parameter="max_mag")
    min_mag = float(min_mag)
    if not np.isfinite(min_mag) or min_mag < 0:
        raise ParameterError(f"flow_to_color: min_mag must be finite and >= 0, got {min_mag}",
                             parameter="min_mag")
    h, w = flow.shape[:2]
    if out is None:
        out = xp.empty((h, w, 3), np.uint8)
    impl.flow_to_color(flow, lut, max_mag, out, _backend.threads(threads), min_mag)
    return out


# ------------------------------------------------------------------------------------ block DCT


def _block_args(b, dct, func: str, xp):
    if not isinstance(b, (int, np.integer)) or not 4 <= b <= 4096:
        raise ParameterError(f"{func}: b must be an integer in 4..4096, got {b!r}", parameter="b")
    b = int(b)
    if dct is None:
        dct = _reference.dct_rows(b)
    if tuple(getattr(dct, "shape", ())) != (4, b) or dct.dtype != np.float32:
        raise FormatError(f"{func}: dct must be float32 with shape (4, {b}), got "
                          f"{getattr(dct, 'shape', None)} {getattr(dct, 'dtype', None)}",
                          parameter="dct")
    return b, xp.ascontiguousarray(xp.asarray(dct))


def block_lowdct(plane, b: int, dct=None, *, out=None, threads: int | None = None,
                 backend: str | None = None):
    """The 4x4 lowest orthonormal DCT-II coefficients of every whole ``b`` x ``b`` block.

    Parameters
    ----------
    plane : array (H, W), uint8 | uint16 | float32
    b : int
        Block size; the ``H % b`` bottom rows and ``W % b`` right columns are ignored.
    dct : array (4, b) float32, optional
        The first 4 rows of the b-point DCT-II matrix (orthonormal rows when omitted).

    Returns
    -------
    array (H // b, W // b, 4, 4) float32: ``out[i, j, u, v]`` is frequency ``u`` down, ``v`` across.
    """
    plane = _check_plane(plane, "plane", "block_lowdct")
    impl, xp = _backend.implementation(backend, plane)
    b, dct = _block_args(b, dct, "block_lowdct", xp)
    shape = (plane.shape[0] // b, plane.shape[1] // b, 4, 4)
    if out is None:
        out = xp.empty(shape, np.float32)
    elif tuple(out.shape) != shape or out.dtype != np.float32:
        raise FormatError(f"block_lowdct: out must be float32 with shape {shape}", parameter="out")
    impl.block_lowdct(plane, b, dct, out, _backend.threads(threads))
    return out


def block_lowdct_apply(plane, b: int, dct, coefs, maxval: int | None = None, *,
                       threads: int | None = None, backend: str | None = None):
    """Add the inverse of a coefficient change to ``plane`` in place, rounded and clipped.

    ``plane[block] = clip(rint(plane[block] + D^T C D), 0, maxval)`` for every whole block, with
    ``C = coefs[i, j]`` (4, 4) and ``D = dct`` (orthonormal DCT-II rows when None). Partial blocks
    are left alone. ``maxval`` defaults to the dtype's maximum (pass 1023 for 10-bit samples).
    Returns ``plane``.
    """
    func = "block_lowdct_apply"
    xp = _backend.array_module(plane)
    if getattr(plane, "ndim", 0) != 2 or plane.dtype not in (np.uint8, np.uint16):
        raise FormatError(f"{func}: plane must be a 2-D uint8 or uint16 plane, got "
                          f"{getattr(plane, 'shape', None)} {getattr(plane, 'dtype', None)}",
                          parameter="plane")
    if plane.size and plane.strides[1] != plane.itemsize:
        raise FormatError(f"{func}: plane must have contiguous pixels within a row (it is written "
                          "in place)", parameter="plane")
    impl, xp = _backend.implementation(backend, plane)
    b, dct = _block_args(b, dct, func, xp)
    shape = (plane.shape[0] // b, plane.shape[1] // b, 4, 4)
    if tuple(getattr(coefs, "shape", ())) != shape:
        raise FormatError(f"{func}: coefs must have shape {shape}, got "
                          f"{getattr(coefs, 'shape', None)}", parameter="coefs")
    coefs = xp.ascontiguousarray(coefs, dtype=np.float32)
    hi = int(np.iinfo(plane.dtype).max)
    maxval = hi if maxval is None else int(maxval)
    if not 0 <= maxval <= hi:
        raise ParameterError(f"{func}: maxval must be in 0..{hi} for {plane.dtype}, got {maxval}",
                             parameter="maxval")
    impl.block_lowdct_apply(plane, b, dct, coefs, maxval, _backend.threads(threads))
    return plane
