"""Masking coverage: the leak rate and over-masking of a protected picture against annotated boxes.

Both work from a boolean "protected" mask per image: either rasterised from the boxes a
protector would mask (:func:`boxes_mask`), or measured black-box as the pixels an output changed.

leak rate
    The share of annotated objects whose box is covered less than ``min_cover`` (80 %) by the mask.
over-masking
    The share of pixels farther than half a box from every annotated object that are masked
    (each annotated box grown by half its width left and right and half its height up and down
    marks the "near" zone; every other pixel is "far"), pooled over all images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vpfilters.errors import FormatError

__all__ = ["CoverageResult", "boxes_mask", "coverage", "mask_coverage"]


def _int_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return (max(0, int(np.floor(x1))), max(0, int(np.floor(y1))),
            min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2))))


def boxes_mask(boxes, width: int, height: int) -> np.ndarray:
    """Boolean (height, width) mask of the pixels ``floor(x1)..ceil(x2)`` x ``floor(y1)..ceil(y2)``
    of each box: the pixels a box-shaped protector changes."""
    m = np.zeros((height, width), bool)
    for b in np.asarray(boxes, np.float64).reshape(-1, 4):
        x1, y1, x2, y2 = _int_box(b, width, height)
        m[y1:y2, x1:x2] = True
    return m


def _gt_int(box, width, height):
    # annotated boxes: round to the nearest pixel edge so that a box is not inflated
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return max(0, x1), max(0, y1), min(width, x2), min(height, y2)


@dataclass
class CoverageResult:
    """Per-object coverage fractions and pooled far-zone counts over a set of images."""

    covered: np.ndarray        # (n_objects,) share of each annotated box that is masked
    far_pixels: int            # pixels farther than half a box from every annotated object
    far_masked: int            # of those, how many are masked
    min_cover: float = 0.8

    @property
    def leak_rate(self) -> float:
        """Share of annotated objects covered less than ``min_cover``."""
        return float(np.mean(self.covered < self.min_cover)) if self.covered.size else 0.0

    @property
    def over_masking(self) -> float:
        """Share of far-zone pixels that are masked."""
        return self.far_masked / self.far_pixels if self.far_pixels else 0.0

    def __add__(self, other: "CoverageResult") -> "CoverageResult":
        return CoverageResult(np.concatenate([self.covered, other.covered]),
                              self.far_pixels + other.far_pixels,
                              self.far_masked + other.far_masked, self.min_cover)


def mask_coverage(mask: np.ndarray, gt_boxes, *, min_cover: float = 0.8) -> CoverageResult:
    """Coverage of one image's annotated boxes by a boolean ``mask`` (height, width)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise FormatError(f"mask must be 2-D (height, width), got shape {mask.shape}",
                          parameter="mask")
    mask = mask.astype(bool, copy=False)
    h, w = mask.shape
    gt = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    near = np.zeros((h, w), bool)
    covered = np.zeros(len(gt))
    for k, b in enumerate(gt):
        x1, y1, x2, y2 = _gt_int(b, w, h)
        area = max(0, x2 - x1) * max(0, y2 - y1)
        covered[k] = mask[y1:y2, x1:x2].sum() / area if area else 1.0
        bw, bh = b[2] - b[0], b[3] - b[1]
        nx1, ny1, nx2, ny2 = _gt_int((b[0] - bw / 2, b[1] - bh / 2, b[2] + bw / 2, b[3] + bh / 2),
                                     w, h)
        near[ny1:ny2, nx1:nx2] = True
    far = ~near
    return CoverageResult(covered, int(far.sum()), int((mask & far).sum()), min_cover)


def coverage(pred_boxes_per_image, gt_boxes_per_image, sizes, *,
             min_cover: float = 0.8) -> CoverageResult:
    """Pooled coverage when each image's predicted boxes are masked as boxes.

    ``sizes`` holds ``(width, height)`` per image; predicted boxes should already carry the
    protector's padding.
    """
    total = CoverageResult(np.zeros(0), 0, 0, min_cover)
    for pred, gt, (w, h) in zip(pred_boxes_per_image, gt_boxes_per_image, sizes):
        total = total + mask_coverage(boxes_mask(pred, w, h), gt, min_cover=min_cover)
    return total
