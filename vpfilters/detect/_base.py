"""Detection results and the detector interface every runner follows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vpfilters.core.region import Region


@dataclass
class Detections:
    """Boxes found in one image.

    Attributes
    ----------
    boxes : (N, 4) float32
        ``x1, y1, x2, y2`` in pixels of the analysed image (luma pixels for a Frame).
    scores : (N,) float32 in 0..1
    labels : (N,) str array
        ``"face"``, ``"person"``, ``"plate"`` or a user model's class name.
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U16"))

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).ravel()
        labels = np.asarray(self.labels).ravel()
        if labels.size == 1 and len(self.boxes) != 1:
            labels = np.repeat(labels, len(self.boxes))
        self.labels = labels.astype(str) if labels.size else np.zeros(len(self.boxes), "<U16")
        if not (len(self.boxes) == len(self.scores) == len(self.labels)):
            raise ValueError(f"Detections: {len(self.boxes)} boxes, {len(self.scores)} scores, "
                             f"{len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, idx) -> "Detections":
        return Detections(self.boxes[idx], self.scores[idx], self.labels[idx])

    def above(self, threshold: float) -> "Detections":
        """The detections with score >= ``threshold``."""
        return self[self.scores >= threshold]

    def with_label(self, *labels: str) -> "Detections":
        return self[np.isin(self.labels, labels)]

    def as_array(self) -> np.ndarray:
        """(N, 5) float64 ``x1, y1, x2, y2, score`` (the form :mod:`vpfilters.metrics.ap` takes)."""
        return np.hstack([self.boxes, self.scores[:, None]]).astype(np.float64)

    def regions(self, *, pad: float = 0.0, width: int | None = None,
                height: int | None = None) -> list[Region]:
        """:class:`~vpfilters.core.region.Region` list, boxes grown by ``pad`` and clipped."""
        out = []
        for b, s, lab in zip(self.boxes.tolist(), self.scores.tolist(), self.labels.tolist()):
            r = Region(tuple(b), lab, float(s))
            if pad or width is not None:
                r = r.grown(pad, width if width is not None else 1 << 30,
                            height if height is not None else 1 << 30)
                r.score = float(s)
            out.append(r)
        return out

    @staticmethod
    def concat(parts) -> "Detections":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections()
        return Detections(np.concatenate([p.boxes for p in parts]),
                          np.concatenate([p.scores for p in parts]),
                          np.concatenate([p.labels for p in parts]))


class Detector:
    """Finds objects in one picture.

    Subclasses implement :meth:`detect_rgb`. ``__call__`` takes an RGB/gray array or a
    :class:`~vpfilters.core.frame.Frame` (any format) and returns :class:`Detections` in that
    picture's pixel coordinates, with ``score >= threshold``.
    """

    labels: tuple[str, ...] = ()
    threshold: float = 0.5
    #: padding (fraction of the box size per side) the default threshold was tuned with
    pad: float = 0.0

    def __call__(self, image, *, threshold: float | None = None) -> Detections:
        thr = self.threshold if threshold is None else float(threshold)
        return self.detect(image, thr)

    def detect(self, image, threshold: float) -> Detections:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
