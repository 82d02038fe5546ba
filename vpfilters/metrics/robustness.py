"""Photometric perturbations for robustness tables (cl. 6.2 f): brightness, contrast, colour, noise.

Each takes and returns an (H, W, 3) uint8 RGB picture; the definitions follow PIL's
``ImageEnhance`` (blend with black, with the mean grey level, with the grey picture):

- ``brightness(img, f)``: ``img * f`` (``f = 1.3`` is +30 %);
- ``contrast(img, f)``: ``mean + (img - mean) * f`` with ``mean`` the picture's mean luma;
- ``saturation(img, f)``: ``grey + (img - grey) * f`` with ``grey`` the BT.601 luma per pixel;
- ``gaussian_noise(img, sigma, seed)``: add N(0, sigma^2) per sample, seeded per picture.

Results are rounded and clipped to 0..255.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PERTURBATIONS", "brightness", "contrast", "gaussian_noise", "perturb", "saturation"]

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
