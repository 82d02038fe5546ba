"""Conversion of luma-pixel parameters to the integer plane parameters every backend receives."""

from __future__ import annotations

import math

import numpy as np

from vpfilters.errors import FormatError, ParameterError


def plane_boxes(boxes, sx: int, sy: int, w: int, h: int) -> np.ndarray:
    """Luma boxes (N, 4) ``x1, y1, x2, y2`` -> int32 plane boxes, rounded outward and clipped.

    Empty boxes (after clipping) are dropped. Non-finite coordinates are an error: a box the
    detector could not place must not silently vanish.
    """
    if boxes is None:
        return np.zeros((0, 4), np.int32)
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4), np.int32)
    if b.ndim == 1 and b.size % 4 == 0:
        b = b.reshape(-1, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ParameterError(f"boxes must have shape (N, 4) as x1, y1, x2, y2; got {b.shape}",
                             parameter="boxes")
    if not np.isfinite(b).all():
        raise ParameterError("boxes contain NaN or infinite coordinates", parameter="boxes")
    x0 = np.floor(np.minimum(b[:, 0], b[:, 2]) / (1 << sx))
    x1 = np.ceil(np.maximum(b[:, 0], b[:, 2]) / (1 << sx))
    y0 = np.floor(np.minimum(b[:, 1], b[:, 3]) / (1 << sy))
    y1 = np.ceil(np.maximum(b[:, 1], b[:, 3]) / (1 << sy))
    out = np.stack([np.clip(x0, 0, w), np.clip(y0, 0, h), np.clip(x1, 0, w), np.clip(y1, 0, h)], 1)
    out = out.astype(np.int32)
    keep = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    return np.ascontiguousarray(out[keep])


def gaussian_radius(sigma: float) -> int:
    """Radius of the box whose three passes approximate a Gaussian of ``sigma`` pixels."""
    if sigma <= 0:
        return 0
    width = math.sqrt(12.0 * sigma * sigma / 3.0 + 1.0)
    return max(1, int(round((width - 1.0) / 2.0)))


def plane_param(mode: str, strength: float, sx: int, sy: int) -> tuple[int, int]:
    """(param, passes) on a plane: box radius, Gaussian box radius, or mosaic block size."""
    scale = float(1 << sx)
    s = strength / scale
    if mode == "box":
        return (max(1, int(round(s))) if strength > 0 else 0), 1
    if mode == "gaussian":
        return gaussian_radius(s), 3
    if mode == "pixelate":
        return max(1, int(round(s))), 1
    return 0, 0


def plane_feather(feather: float, sx: int, sy: int) -> tuple[int, int]:
    return int(math.ceil(feather / (1 << sx))), int(math.ceil(feather / (1 << sy)))


def pool_mask(mask, sx: int, sy: int, h: int, w: int, xp=np):
    """Luma-resolution mask -> uint8 plane mask by max-pooling (protection never shrinks)."""
    m = xp.asarray(mask)
    if m.dtype == bool:
        m = m.astype(np.uint8) * 255
    elif m.dtype != np.uint8:
        raise FormatError(f"mask must be uint8 (0..255) or bool, got {m.dtype}", parameter="mask")
    if m.ndim != 2:
        raise FormatError(f"mask must be 2-D, got shape {m.shape}", parameter="mask")
    fy, fx = 1 << sy, 1 << sx
    if (-(-m.shape[0] // fy), -(-m.shape[1] // fx)) != (h, w):
        raise FormatError(f"mask shape {m.shape} does not match the luma size of a {h}x{w} plane "
                          f"with subsampling ({sx}, {sy})", parameter="mask")
    if fx > 1 or fy > 1:
        ph, pw = h * fy - m.shape[0], w * fx - m.shape[1]
        if ph or pw:
            m = xp.pad(m, ((0, ph), (0, pw)), mode="edge")
        m = m.reshape(h, fy, w, fx).max(axis=(1, 3))
    return xp.ascontiguousarray(m)
