"""PSNR, SSIM and KID against independent implementations, on real Kodak pictures."""

import glob
import os

import numpy as np
import pytest

from vpfilters.errors import FormatError
from vpfilters.metrics.kid import kid_from_features, polynomial_mmd2_unbiased
from vpfilters.metrics.quality import bpp, psnr, ssim

skm = pytest.importorskip("skimage.metrics")
Image = pytest.importorskip("PIL.Image")


def kodak(shared_data, n=4):
    files = sorted(glob.glob(os.path.join(shared_data, "kodak24", "*.png")))[:n]
    if not files:
        pytest.skip("kodak24 not found")
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


@pytest.fixture(scope="module")
def pairs(shared_data):
    rng = np.random.default_rng(3)
    out = []
    for img in kodak(shared_data):
        noisy = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
        out.append((img, noisy))
    return out


def test_ssim_matches_skimage_on_kodak(pairs):
    for a, b in pairs:
        assert abs(ssim(a[..., 1], b[..., 1]) - skm.structural_similarity(a[..., 1], b[..., 1])) < 1e-4
        assert abs(ssim(a, b, channel_axis=-1)
                   - skm.structural_similarity(a, b, channel_axis=-1)) < 1e-4


def test_psnr_matches_skimage_and_handles_10_bit(pairs):
    for a, b in pairs:
        assert psnr(a, b) == pytest.approx(skm.peak_signal_noise_ratio(a, b), abs=1e-9)
    a10 = pairs[0][0][..., 0].astype(np.uint16) << 2
    b10 = pairs[0][1][..., 0].astype(np.uint16) << 2
    ref = skm.peak_signal_noise_ratio(a10, b10, data_range=1023)
    assert psnr(a10, b10, bits=10) == pytest.approx(ref, abs=1e-9)
    assert psnr(a10, a10, bits=10) == float("inf")


def test_mismatched_shapes_are_clear_errors():
    with pytest.raises(FormatError):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(FormatError):
        ssim(np.zeros((4, 4)), np.zeros((4, 4)))  # smaller than the window


def test_mmd_matches_a_direct_double_loop():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 5)), rng.normal(0.3, 1, size=(7, 5))
    k = lambda a, b: (a @ b / 5 + 1) ** 3  # noqa: E731
    sxx = sum(k(x[i], x[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    syy = sum(k(y[i], y[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    sxy = sum(k(x[i], y[j]) for i in range(9) for j in range(7)) / (9 * 7)
    assert polynomial_mmd2_unbiased(x, y) == pytest.approx(sxx + syy - 2 * sxy, rel=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200, 16)), rng.normal(size=(200, 16))
    c = rng.normal(0.5, 1, size=(200, 16))
    same = kid_from_features(a, b, subsets=20, subset_size=100)
    diff = kid_from_features(a, c, subsets=20, subset_size=100)
    assert abs(same.mean) < 3 * same.std + 1e-3 and diff.mean > 10 * abs(same.mean)
    assert same.indicative


def test_bpp():
    assert bpp(256, 16, 16) == 1.0
