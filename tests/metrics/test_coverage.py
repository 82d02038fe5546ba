"""Leak rate and over-masking, and the photometric perturbations, on hand-made cases."""

import numpy as np
import pytest

from vpfilters.errors import FormatError
from vpfilters.metrics.coverage import boxes_mask, coverage, mask_coverage
from vpfilters.metrics.robustness import PERTURBATIONS, brightness, contrast, perturb, saturation


def test_boxes_mask_covers_floor_to_ceil():
    m = boxes_mask([[1.5, 2.2, 3.1, 4.0]], 6, 6)
    assert m.sum() == 3 * 2 and m[2:4, 1:4].all()


def test_leak_and_over_masking_by_hand():
    gt = [[10, 10, 20, 20], [40, 40, 50, 50]]           # 10x10 faces
    mask = np.zeros((100, 100), bool)
    mask[10:20, 10:17] = True                            # 70 % of face 1: leaks
    mask[40:50, 40:50] = True                            # face 2 fully covered
    mask[80:90, 80:90] = True                            # far from every face: over-masking
    mask[21:24, 10:20] = True                            # within half a box of face 1: not counted
    res = mask_coverage(mask, gt)
    np.testing.assert_allclose(res.covered, [0.7, 1.0])
    assert res.leak_rate == 0.5
    near = 2 * 20 * 20                                   # each face grown by 5 px per side
    assert res.far_pixels == 100 * 100 - near
    assert res.far_masked == 100
    assert res.over_masking == pytest.approx(100 / (10000 - near))
    pooled = coverage([[[10, 10, 17, 20], [40, 40, 50, 50], [80, 80, 90, 90]]], [gt], [(100, 100)])
    assert pooled.leak_rate == 0.5 and pooled.far_masked == 100
    with pytest.raises(FormatError):
        mask_coverage(np.zeros((2, 2, 2)), gt)


def test_perturbations_follow_their_definitions():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert (perturb(img, "clean") == img).all()
    assert np.abs(brightness(img, 0.7).astype(int) - img * 0.7).max() <= 0.5 + 1e-4
    grey = np.full((4, 4, 3), 100, np.uint8)
    assert (contrast(grey, 1.3) == 100).all() and (saturation(grey, 0.5) == 100).all()
    assert (saturation(img, 0.0).std(axis=2) <= 0.5).all()          # -100 %: grey
    noisy = perturb(img, "noise sigma 10", seed=3)
    assert (noisy == perturb(img, "noise sigma 10", seed=3)).all()
    assert 5 < np.abs(noisy.astype(int) - img).mean() < 12
    assert len(PERTURBATIONS) == 8
