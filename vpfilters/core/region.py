"""Regions of private content: a box, an optional soft mask, class, score and track id."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Region:
    """One private object in a frame.

    ``box`` is ``x1, y1, x2, y2`` in luma pixels (floats). ``mask``, when given, is a uint8 soft
    mask (0..255) covering the box's integer bounds ``floor(x1)..ceil(x2)``,
    ``floor(y1)..ceil(y2)``.
    """

    box: tuple[float, float, float, float]
    label: str = "object"
    score: float = 1.0
    track_id: int | None = None
    mask: np.ndarray | None = None

    def grown(self, pad: float, width: int, height: int) -> "Region":
        """The region with its box grown by ``pad`` (a fraction of its size if < 1, else px)."""
        x1, y1, x2, y2 = self.box
        px = pad * (x2 - x1) if pad < 1 else pad
        py = pad * (y2 - y1) if pad < 1 else pad
        box = (max(0.0, x1 - px), max(0.0, y1 - py), min(float(width), x2 + px),
               min(float(height), y2 + py))
        return Region(box, self.label, self.score, self.track_id, None)


def boxes_array(regions) -> np.ndarray:
    """(N, 4) float64 array of the regions' boxes."""
    if not regions:
        return np.zeros((0, 4), np.float64)
    return np.asarray([r.box for r in regions], np.float64).reshape(-1, 4)


def flat_boxes(regions) -> list[float]:
    """The ``VPFBoxes`` frame-property form: x1, y1, x2, y2 per box."""
    return [float(v) for v in boxes_array(regions).ravel()]
