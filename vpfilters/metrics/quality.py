"""Picture-quality metrics of T/AI 110.2 cl. 5: PSNR and SSIM (eq. 3-4)."""

from __future__ import annotations

import numpy as np

from vpfilters.errors import FormatError, ParameterError


def _pair(a, b, func: str):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise FormatError(f"{func}: images have different shapes {a.shape} and {b.shape}",
                          parameter="images")
    if a.size == 0:
        raise FormatError(f"{func}: images are empty", parameter="images")
    return a, b


def peak_value(dtype, bits: int | None = None) -> float:
    """The largest code value: 2**bits - 1 for integer pictures, 1.0 for float."""
    dtype = np.dtype(dtype)
    if bits is not None:
        return float((1 << bits) - 1)
    if dtype.kind in "ui":
        return float(np.iinfo(dtype).max)
    return 1.0


def psnr(reference, test, *, bits: int | None = None, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical pictures).

    ``bits`` gives the peak for 10/12-bit content held in uint16 (peak 1023 for 10 bit);
    ``data_range`` overrides the peak directly.
    """
    a, b = _pair(reference, test, "psnr")
    peak = float(data_range) if data_range is not None else peak_value(a.dtype, bits)
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(peak * peak / mse))


def _box_mean(x: np.ndarray, win: int) -> np.ndarray:
    """Mean over every full win x win window (valid region only), via summed-area tables."""
    s = np.cumsum(np.cumsum(x, axis=0), axis=1)
    s = np.pad(s, ((1, 0), (1, 0)))
    tot = s[win:, win:] - s[:-win, win:] - s[win:, :-win] + s[:-win, :-win]
    return tot / float(win * win)


def ssim(reference, test, *, win_size: int = 7, data_range: float | None = None,
         bits: int | None = None, k1: float = 0.01, k2: float = 0.03,
         channel_axis: int | None = None) -> float:
    """Mean structural similarity (luminance x contrast x structure, eq. 3-4).

    Uniform ``win_size`` window with sample covariance and the border of ``(win_size - 1) // 2``
    excluded — the conventions of :func:`skimage.metrics.structural_similarity`, which it matches.
    For colour pictures give ``channel_axis`` (e.g. -1): the result is the mean over channels.
    """
    a, b = _pair(reference, test, "ssim")
    if win_size < 3 or win_size % 2 == 0:
        raise ParameterError(f"ssim: win_size must be odd and >= 3, got {win_size}",
                             parameter="win_size")
    if channel_axis is not None:
        a, b = np.moveaxis(a, channel_axis, -1), np.moveaxis(b, channel_axis, -1)
        return float(np.mean([ssim(a[..., c], b[..., c], win_size=win_size, data_range=data_range,
                                   bits=bits, k1=k1, k2=k2) for c in range(a.shape[-1])]))
    if a.ndim != 2:
        raise FormatError(f"ssim: expected a 2-D picture (or give channel_axis), got shape {a.shape}",
                          parameter="images")
    if min(a.shape) < win_size:
        raise FormatError(f"ssim: picture {a.shape} is smaller than the {win_size}px window",
                          parameter="images")
    return float(ssim_map(a, b, win_size=win_size, data_range=data_range, bits=bits, k1=k1,
                          k2=k2).mean())


def ssim_map(reference, test, *, win_size: int = 7, data_range: float | None = None,
             bits: int | None = None, k1: float = 0.01, k2: float = 0.03) -> np.ndarray:
    """The SSIM map over every full ``win_size`` window (shape ``(H - win + 1, W - win + 1)``);
    its mean is :func:`ssim`. Entry ``(i, j)`` belongs to the window whose top-left pixel is
    ``(i, j)``."""
    a, b = _pair(reference, test, "ssim_map")
    if a.ndim != 2 or min(a.shape) < win_size:
        raise FormatError(f"ssim_map: need a 2-D picture of at least {win_size}px, got shape "
                          f"{a.shape}", parameter="images")
    rng = float(data_range) if data_range is not None else peak_value(a.dtype, bits)
    x, y = a.astype(np.float64), b.astype(np.float64)
    n = win_size * win_size
    cov = n / (n - 1.0)
    ux, uy = _box_mean(x, win_size), _box_mean(y, win_size)
    vx = cov * (_box_mean(x * x, win_size) - ux * ux)
    vy = cov * (_box_mean(y * y, win_size) - uy * uy)
    vxy = cov * (_box_mean(x * y, win_size) - ux * uy)
    c1, c2 = (k1 * rng) ** 2, (k2 * rng) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def bpp(payload_bits: int, width: int, height: int) -> float:
    """Capacity: payload bits per cover pixel (luma pixels)."""
    if width <= 0 or height <= 0:
        raise ParameterError(f"bpp: cover size must be positive, got {width}x{height}",
                             parameter="size")
    return float(payload_bits) / float(width * height)
