"""Regions of private content: a box, an optional soft mask, class, score and track id."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Region:
    """One private object in a frame.

    ``box`` is ``x1, y1, x2, y2`` in luma pixels (floats). ``mask``, when given, is a soft mask
    at luma resolution covering the box's integer bounds ``floor(x1)..ceil(x2)``,
    ``floor(y1)..ceil(y2)`` (shape ``(ceil(y2) - floor(y1), ceil(x2) - floor(x1))``): uint8
    0..255 (255 = fully protected), bool, or float in [0, 1]. Protectors that honour it (blur,
    pixelate, fill) protect only where it is > 0 and blend by it; without one they protect the
    whole box (or its shape). :meth:`grown` drops the mask: a grown region is protected whole.
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

    def mask_origin(self) -> tuple[int, int]:
        """``(x, y)`` luma pixel of the mask's top-left sample: ``floor(x1), floor(y1)``."""
        return int(np.floor(self.box[0])), int(np.floor(self.box[1]))

    def mask_shape(self) -> tuple[int, int]:
        """The ``(rows, columns)`` a mask of this region must have."""
        x1, y1, x2, y2 = self.box
        return (int(np.ceil(y2)) - int(np.floor(y1)), int(np.ceil(x2)) - int(np.floor(x1)))

    def mask_u8(self) -> np.ndarray | None:
        """The soft mask as uint8 0..255 (None without one), checked against the box.

        bool becomes 0/255 and float ``round(255 * m)`` (clipped to [0, 1]); a wrong shape, a
        non-finite or an unsupported dtype raises :class:`~vpfilters.errors.ParameterError`
        (a protector then fails closed on the frame).
        """
        from vpfilters.errors import ParameterError

        if self.mask is None:
            return None
        m = np.asarray(self.mask)
        if m.ndim != 2 or tuple(m.shape) != self.mask_shape():
            raise ParameterError(f"region mask has shape {tuple(m.shape)}; the box {self.box} "
                                 f"needs {self.mask_shape()} (its integer bounds)",
                                 parameter="mask")
        if m.dtype == np.uint8:
            return m
        if m.dtype == bool:
            return m.astype(np.uint8) * np.uint8(255)
        if np.issubdtype(m.dtype, np.floating):
            if not np.isfinite(m).all():
                raise ParameterError("region mask has NaN or infinite values", parameter="mask")
            return np.rint(np.clip(m, 0.0, 1.0) * 255.0).astype(np.uint8)
        raise ParameterError(f"region mask must be uint8, bool or float, got {m.dtype}",
                             parameter="mask")


def boxes_array(regions) -> np.ndarray:
    """(N, 4) float64 array of the regions' boxes."""
    if not regions:
        return np.zeros((0, 4), np.float64)
    return np.asarray([r.box for r in regions], np.float64).reshape(-1, 4)


def flat_boxes(regions) -> list[float]:
    """The ``VPFBoxes`` frame-property form: x1, y1, x2, y2 per box."""
    return [float(v) for v in boxes_array(regions).ravel()]
