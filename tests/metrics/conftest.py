"""The reference the AP tests compare against: COCOeval (pycocotools, or faster-coco-eval) on one
class."""

from __future__ import annotations

import contextlib
import io

import pytest


def _coco_classes(faster: bool):
    """(COCO, COCOeval): faster-coco-eval's where asked for and installed, else pycocotools'."""
    if faster:
        try:
            from faster_coco_eval import COCO, COCOeval_faster
            return COCO, COCOeval_faster
        except ImportError:
            pass
    return (pytest.importorskip("pycocotools.coco").COCO,
            pytest.importorskip("pycocotools.cocoeval").COCOeval)


def _coco_stats(dets, gts, crowds=None, *, faster=False):
    """COCOeval's 12 summary numbers (``stats``: AP, AP50, AP75, AP small/medium/large, ...) of
    one class. ``dets[i]``: (N, 5) x0 y0 x1 y1 score of picture ``i``; ``gts[i]``: (M, 4) boxes;
    ``crowds[i]``: M iscrowd flags. ``faster``: faster-coco-eval where it is installed."""
    COCO, COCOeval = _coco_classes(faster)
    images, anns, results, aid = [], [], [], 1
    for i, g in enumerate(gts):
        images.append({"id": i + 1, "width": 10000, "height": 10000})
        for k, b in enumerate(g):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            anns.append({"id": aid, "image_id": i + 1, "category_id": 1, "area": w * h,
                         "bbox": [float(b[0]), float(b[1]), w, h],
                         "iscrowd": int(crowds[i][k]) if crowds is not None else 0})
            aid += 1
        for d in dets[i]:
            results.append({"image_id": i + 1, "category_id": 1, "score": float(d[4]),
                            "bbox": [float(d[0]), float(d[1]), float(d[2] - d[0]),
                                     float(d[3] - d[1])]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.fixture(scope="session")
def coco_stats():
    """``coco_stats(dets, gts, crowds=None, *, faster=False)``: COCOeval's ``stats``, one class."""
    return _coco_stats
