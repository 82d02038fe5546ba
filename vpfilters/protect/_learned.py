"""Frame-level glue for learned rescaling: YUV <-> RGB around the IRN-style network (torch)."""

from __future__ import annotations

import numpy as np

from vpfilters.core.frame import Frame
from vpfilters.errors import FormatError

_KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def _coeffs(frame: Frame):
    kr, kb = _KR_KB[frame.matrix]
    return kr, kb, 1 - kr - kb


def frame_to_rgb(frame: Frame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an 8-bit YUV frame (chroma repeated to full size)."""
    if frame.family != "yuv" or frame.bits != 8:
        raise FormatError(f"learned rescaling takes 8-bit YUV, got {frame.format}",
                          frame=frame.index)
    h, w = frame.height, frame.width
    kr, kb, kg = _coeffs(frame)
    y = frame.planes[0].astype(np.float32)
    uv = []
    for i in (1, 2):
        sx, sy = frame.subsampling(i)
        p = np.repeat(np.repeat(frame.planes[i], 1 << sy, 0), 1 << sx, 1)[:h, :w]
        uv.append(p.astype(np.float32) - 128)
    u, v = uv
    if not frame.full_range:
        y = (y - 16) * (255 / 219)
        u, v = u * (255 / 224), v * (255 / 224)
    r = y + 2 * (1 - kr) * v
    b = y + 2 * (1 - kb) * u
    g = (y - kr * r - kb * b) / kg
    return np.clip(np.rint(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)


def rgb_into_frame(rgb: np.ndarray, frame: Frame) -> None:
    """Write uint8 RGB (frame size) into ``frame``'s YUV planes (chroma: mean of each block)."""
    kr, kb, kg = _coeffs(frame)
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = kr * r + kg * g + kb * b
    u = (b - y) / (2 * (1 - kb))
    v = (r - y) / (2 * (1 - kr))
    if not frame.full_range:
        y = 16 + y * (219 / 255)
        u, v = u * (224 / 255), v * (224 / 255)
    frame.planes[0][...] = np.clip(np.rint(y), 0, 255)
    for i, c in ((1, u), (2, v)):
        sx, sy = frame.subsampling(i)
        ph, pw = frame.planes[i].shape
        c = np.pad(c, ((0, ph * (1 << sy) - c.shape[0]), (0, pw * (1 << sx) - c.shape[1])),
                   mode="edge")
        c = c.reshape(ph, 1 << sy, pw, 1 << sx).mean(axis=(1, 3))
        frame.planes[i][...] = np.clip(np.rint(c + 128), 0, 255)


class LearnedRescaler:
    """The bundled network for one factor, applied to whole frames."""

    def __init__(self, factor: int):
        from vpfilters.protect import irn

        self.irn = irn
        self.factor = factor
        self.model = irn.load_bundled(factor)

    def protect(self, frame: Frame, size: str = "same") -> Frame:
        f = self.factor
        rgb = frame_to_rgb(frame)
        lr = self.irn.downscale(self.model, rgb)
        frame.props["VPFRescale"] = f
        if size == "small":
            h, w = lr.shape[:2]
            sub = frame.subsampling(1)
            shapes = [(h, w)] + [(-(-h // (1 << sub[1])), -(-w // (1 << sub[0])))] * 2
            out = Frame([np.zeros(s, np.uint8) for s in shapes], frame.format, frame.index,
                        frame.props, frame.pts, frame.time_base)
            rgb_into_frame(lr, out)
            return out
        up = np.repeat(np.repeat(lr, f, 0), f, 1)[:frame.height, :frame.width]
        rgb_into_frame(up, frame)
        return frame

    def restore(self, frame: Frame, size: tuple[int, int] | None = None) -> Frame:
        """The up-scaled picture from a protected frame (pixel blocks or small LR)."""
        f = self.factor
        rgb = frame_to_rgb(frame)
        if size is None:  # same-size blocks: take each block's mean as the LR sample
            h, w = frame.height, frame.width
            hp, wp = -(-h // f) * f, -(-w // f) * f
            x = np.pad(rgb, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge").astype(np.float32)
            lr = np.rint(x.reshape(hp // f, f, wp // f, f, 3).mean(axis=(1, 3))).astype(np.uint8)
            size = (h, w)
        else:
            lr = rgb
        hr = self.irn.upscale(self.model, lr, size)
        sub = frame.subsampling(1)
        shapes = [size] + [(-(-size[0] // (1 << sub[1])), -(-size[1] // (1 << sub[0])))] * 2
        out = Frame([np.zeros(s, np.uint8) for s in shapes], frame.format, frame.index,
                    dict(frame.props), frame.pts, frame.time_base)
        rgb_into_frame(hr, out)
        return out
