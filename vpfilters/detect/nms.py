"""Box suppression and fusion: greedy NMS (per class) and weighted box fusion across detectors."""

from __future__ import annotations

import numpy as np

__all__ = ["batched_nms", "iou_one_to_many", "nms", "weighted_box_fusion"]


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``x1, y1, x2, y2`` box with each row of ``boxes`` (N, 4)."""
    iw = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    ih = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first.

    A box is dropped when its IoU with an already kept, higher-scored box exceeds
    ``iou_threshold``. Ties in score keep input order.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).ravel()
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, np.int64)


def batched_nms(boxes, scores, classes, iou_threshold: float) -> np.ndarray:
    """NMS done separately per class (boxes of different classes never suppress each other)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    classes = np.asarray(classes).ravel()
    if boxes.size == 0:
        return np.zeros(0, np.int64)
    # offsetting each class far apart lets one NMS pass do all classes
    span = float(np.abs(boxes).max()) + 1.0
    shifted = boxes + (np.unique(classes, return_inverse=True)[1] * 2 * span)[:, None]
    return nms(shifted, scores, iou_threshold)


def weighted_box_fusion(boxes_list, scores_list, *, iou_threshold: float = 0.55,
                        weights=None, skip_below: float = 0.0,
                        score_mode: str = "avg") -> tuple[np.ndarray, np.ndarray]:
    """Fuse the boxes of several detectors (or scales) of one class.

    Weighted box fusion (Solovyev et al., 2021): boxes are visited by descending score and join
    the cluster whose fused box they overlap most, if that IoU is > ``iou_threshold``, else start
    a new one. A cluster's box is the mean of its members weighted by ``weight x score``. Its
    score (``score_mode="avg"``, the paper's rescaling, which penalises boxes that few sources
    found) is the mean member ``weight x score`` times the summed weight of the sources present
    over the summed weight of all sources; with ``score_mode="max"`` it is the highest member
    score.

    Returns ``(boxes (K, 4), scores (K,))``, best score first.
    """
    n_src = len(boxes_list)
    weights = np.ones(n_src) if weights is None else np.asarray(weights, np.float64)
    rows = []
    for k, (b, s) in enumerate(zip(boxes_list, scores_list)):
        b = np.asarray(b, np.float64).reshape(-1, 4)
        s = np.asarray(s, np.float64).ravel()
        m = s >= skip_below
        for box, sc in zip(b[m], s[m]):
            rows.append((sc * weights[k], k, box))
    if not rows:
        return np.zeros((0, 4)), np.zeros(0)
    rows.sort(key=lambda r: -r[0])
    fused_boxes: list[np.ndarray] = []
    members: list[list[tuple[float, int, np.ndarray]]] = []
    for sc, k, box in rows:
        j = -1
        if fused_boxes:
            iou = iou_one_to_many(box, np.asarray(fused_boxes))
            best = int(np.argmax(iou))
            if iou[best] > iou_threshold:
                j = best
        if j < 0:
            fused_boxes.append(box.copy())
            members.append([(sc, k, box)])
        else:
            members[j].append((sc, k, box))
            ws = np.asarray([m[0] for m in members[j]])
            bs = np.asarray([m[2] for m in members[j]])
            fused_boxes[j] = (ws[:, None] * bs).sum(0) / max(ws.sum(), 1e-12)
    out_scores = []
    wsum = weights.sum()
    for ms in members:
        ss = np.asarray([m[0] for m in ms])
        if score_mode == "max":
            out_scores.append(ss.max() / weights[[m[1] for m in ms]].max())
        else:
            n_sources = len({m[1] for m in ms})
            mean = ss.sum() / len(ms)
            out_scores.append(mean * min(weights[list({m[1] for m in ms})].sum(), wsum) / wsum
                              if n_sources else 0.0)
    out_boxes = np.asarray(fused_boxes).reshape(-1, 4)
    out_scores = np.asarray(out_scores)
    order = np.argsort(-out_scores, kind="stable")
    return out_boxes[order], out_scores[order]
