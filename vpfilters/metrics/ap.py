"""Detection average precision: VOC all-point AP@0.5 and COCO-style AP, greedy matching by score.

Boxes are ``x1, y1, x2, y2`` in continuous pixel coordinates: a box's area is
``(x2 - x1) * (y2 - y1)`` (no VOC-devkit "+1"), as in pycocotools.

Two matching rules are offered, both greedy in descending score order (ties keep input order):

``"voc"``
    A detection is compared with the ground-truth box it overlaps most. It is a true positive when
    that IoU is at least the threshold and the box is still free; otherwise a false positive
    (a duplicate does not fall back to a second-best box). Boxes flagged ``ignore`` (VOC
    "difficult") neither count as positives nor penalise detections matched to them.
``"coco"``
    A detection takes the free ground-truth box of highest IoU (>= threshold), preferring
    non-ignored boxes; crowd boxes may absorb any number of detections and use
    ``intersection / detection area`` as their IoU. This is pycocotools' ``COCOeval.evaluateImg``.

Interpolation is ``"all-point"`` (the area under the monotone precision envelope, VOC 2010+) or
``"101-point"`` (COCO). :func:`coco_ap` reproduces pycocotools' bbox ``AP``, ``AP50`` and
``AP75`` (tested to 1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vpfilters.errors import FormatError, ParameterError

__all__ = ["APResult", "average_precision", "box_iou", "coco_ap", "voc_ap"]

COCO_IOUS = np.linspace(0.5, 0.95, 10)
COCO_RECALLS = np.linspace(0.0, 1.0, 101)


@dataclass
class APResult:
    """Average precision of one class over a set of images.

    ``recall`` and ``precision`` are the raw curves (one point per scored detection, in descending
    score order); ``max_recall`` is recall at the lowest score; ``n_gt`` counts non-ignored
    ground-truth boxes; ``n_det`` all scored detections.
    """

    ap: float
    recall: np.ndarray
    precision: np.ndarray
    scores: np.ndarray
    n_gt: int
    n_det: int

    @property
    def max_recall(self) -> float:
        return float(self.recall[-1]) if self.recall.size else 0.0

    def precision_at(self, score: float) -> tuple[float, float]:
        """(precision, recall) when keeping detections with score >= ``score``."""
        k = int(np.searchsorted(-self.scores, -score, side="right"))
        if k == 0:
            return 1.0, 0.0
        return float(self.precision[k - 1]), float(self.recall[k - 1])


def _boxes(a, what: str) -> np.ndarray:
    arr = np.asarray(a, np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise FormatError(f"{what} must be (N, 4) x1, y1, x2, y2 boxes, got shape {arr.shape}")
    return arr


def box_iou(a, b, crowd=None) -> np.ndarray:
    """(N, M) IoU of boxes ``a`` (N, 4) and ``b`` (M, 4).

    Where ``crowd[j]`` is true, column ``j`` holds ``intersection / area(a_i)`` (COCO crowd rule).
    """
    a, b = _boxes(a, "a"), _boxes(b, "b")
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    if crowd is not None:
        crowd = np.asarray(crowd, bool)
        union = np.where(crowd[None, :], area_a[:, None], union)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return iou


def _match_image(det: np.ndarray, gt: np.ndarray, ignore: np.ndarray, crowd: np.ndarray,
                 thr: float, matching: str) -> tuple[np.ndarray, np.ndarray]:
    """Per detection (already sorted by score): (matched to a non-ignored gt, counts at all)."""
    n = len(det)
    tp = np.zeros(n, bool)
    counted = np.ones(n, bool)
    if n == 0 or len(gt) == 0:
        return tp, counted
    iou = box_iou(det, gt, crowd)
    taken = np.zeros(len(gt), bool)
    if matching == "voc":
        for i in range(n):
            j = int(np.argmax(iou[i]))
            if iou[i, j] >= thr:
                if ignore[j]:
                    counted[i] = False
                elif not taken[j]:
                    tp[i] = taken[j] = True
        return tp, counted
    # coco: ground truth ordered non-ignored first (stable), as COCOeval does
    order = np.argsort(ignore, kind="mergesort")
    iou, ig, cr = iou[:, order], ignore[order], crowd[order]
    for i in range(n):
        best, m = min(thr, 1 - 1e-10), -1
        for j in range(len(order)):
            if taken[j] and not cr[j]:
                continue
            if m > -1 and not ig[m] and ig[j]:
                break
            if iou[i, j] < best:
                continue
            best, m = iou[i, j], j
        if m == -1:
            continue
        taken[m] = True
        if ig[m]:
            counted[i] = False
        else:
            tp[i] = True
    return tp, counted


def _interpolate(recall: np.ndarray, precision: np.ndarray, interpolation: str) -> float:
    if interpolation == "all-point":
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = np.concatenate([[0.0], precision, [0.0]])
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        i = np.nonzero(mrec[1:] != mrec[:-1])[0]
        return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))
    if interpolation == "101-point":
        env = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
        idx = np.searchsorted(recall, COCO_RECALLS, side="left")
        q = np.zeros(len(COCO_RECALLS))
        ok = idx < len(env)
        q[ok] = env[idx[ok]]
        return float(q.mean())
    raise ParameterError(f"interpolation must be 'all-point' or '101-point', got {interpolation!r}",
                         parameter="interpolation")


def _prepare(detections, ground_truth, ignore, crowd):
    if len(detections) != len(ground_truth):
        raise FormatError(f"detections cover {len(detections)} images but ground truth "
                          f"{len(ground_truth)}")
    gts = [_boxes(g, "ground-truth boxes") for g in ground_truth]
    dets = []
    for k, d in enumerate(detections):
        if isinstance(d, tuple) and len(d) == 2:
            boxes, scores = _boxes(d[0], "detection boxes"), np.asarray(d[1], np.float64).ravel()
        else:
            arr = np.asarray(d, np.float64)
            arr = arr.reshape(0, 5) if arr.size == 0 else arr
            if arr.ndim != 2 or arr.shape[1] < 5:
                raise FormatError(f"image {k}: detections must be (N, 5) x1, y1, x2, y2, score or "
                                  f"a (boxes, scores) tuple, got shape {arr.shape}")
            boxes, scores = arr[:, :4], arr[:, 4]
        if len(boxes) != len(scores):
            raise FormatError(f"image {k}: {len(boxes)} boxes but {len(scores)} scores")
        dets.append((boxes, scores))
    ign = [np.zeros(len(g), bool) if ignore is None or ignore[k] is None
           else np.asarray(ignore[k], bool) for k, g in enumerate(gts)]
    crw = [np.zeros(len(g), bool) if crowd is None or crowd[k] is None
           else np.asarray(crowd[k], bool) for k, g in enumerate(gts)]
    return dets, gts, ign, crw


def average_precision(detections: Sequence, ground_truth: Sequence, *, iou_threshold: float = 0.5,
                      matching: str = "voc", interpolation: str = "all-point", ignore=None,
                      crowd=None, max_dets: int | None = None) -> APResult:
    """Average precision of one class.

    Parameters
    ----------
    detections : sequence, one item per image
        ``(N, 5)`` arrays ``x1, y1, x2, y2, score`` or ``(boxes (N, 4), scores (N,))`` tuples.
    ground_truth : sequence, one ``(M, 4)`` array of boxes per image.
    iou_threshold : float
        A match needs IoU >= this.
    matching : ``"voc"`` or ``"coco"``; see the module docstring.
    interpolation : ``"all-point"`` or ``"101-point"``.
    ignore, crowd : optional sequences of (M,) bool arrays per image
        Ignored (VOC difficult / COCO out-of-range) and crowd ground-truth boxes.
    max_dets : keep only the ``max_dets`` best-scored detections of each image (COCO: 100).
    """
    if matching not in ("voc", "coco"):
        raise ParameterError(f"matching must be 'voc' or 'coco', got {matching!r}",
                             parameter="matching")
    dets, gts, ign, crw = _prepare(detections, ground_truth, ignore, crowd)
    all_scores, all_tp, all_counted = [], [], []
    n_gt = 0
    for (boxes, scores), gt, ig, cr in zip(dets, gts, ign, crw):
        n_gt += int((~ig).sum())
        order = np.argsort(-scores, kind="mergesort")
        if max_dets is not None:
            order = order[:max_dets]
        tp, counted = _match_image(boxes[order], gt, ig, cr, iou_threshold, matching)
        all_scores.append(scores[order])
        all_tp.append(tp)
        all_counted.append(counted)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, bool)
    counted = np.concatenate(all_counted) if all_counted else np.zeros(0, bool)
    order = np.argsort(-scores, kind="mergesort")
    scores, tp, counted = scores[order], tp[order], counted[order]
    scores, tp = scores[counted], tp[counted]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    recall = ctp / max(n_gt, 1)
    precision = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    if n_gt == 0:
        return APResult(float("nan"), recall, precision, scores, 0, len(scores))
    ap = _interpolate(recall, precision, interpolation)
    return APResult(ap, recall, precision, scores, n_gt, len(scores))


def voc_ap(detections: Sequence, ground_truth: Sequence, *, iou_threshold: float = 0.5,
           ignore=None) -> float:
    """PASCAL VOC (2010+) all-point AP at ``iou_threshold`` (default 0.5) for one class."""
    return average_precision(detections, ground_truth, iou_threshold=iou_threshold,
                             matching="voc", interpolation="all-point", ignore=ignore).ap


def coco_ap(detections: Sequence, ground_truth: Sequence, *, crowd=None, ignore=None,
            max_dets: int = 100, area_range: tuple[float, float] | None = None) -> dict:
    """COCO-style AP of one class: ``{"AP": mean over IoU .50:.05:.95, "AP50", "AP75"}``.

    Matches pycocotools' bbox evaluation for one category with ``areaRng='all'`` (or
    ``area_range``, which ignores ground truth outside it and unmatched detections outside it).
    """
    dets, gts, ign, crw = _prepare(detections, ground_truth, ignore, crowd)
    if area_range is not None:
        lo, hi = area_range
        for k, g in enumerate(gts):
            area = (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1])
            ign[k] = ign[k] | crw[k] | (area < lo) | (area > hi)
    else:
        ign = [i | c for i, c in zip(ign, crw)]
    aps = []
    for thr in COCO_IOUS:
        res = _coco_one(dets, gts, ign, crw, float(thr), max_dets, area_range)
        aps.append(res)
    aps = np.asarray(aps)
    ok = aps > -1
    return {"AP": float(aps[ok].mean()) if ok.any() else float("nan"),
            "AP50": float(aps[0]) if ok[0] else float("nan"),
            "AP75": float(aps[5]) if ok[5] else float("nan")}


def _coco_one(dets, gts, ign, crw, thr, max_dets, area_range) -> float:
    scores_l, tp_l, keep_l = [], [], []
    n_gt = 0
    for (boxes, scores), gt, ig, cr in zip(dets, gts, ign, crw):
        n_gt += int((~ig).sum())
        order = np.argsort(-scores, kind="mergesort")[:max_dets]
        b = boxes[order]
        tp, counted = _match_image(b, gt, ig, cr, thr, "coco")
        if area_range is not None:
            area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            matched_any = tp | ~counted
            outside = (area < area_range[0]) | (area > area_range[1])
            counted &= ~(outside & ~matched_any)
        scores_l.append(scores[order])
        tp_l.append(tp)
        keep_l.append(counted)
    if n_gt == 0:
        return -1.0
    scores = np.concatenate(scores_l)
    order = np.argsort(-scores, kind="mergesort")
    tp = np.concatenate(tp_l)[order]
    keep = np.concatenate(keep_l)[order]
    tps = np.cumsum(tp & keep).astype(float)
    fps = np.cumsum(~tp & keep).astype(float)
    recall = tps / n_gt
    precision = tps / (fps + tps + np.spacing(1))
    return _interpolate(recall, precision, "101-point")

