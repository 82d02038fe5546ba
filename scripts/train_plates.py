"""Train the licence-plate scorer (vpfilters/models/plate_scorer.json) and report 5-fold CV AP.

Data: shared/data/car_plates_kaggle (97 pictures, 100 plates, 416x416). Candidates come from the
bundled PP-OCRv4 text detector (vpfilters.detect.plates); the scorer is an L2-regularised
logistic regression on their features and squares, fitted by Newton's method (numpy only).
Folds: picture k (in gt_boxes.json order) is in fold k % 5. The box scale (plate box / text box)
is the median ratio over the training folds' matched candidates.

    python scripts/train_plates.py [--data DIR] [--out PATH] [--l2 1.0]

Prints the AP@0.5 (VOC all-point) of each held-out fold, their mean, and writes the scorer fitted
on all pictures together with those CV figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vpfilters.detect import _onnx  # noqa: E402
from vpfilters.detect.nms import nms  # noqa: E402
from vpfilters.detect.plates import (  # noqa: E402
    FEATURES,
    PlateDetector,
    TextDetector,
    _design,
    candidate_features,
    plate_candidates,
    rescale_boxes,
)
from vpfilters.metrics.ap import average_precision, box_iou  # noqa: E402

SIDE = PlateDetector.SIDES["thorough"]
UNCLIP = 2.0
FOLDS = 5


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 50) -> tuple:
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, std, w[:-1], float(w[-1])


def main() -> int:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "car_plates_kaggle"))
    ap.add_argument("--out", default=str(ROOT / "vpfilters" / "models" / "plate_scorer.json"))
    ap.add_argument("--l2", type=float, default=1.0)
    args = ap.parse_args()
    data = Path(args.data)
    items = json.loads((data / "gt_boxes.json").read_text())["images"]
    text = TextDetector(threads=2)
    pics = []
    for it in items:
        rgb = cv2.imread(str(data / it["file"]))[:, :, ::-1].copy()
        h, w = rgb.shape[:2]
        scale = SIDE / min(w, h)
        big = _onnx.resized_rgb(rgb, scale)
        prob = text(_onnx.pad_to_multiple(big, 32))[:big.shape[0], :big.shape[1]]
        boxes, info = plate_candidates(prob, unclip=UNCLIP)
        gt = np.asarray(it["boxes"], float).reshape(-1, 4)
        pics.append({"rgb": big, "boxes": boxes, "info": info, "gt": gt * scale, "scale": scale})
    print(f"{len(pics)} pictures, {sum(len(p['gt']) for p in pics)} plates, "
          f"{np.mean([len(p['boxes']) for p in pics]):.1f} candidates per picture")

    def box_scale(train):
        rw, rh = [], []
        for p in train:
            if not len(p["boxes"]) or not len(p["gt"]):
                continue
            iou = box_iou(p["gt"], p["boxes"])
            for k in range(len(p["gt"])):
                j = int(iou[k].argmax())
                if iou[k, j] > 0.3:
                    g, b = p["gt"][k], p["boxes"][j]
                    rw.append((g[2] - g[0]) / (b[2] - b[0]))
                    rh.append((g[3] - g[1]) / (b[3] - b[1]))
        return float(np.median(rw)), float(np.median(rh))

    def samples(group, scale_xy):
        xs, ys, per = [], [], []
        for p in group:
            b = rescale_boxes(p["boxes"], scale_xy, p["rgb"].shape[1], p["rgb"].shape[0])
            f = candidate_features(p["rgb"], b, p["info"])
            lab = (box_iou(b, p["gt"]).max(1) >= 0.5) if len(p["gt"]) and len(b) \
                else np.zeros(len(b), bool)
            xs.append(f)
            ys.append(lab)
            per.append((b, f))
        return np.concatenate(xs), np.concatenate(ys).astype(float), per

    def fit(group):
        sxy = box_scale(group)
        x, y, _ = samples(group, sxy)
        mean, std, coef, icpt = fit_logistic(_design(x), y, args.l2)
        return {"mean": mean.tolist(), "std": std.tolist(), "coef": coef.tolist(),
                "intercept": icpt, "box_scale": list(sxy), "unclip": UNCLIP}

    def evaluate(scorer, group):
        det = PlateDetector.__new__(PlateDetector)
        det.scorer = scorer
        _, _, per = samples(group, scorer["box_scale"])
        dets = []
        for p, (b, f) in zip(group, per):
            if not len(b):
                dets.append(np.zeros((0, 5)))
                continue
            s = det.score(f)
            k = nms(b, s, 0.3)
            dets.append(np.hstack([b[k] / p["scale"], s[k, None]]))
        return average_precision(dets, [p["gt"] / p["scale"] for p in group])

    aps = []
    for fold in range(FOLDS):
        train = [p for k, p in enumerate(pics) if k % FOLDS != fold]
        test = [p for k, p in enumerate(pics) if k % FOLDS == fold]
        res = evaluate(fit(train), test)
        aps.append(res.ap)
        print(f"fold {fold}: {len(test)} pictures, AP@0.5 {res.ap:.4f}, "
              f"max recall {res.max_recall:.3f}")
    print(f"5-fold CV mean AP@0.5: {np.mean(aps):.4f} (std {np.std(aps):.4f})")
    scorer = fit(pics)
    train_res = evaluate(scorer, pics)
    scorer.update({
        "features": list(FEATURES) + [f + "^2" for f in FEATURES],
        "side": SIDE, "l2": args.l2,
        "trained_on": "shared/data/car_plates_kaggle (97 pictures, 100 plates)",
        "cv_folds": FOLDS, "cv_ap50": [round(a, 4) for a in aps],
        "cv_ap50_mean": round(float(np.mean(aps)), 4),
        "train_ap50": round(train_res.ap, 4),
        "text_model_sha256": hashlib.sha256(
            (ROOT / "vpfilters" / "models" / "ppocr_det.onnx").read_bytes()).hexdigest(),
    })
    Path(args.out).write_text(json.dumps(scorer, indent=1) + "\n")
    print(f"training-set AP@0.5 {train_res.ap:.4f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
