"""Photometric perturbations for robustness tables (cl. 6.2 f): brightness, contrast, colour, noise.

Each takes and returns an (H, W, 3) uint8 RGB picture; the definitions follow PIL's
``ImageEnhance`` (blend with black, with the mean grey level, with the grey picture):

- ``brightness(img, f)``: ``img * f`` (``f = 1.3`` is +30 %);
- ``contrast(img, f)``: ``mean + (img - mean) * f`` with ``mean`` the picture's mean luma;
- ``saturation(img, f)``: ``grey + (img - grey) * f`` with ``grey`` the BT.601 luma per pixel;
- ``gaussian_noise(img, sigma, seed)``: add N(0, sigma^2) per sample, seeded per picture.

Results are rounded and clipped to 0..255.

``h264_roundtrip(frames, crf)`` is the codec attack: yuv420p frames (:class:`~vpfilters.core.Frame`)
through libx264 and back, in memory (PyAV).
"""

from __future__ import annotations

import numpy as np

__all__ = ["PERTURBATIONS", "brightness", "contrast", "gaussian_noise", "h264_roundtrip", "perturb",
           "saturation"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def brightness(img: np.ndarray, factor: float) -> np.ndarray:
    return _u8(img.astype(np.float32) * factor)


def contrast(img: np.ndarray, factor: float) -> np.ndarray:
    f = img.astype(np.float32)
    mean = float((f @ _LUMA).mean())
    return _u8(mean + (f - mean) * factor)


def saturation(img: np.ndarray, factor: float) -> np.ndarray:
    f = img.astype(np.float32)
    grey = (f @ _LUMA)[..., None]
    return _u8(grey + (f - grey) * factor)


def gaussian_noise(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _u8(img.astype(np.float32) + rng.normal(0.0, sigma, img.shape).astype(np.float32))


#: The issue's table: name -> (function, parameter).
PERTURBATIONS = {
    "brightness+30%": (brightness, 1.3),
    "brightness-30%": (brightness, 0.7),
    "contrast+30%": (contrast, 1.3),
    "contrast-30%": (contrast, 0.7),
    "saturation+50%": (saturation, 1.5),
    "saturation-50%": (saturation, 0.5),
    "noise sigma 5": (gaussian_noise, 5.0),
    "noise sigma 10": (gaussian_noise, 10.0),
}


def perturb(img: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """Apply the perturbation ``name`` (a key of :data:`PERTURBATIONS`); ``"clean"`` is identity."""
    if name == "clean":
        return img
    fn, p = PERTURBATIONS[name]
    if fn is gaussian_noise:
        return fn(img, p, seed)
    return fn(img, p)


def h264_roundtrip(frames: list, crf: int, preset: str = "veryfast") -> list:
    """yuv420p frames encoded with libx264 (``crf``, ``preset``, 25 fps MP4 in memory) and decoded
    again: new frames with the decoder's props, in order. Needs PyAV."""
    import io

    import av

    from vpfilters.hosts.pyav import core_to_frame, frame_to_core

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        st = out.add_stream("libx264", rate=25)
        st.width, st.height, st.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        st.options = {"crf": str(crf), "preset": preset}
        for f in frames:
            avf = core_to_frame(f)
            avf.pts = None
            for p in st.encode(avf):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    buf.seek(0)
    with av.open(buf) as c:
        return [frame_to_core(f, i)[0].copy() for i, f in enumerate(c.decode(video=0))]
