"""Kernel Inception Distance (cl. 5): unbiased MMD^2 with the cubic polynomial kernel, over subsets.

The feature extractor is pluggable: any callable mapping a batch of uint8 RGB images (N, H, W, 3)
to features (N, D). The standard's threshold (KID x 100 < 8) is only meaningful with Inception-v3
pool features; :func:`kid` records which extractor produced the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vpfilters.errors import FormatError, ParameterError


def polynomial_mmd2_unbiased(fx: np.ndarray, fy: np.ndarray) -> float:
    """Unbiased MMD^2 between two feature sets with k(x, y) = (x.y / d + 1)^3."""
    m, n = len(fx), len(fy)
    if m < 2 or n < 2:
        raise FormatError(f"kid: need at least 2 samples per set, got {m} and {n}",
                          parameter="features")
    d = fx.shape[1]
    kxx = (fx @ fx.T / d + 1.0) ** 3
    kyy = (fy @ fy.T / d + 1.0) ** 3
    kxy = (fx @ fy.T / d + 1.0) ** 3
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


@dataclass
class KIDResult:
    mean: float          # KID (not scaled)
    std: float
    subsets: int
    subset_size: int
    extractor: str
    indicative: bool     # True unless Inception-v3 features were used

    @property
    def x100(self) -> float:
        return 100.0 * self.mean


def kid_from_features(real: np.ndarray, fake: np.ndarray, *, subsets: int = 100,
                      subset_size: int = 1000, seed: int = 0, extractor: str = "features",
                      indicative: bool = True) -> KIDResult:
    """KID from precomputed features: the mean and std of unbiased MMD^2 over random subsets."""
    real = np.asarray(real, np.float64)
    fake = np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise FormatError(f"kid: features must be (N, D) with equal D, got {real.shape} and "
                          f"{fake.shape}", parameter="features")
    if subsets < 1:
        raise ParameterError("kid: subsets must be >= 1", parameter="subsets")
    size = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    vals = [polynomial_mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                                     fake[rng.choice(len(fake), size, replace=False)])
            for _ in range(subsets)]
    return KIDResult(float(np.mean(vals)), float(np.std(vals)), subsets, size, extractor, indicative)


def kid(real_images, fake_images, extractor, **kw) -> KIDResult:
    """KID between two image sets with ``extractor`` (callable, ``name`` attribute recommended)."""
    name = getattr(extractor, "name", type(extractor).__name__)
    fr, ff = np.asarray(extractor(real_images)), np.asarray(extractor(fake_images))
    return kid_from_features(fr, ff, extractor=name,
                             indicative=not getattr(extractor, "is_inception", False), **kw)
