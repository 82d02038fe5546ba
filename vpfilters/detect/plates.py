"""Licence plates: PP-OCR's text detector proposes text lines, a small trained scorer picks plates.

PP-OCRv4's DB text detector (``ppocr_det.onnx``, Apache-2.0, from the rapidocr-onnxruntime 1.4.4
wheel; model card ``vpfilters/models/ppocr_det.md``) gives a per-pixel text probability. Its
connected components, and merges of horizontally adjacent ones (plates whose characters split
into groups), are grown by the DB "unclip" rule into candidate boxes. A logistic regression on
16 shape, position, contrast and colour features of each candidate (``plate_scorer.json``,
trained by ``scripts/train_plates.py`` on ``shared/data/car_plates_kaggle``) scores them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vpfilters.detect import _onnx
from vpfilters.detect._base import Detections, Detector
from vpfilters.detect.nms import nms
from vpfilters.errors import ModelError, ParameterError

__all__ = ["PlateDetector", "TextDetector", "candidate_features", "plate_candidates",
           "rescale_boxes"]

SCORER = Path(__file__).resolve().parents[1] / "models" / "plate_scorer.json"
FEATURES = ("mean_prob", "max_prob", "log_aspect", "log_rel_area", "cx", "cy", "abs_dx",
            "fill", "luma_mean", "luma_std", "ring_contrast", "saturation", "edges",
            "area_rank", "n_parts", "log_n_candidates")


class TextDetector:
    """PP-OCRv4 text detection (DB): text probability map of an RGB picture.

    Input BGR, ``(x / 255 - 0.5) / 0.5``, sides multiples of 32; output 1x1xHxW sigmoid map.
    """

    file = "ppocr_det.onnx"

    def __init__(self, *, threads: int | None = None, device: str = "auto", path=None):
        self.sess = _onnx.session(path or self.file, threads=threads, device=device)
        self.input_name = self.sess.get_inputs()[0].name

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Text probability (H, W) float32 for an RGB uint8 picture whose sides are multiples
        of 32 (pad first)."""
        x = rgb[:, :, ::-1].astype(np.float32) * (2.0 / 255.0) - 1.0
        blob = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        return _onnx.run(self.sess, {self.input_name: blob}, "ppocr_det")[0][0, 0]


def _unclip(boxes: np.ndarray, ratio: float) -> np.ndarray:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    d = ratio * w * h / (2 * (w + h))
    return boxes + np.stack([-d, -d, d, d], 1)


def plate_candidates(prob: np.ndarray, *, binar: float = 0.3, unclip: float = 2.0,
                     min_area: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Candidate boxes (N, 4) in ``prob`` pixels and their part info (N, 4): mean prob, max prob,
    fill ratio, number of merged components.

    Components of ``prob > binar`` are taken alone and merged with their nearest horizontal
    neighbour of similar height (gap < 1.5 heights); each box is then unclipped.
    """
    import cv2

    binary = cv2.dilate((prob > binar).astype(np.uint8), np.ones((2, 2), np.uint8))
    n, lab, st, _ = cv2.connectedComponentsWithStats(binary, connectivity=4)
    comps = []
    for k in range(1, n):
        x, y, w, h, a = st[k]
        if a < min_area:
            continue
        sel = prob[y:y + h, x:x + w][lab[y:y + h, x:x + w] == k]
        comps.append((float(x), float(y), float(x + w), float(y + h), float(sel.mean()),
                      float(sel.max()), float(a)))
    boxes, info = [], []
    for c in comps:
        boxes.append(c[:4])
        info.append((c[4], c[5], c[6] / max((c[2] - c[0]) * (c[3] - c[1]), 1), 1))
    for i, a in enumerate(comps):
        ha = a[3] - a[1]
        best, bj = None, -1
        for j, b in enumerate(comps):
            if j == i or b[0] < a[0]:
                continue
            hb = b[3] - b[1]
            gap = b[0] - a[2]
            overlap_y = min(a[3], b[3]) - max(a[1], b[1])
            if gap < 1.5 * max(ha, hb) and overlap_y > 0.5 * min(ha, hb) and \
                    0.5 < hb / max(ha, 1) < 2 and (best is None or gap < best):
                best, bj = gap, j
        if bj >= 0:
            b = comps[bj]
            box = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
            area = (box[2] - box[0]) * (box[3] - box[1])
            wa, wb = a[6], b[6]
            boxes.append(box)
            info.append(((a[4] * wa + b[4] * wb) / (wa + wb), max(a[5], b[5]),
                         (wa + wb) / max(area, 1), 2))
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32)
    return (_unclip(np.asarray(boxes, np.float32), unclip),
            np.asarray(info, np.float32))


def candidate_features(rgb: np.ndarray, boxes: np.ndarray, info: np.ndarray) -> np.ndarray:
    """(N, len(FEATURES)) features of candidate boxes (in ``rgb`` pixels)."""
    import cv2

    h, w = rgb.shape[:2]
    n = len(boxes)
    if n == 0:
        return np.zeros((0, len(FEATURES)), np.float32)
    luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
    edges = np.abs(gx)
    bw = boxes[:, 2] - boxes[:, 0]
    bh = boxes[:, 3] - boxes[:, 1]
    area = bw * bh
    ranks = np.argsort(np.argsort(-area)) / max(n - 1, 1)
    feats = np.zeros((n, len(FEATURES)), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        ix1, iy1 = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
        ix2, iy2 = int(min(w, np.ceil(x2))), int(min(h, np.ceil(y2)))
        if ix2 <= ix1 or iy2 <= iy1:
            continue
        inside = luma[iy1:iy2, ix1:ix2]
        m = max(2, int(0.25 * (iy2 - iy1)))
        ox1, oy1, ox2, oy2 = max(0, ix1 - m), max(0, iy1 - m), min(w, ix2 + m), min(h, iy2 + m)
        outer = luma[oy1:oy2, ox1:ox2]
        ring = (outer.sum() - inside.sum()) / max(outer.size - inside.size, 1)
        feats[i] = (info[i, 0], info[i, 1], np.log(max(bw[i], 1) / max(bh[i], 1)),
                    np.log(max(area[i], 1) / (w * h)), (x1 + x2) / (2 * w), (y1 + y2) / (2 * h),
                    abs((x1 + x2) / (2 * w) - 0.5), info[i, 2], inside.mean() / 255,
                    inside.std() / 255, (inside.mean() - ring) / 255,
                    hsv[iy1:iy2, ix1:ix2, 1].mean() / 255, edges[iy1:iy2, ix1:ix2].mean() / 255,
                    ranks[i], info[i, 3], np.log(n))
    return feats


def rescale_boxes(boxes: np.ndarray, box_scale, width: int, height: int) -> np.ndarray:
    """Scale boxes about their centres by ``box_scale = (sx, sy)`` and clip to the picture."""
    sx, sy = box_scale
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    bw, bh = (boxes[:, 2] - boxes[:, 0]) * sx, (boxes[:, 3] - boxes[:, 1]) * sy
    out = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1).astype(np.float32)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def _design(feats: np.ndarray) -> np.ndarray:
    """Logistic-regression inputs: the features and their squares (curved responses)."""
    return np.hstack([feats, feats ** 2])


class PlateDetector(Detector):
    """Licence plates: text candidates from PP-OCRv4 scored by the trained plate scorer.

    Parameters
    ----------
    mode : ``"fast"`` or ``"thorough"``
        The text map is computed with the picture's short side resized to ``side`` px: fast 480,
        thorough 640 (the 416 px training pictures were analysed at 640).
    side : int, optional
        Overrides the mode's short side.
    threshold : float
        Default plate probability threshold.
    """

    labels = ("plate",)
    pad = 0.1
    SIDES = {"fast": 480, "thorough": 640}

    def __init__(self, mode: str = "thorough", *, side: int | None = None,
                 threshold: float = 0.2, nms_iou: float = 0.3, threads: int | None = None,
                 device: str = "auto", scorer=None):
        if mode not in self.SIDES:
            raise ParameterError(f"PlateDetector: mode must be 'fast' or 'thorough', got "
                                 f"{mode!r}", parameter="mode")
        self.mode = mode
        self.side = self.SIDES[mode] if side is None else int(side)
        self.threshold = float(threshold)
        self.nms_iou = float(nms_iou)
        self.text = TextDetector(threads=threads, device=device)
        path = Path(scorer) if scorer is not None else SCORER
        try:
            self.scorer = scorer if isinstance(scorer, dict) else json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read the plate scorer: {e}", file=path) from e
        for key in ("mean", "std", "coef", "intercept", "box_scale", "unclip"):
            if key not in self.scorer:
                raise ModelError(f"plate scorer lacks {key!r}", file=path)

    def score(self, feats: np.ndarray) -> np.ndarray:
        s = self.scorer
        z = (_design(feats) - np.asarray(s["mean"])) / np.asarray(s["std"])
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(s["coef"]) + s["intercept"])))

    def candidates(self, image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb at analysis scale, boxes in that rgb, features) of ``image``."""
        w, h = _onnx.image_size(image)
        scale = self.side / min(w, h)
        rgb = _onnx.resized_rgb(image, scale)
        padded = _onnx.pad_to_multiple(rgb, 32)
        prob = self.text(padded)[:rgb.shape[0], :rgb.shape[1]]
        boxes, info = plate_candidates(prob, unclip=self.scorer["unclip"])
        boxes = rescale_boxes(boxes, self.scorer["box_scale"], rgb.shape[1], rgb.shape[0])
        return rgb, boxes, candidate_features(rgb, boxes, info)

    def detect(self, image, threshold: float) -> Detections:
        w, h = _onnx.image_size(image)
        rgb, boxes, feats = self.candidates(image)
        if not len(boxes):
            return Detections()
        scores = self.score(feats).astype(np.float32)
        keep = nms(boxes, scores, self.nms_iou)
        boxes, scores = boxes[keep], scores[keep]
        m = scores >= threshold
        boxes = boxes[m] * np.array([w / rgb.shape[1], h / rgb.shape[0]] * 2, np.float32)
        return Detections(boxes, scores[m], "plate")
