"""Numpy reference of every kernel: the specification the native and CUDA backends must match.

All functions take *plane-level* integer parameters (already converted from luma pixels by
``vpfilters.kernels._params``) and write into caller-allocated outputs, exactly like the native
module, so the three backends share one signature per kernel.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# Haar wavelet, one level.
#
# 2x2 block  a b   (rows 2y, 2y+1; columns 2x, 2x+1)
#            c d
# Integer lifting (S-transform), floor division by 2 as an arithmetic shift:
#   horizontal: sT = b + ((a - b) >> 1), dT = a - b;  sB = d + ((c - d) >> 1), dB = c - d
#   vertical:   LL = sB + ((sT - sB) >> 1), LH = sT - sB
#               HL = dB + ((dT - dB) >> 1), HH = dT - dB
# LL is floor-average-like and keeps the input dtype; details are int16 (uint8 input) or
# int32 (uint16 input). The float variant uses the same structure with exact halves, so LL is
# the 2x2 box average.
# Odd sizes: the last column/row is replicated to make the size even, and the inverse crops.
# ---------------------------------------------------------------------------------------------

DETAIL_DTYPE = {np.dtype(np.uint8): np.dtype(np.int16), np.dtype(np.uint16): np.dtype(np.int32),
                np.dtype(np.float32): np.dtype(np.float32)}


def _pad_even(x: np.ndarray) -> np.ndarray:
    h, w = x.shape
    if h % 2 or w % 2:
        x = np.pad(x, ((0, h % 2), (0, w % 2)), mode="edge")
    return x


def haar_fwd(src, ll, lh, hl, hh, threads=1):
    """One forward level: ``src`` (H, W) -> bands of shape (ceil(H/2), ceil(W/2)).

    ``threads`` is accepted for signature parity with the native kernel and ignored.
    """
    x = _pad_even(np.asarray(src))
    if x.dtype == np.float32:
        a, b = x[0::2, 0::2], x[0::2, 1::2]
        c, d = x[1::2, 0::2], x[1::2, 1::2]
        dT, dB = a - b, c - d
        sT, sB = b + dT * np.float32(0.5), d + dB * np.float32(0.5)
        lh[...] = sT - sB
        ll[...] = sB + lh * np.float32(0.5)
        hh[...] = dT - dB
        hl[...] = dB + hh * np.float32(0.5)
        return
    x = x.astype(np.int64)
    a, b = x[0::2, 0::2], x[0::2, 1::2]
    c, d = x[1::2, 0::2], x[1::2, 1::2]
    dT, dB = a - b, c - d
    sT, sB = b + (dT >> 1), d + (dB >> 1)
    v_lh = sT - sB
    v_hh = dT - dB
    ll[...] = sB + (v_lh >> 1)
    lh[...] = v_lh
    hl[...] = dB + (v_hh >> 1)
    hh[...] = v_hh


def haar_inv(ll, lh, hl, hh, dst, threads=1):
    """One inverse level: bands -> ``dst`` (H, W); exact inverse of :func:`haar_fwd`.

    ``threads`` is accepted for signature parity with the native kernel and ignored.
    """
    h, w = dst.shape
    if dst.dtype == np.float32:
        half = np.float32(0.5)
        sB = ll - lh * half
        sT = lh + sB
        dB = hl - hh * half
        dT = hh + dB
        b = sT - dT * half
        a = dT + b
        d = sB - dB * half
        c = dB + d
    else:
        ll, lh, hl, hh = (np.asarray(v, np.int64) for v in (ll, lh, hl, hh))
        sB = ll - (lh >> 1)
        sT = lh + sB
        dB = hl - (hh >> 1)
        dT = hh + dB
        b = sT - (dT >> 1)
        a = dT + b
        d = sB - (dB >> 1)
        c = dB + d
    full = np.empty((ll.shape[0] * 2, ll.shape[1] * 2), dtype=a.dtype)
    full[0::2, 0::2], full[0::2, 1::2] = a, b
    full[1::2, 0::2], full[1::2, 1::2] = c, d
    dst[...] = full[:h, :w]


# ---------------------------------------------------------------------------------------------
# Masked privacy operations.
#
# processed = F(src) over the whole plane (box blur, Gaussian-like = 3 box passes, pixelate on a
# grid anchored at (0, 0), or a constant fill); alpha in 0..256 is the max over every box of
# min(ramp(dx), ramp(dy)) and of the soft mask; out = (src*(256-a) + F*a + 128) >> 8.
# F is only evaluated where alpha > 0, which gives the same numbers as the whole-plane formula.
# ---------------------------------------------------------------------------------------------

MODES = {"box": 0, "gaussian": 1, "pixelate": 2, "fill": 3}


def ramp(d: np.ndarray, f: int) -> np.ndarray:
    """Feather weight (0..256) at integer distance ``d`` >= 0 outside a box, feather ``f`` px."""
    d = np.asarray(d, np.int64)
    w = (256 * (f + 1 - d)) // (f + 1)
    w = np.where(d > f, 0, w)
    return np.where(d == 0, 256, w)


def alpha_map(h, w, boxes, fx, fy, mask=None):
    """Alpha (int64, 0..256) of a plane for integer plane boxes (N, 4) ``x0, y0, x1, y1`` (half-open)."""
    alpha = np.zeros((h, w), np.int64)
    ys, xs = np.arange(h), np.arange(w)
    for x0, y0, x1, y1 in np.asarray(boxes, np.int64).reshape(-1, 4):
        if x1 <= x0 or y1 <= y0:
            continue
        dx = np.maximum(np.maximum(x0 - xs, xs - (x1 - 1)), 0)
        dy = np.maximum(np.maximum(y0 - ys, ys - (y1 - 1)), 0)
        a = np.minimum(ramp(dy, fy)[:, None], ramp(dx, fx)[None, :])
        np.maximum(alpha, a, out=alpha)
    if mask is not None:
        m = np.asarray(mask, np.int64)
        np.maximum(alpha, m + (m >> 7), out=alpha)
    return alpha


def _box_pass(x: np.ndarray, r: int, axis: int, integer: bool) -> np.ndarray:
    """1-D box mean of radius ``r`` along ``axis`` with edge clamping."""
    n = x.shape[axis]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r + 1, r)
    xp = np.pad(x, pad, mode="edge")
    cs = np.cumsum(xp, axis=axis, dtype=np.int64 if integer else np.float64)
    hi = np.take(cs, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
    lo = np.take(cs, np.arange(0, n), axis=axis)
    s = hi - lo
    k = 2 * r + 1
    if integer:
        return (s + k // 2) // k
    return (s / k).astype(np.float32)


def processed_plane(src: np.ndarray, mode: int, param: int, passes: int, value) -> np.ndarray:
    """F(src) over the whole plane (the definition; the kernels evaluate it only where needed)."""
    integer = src.dtype != np.float32
    x = src.astype(np.int64) if integer else src.astype(np.float32)
    h, w = x.shape
    if mode in (0, 1):
        for _ in range(passes):
            x = _box_pass(x, param, 1, integer)
            x = _box_pass(x, param, 0, integer)
        return x
    if mode == 2:
        b = max(1, param)
        gh, gw = -(-h // b), -(-w // b)
        pad = np.pad(x, ((0, gh * b - h), (0, gw * b - w)))
        sums = pad.reshape(gh, b, gw, b).sum(axis=(1, 3), dtype=np.int64 if integer else np.float64)
        cnt_y = np.minimum(b, h - np.arange(gh) * b)
        cnt_x = np.minimum(b, w - np.arange(gw) * b)
        cnt = cnt_y[:, None] * cnt_x[None, :]
        means = (sums + cnt // 2) // cnt if integer else (sums / cnt).astype(np.float32)
        return np.repeat(np.repeat(means, b, axis=0), b, axis=1)[:h, :w]
    if mode == 3:
        return np.full((h, w), value, dtype=x.dtype)
    raise ValueError(f"unknown mode {mode}")


def mask_apply(src, dst, boxes, mode, param, passes, fx, fy, mask, value, threads=1):
    """Composite F(src) over ``src`` into ``dst`` with the box/mask alpha (see module notes)."""
    src = np.asarray(src)
    h, w = src.shape
    alpha = alpha_map(h, w, boxes, fx, fy, mask)
    if not alpha.any():
        if dst is not src:
            dst[...] = src
        return
    f = processed_plane(src, mode, param, passes, value)
    if src.dtype == np.float32:
        out = src + (f - src) * (alpha.astype(np.float32) / np.float32(256.0))
        dst[...] = out.astype(np.float32)
    else:
        s = src.astype(np.int64)
        dst[...] = ((s * (256 - alpha) + f * alpha + 128) >> 8).astype(src.dtype)


# ---------------------------------------------------------------------------------------------
# Flow to colour through a lookup table lut[n_dir, n_mag, 3] (uint8 RGB).
# Direction: angle = atan2(v, u) measured from +x towards +y (image rows go down), mapped to
# [0, 1) turns, bin = floor(turns * n_dir) (mod n_dir). Magnitude: m = min(|f| / max_mag, 1),
# bin = floor(m * (n_mag - 1) + 0.5). Non-finite flow counts as zero motion; max_mag <= 0 puts
# every pixel in magnitude bin 0.
# ---------------------------------------------------------------------------------------------


def flow_to_color(flow, lut, max_mag, out, threads=1, min_mag=0.0):
    flow = np.asarray(flow, np.float32)
    u = flow[..., 0]
    v = flow[..., 1]
    bad = ~(np.isfinite(u) & np.isfinite(v))
    u = np.where(bad, 0.0, u).astype(np.float32)
    v = np.where(bad, 0.0, v).astype(np.float32)
    n_dir, n_mag = lut.shape[:2]
    turns = np.arctan2(v, u).astype(np.float32) * np.float32(1.0 / (2.0 * np.pi))
    turns = np.where(turns < 0, turns + np.float32(1.0), turns)
    di = (turns * np.float32(n_dir)).astype(np.int64)
    di = np.where(di >= n_dir, 0, di)
    mag = np.sqrt(u * u + v * v)
    if max_mag > 0:
        m = mag * np.float32(1.0 / max_mag)
        m = np.minimum(m, np.float32(1.0))
        mi = (m * np.float32(n_mag - 1) + np.float32(0.5)).astype(np.int64)
        mi = np.minimum(mi, n_mag - 1)
    else:
        mi = np.zeros(u.shape, np.int64)
    if min_mag > 0:  # static pixels -> entry (0, 0); moving ones never fall into bin 0
        moving = mag >= np.float32(min_mag)
        mi = np.where(moving, np.maximum(mi, min(1, n_mag - 1)), 0)
        di = np.where(moving, di, 0)
    out[...] = lut[di, mi]


# ---------------------------------------------------------------------------------------------
# Block low DCT: the 4x4 lowest orthonormal DCT-II coefficients of every whole b x b block
# (partial blocks at the right/bottom edge are ignored), c = D X D^T with D = dct (4, b), and the
# fused inverse write-back plane += D^T C D, rounded half to even and clipped to 0..maxval.
# Float32 throughout; backends may differ by float rounding (the order of the sums), so a
# write-back may differ by 1 where a value lies within rounding of a .5 tie.
# ---------------------------------------------------------------------------------------------


def dct_rows(b: int, n: int = 4) -> np.ndarray:
    """(n, b) float32: the first ``n`` rows of the b-point orthonormal DCT-II matrix."""
    k = np.arange(b)
    d = np.sqrt(2 / b) * np.cos(np.pi * (2 * k[None, :] + 1) * np.arange(n)[:, None] / (2 * b))
    d[0] /= np.sqrt(2)
    return np.ascontiguousarray(d, dtype=np.float32)


def lowdct_xp(xp, src, b, dct, out):
    """:func:`block_lowdct` for array module ``xp`` (numpy or CuPy)."""
    h, w = src.shape
    hb, wb = h // b, w // b
    x = xp.ascontiguousarray(src[:hb * b, :wb * b], dtype=xp.float32)
    z = (x.reshape(hb * b * wb, b) @ dct.T).reshape(hb, b, wb * 4)  # along x: (hb, y, wb, v)
    c = xp.matmul(dct, z).reshape(hb, 4, wb, 4)                     # along y: (hb, u, wb, v)
    out[...] = c.transpose(0, 2, 1, 3)


def lowdct_apply_xp(xp, plane, b, dct, coefs, maxval):
    """:func:`block_lowdct_apply` for array module ``xp`` (numpy or CuPy)."""
    h, w = plane.shape
    hb, wb = h // b, w // b
    c = xp.ascontiguousarray(coefs.transpose(0, 2, 1, 3)).reshape(hb, 4, wb * 4)
    z = xp.matmul(dct.T, c)                                          # along y: (hb, y, wb, v)
    change = (z.reshape(hb * b * wb, 4) @ dct).reshape(hb * b, wb * b)
    sub = plane[:hb * b, :wb * b]
    xp.add(change, sub, out=change)
    xp.rint(change, out=change)
    xp.clip(change, 0, maxval, out=change)
    sub[...] = change


def block_lowdct(src, b, dct, out, threads=1):
    """(hb, wb, 4, 4) float32 ``out``: 4x4 lowest DCT coefficients of every whole block."""
    lowdct_xp(np, np.asarray(src), b, np.asarray(dct, np.float32), out)


def block_lowdct_apply(plane, b, dct, coefs, maxval, threads=1):
    """``plane`` (uint8/uint16, in place) += inverse of ``coefs`` per block, rounded and clipped."""
    lowdct_apply_xp(np, plane, b, np.asarray(dct, np.float32), np.asarray(coefs, np.float32),
                    maxval)
