"""Average precision: hand-worked cases, and pycocotools on real detections of real pictures."""

import json
import os

import numpy as np
import pytest

from vpfilters.errors import FormatError, ParameterError
from vpfilters.metrics.ap import average_precision, box_iou, coco_ap, voc_ap

cv2 = pytest.importorskip("cv2")


# -- hand-worked ---------------------------------------------------------------------------------

def test_iou_and_crowd_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [0, 0, 20, 20]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 100 / 400]])
    np.testing.assert_allclose(box_iou(a, b, crowd=[False, True]), [[50 / 150, 1.0]])


def test_voc_all_point_by_hand():
    gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[0, 0, 10, 10]])]
    # ranked: TP (0.9), FP (0.8, nothing there), TP (0.7), duplicate FP (0.6), TP (0.5)
    dets = [np.array([[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.8], [20, 20, 30, 30, 0.6]]),
            np.array([[0, 0, 10, 10, 0.7], [1, 0, 10, 10, 0.5]])]
    # order: .9 TP(img0 gt0), .8 FP, .7 TP(img1), .6 TP(img0 gt1), .5 FP duplicate
    # recall 1/3, 1/3, 2/3, 1, 1; precision 1, 1/2, 2/3, 3/4, 3/5
    # envelope at recall steps: 1/3 -> 1, 2/3 -> 3/4, 1 -> 3/4
    res = average_precision(dets, gt)
    assert res.n_gt == 3 and res.n_det == 5
    assert res.ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 0.75 + 1 / 3 * 0.75)
    assert res.max_recall == pytest.approx(1.0)
    assert res.precision_at(0.65) == pytest.approx((2 / 3, 2 / 3))
    assert voc_ap(dets, gt) == pytest.approx(res.ap)


def test_voc_duplicate_does_not_fall_back_but_coco_does():
    gt = [np.array([[0, 0, 10, 10], [6, 0, 16, 10]])]
    # both detections overlap gt0 most; the second also overlaps gt1 enough
    dets = [np.array([[0, 0, 10, 10, 0.9], [3, 0, 13, 10, 0.8]])]
    assert box_iou(dets[0][1:, :4], gt[0]).round(3).tolist() == [[0.538, 0.538]]
    voc = average_precision(dets, gt, matching="voc")
    coco = average_precision(dets, gt, matching="coco")
    assert voc.max_recall == pytest.approx(0.5)    # argmax is gt0, already taken: FP
    assert coco.max_recall == pytest.approx(1.0)   # takes the free gt1


def test_ignored_ground_truth_is_neither_hit_nor_miss():
    gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]])]
    dets = [np.array([[20, 20, 30, 30, 0.9], [0, 0, 10, 10, 0.8]])]
    res = average_precision(dets, gt, ignore=[np.array([True, False])])
    assert res.n_gt == 1 and res.n_det == 1 and res.ap == pytest.approx(1.0)


def test_empty_and_bad_inputs():
    assert voc_ap([np.zeros((0, 5))], [np.array([[0, 0, 1, 1]])]) == 0.0
    assert np.isnan(voc_ap([np.array([[0, 0, 1, 1, 0.5]])], [np.zeros((0, 4))]))
    with pytest.raises(FormatError):
        voc_ap([np.zeros((2, 3))], [np.zeros((0, 4))])
    with pytest.raises(FormatError):
        voc_ap([], [np.zeros((0, 4))])
    with pytest.raises(ParameterError):
        average_precision([np.zeros((0, 5))], [np.zeros((0, 4))], matching="best")


# -- real detections against pycocotools -----------------------------------------------------

@pytest.fixture(scope="module")
def face_detections(shared_data):
    """YuNet (fast, real) detections on 60 face_mask_detection pictures, with low scores kept."""
    from vpfilters.detect.faces import YuNet

    folder = os.path.join(shared_data, "face_mask_detection")
    items = json.load(open(os.path.join(folder, "gt_boxes.json")))["images"][:60]
    net = YuNet(threads=2)
    dets, gts = [], []
    for it in items:
        rgb = cv2.imread(os.path.join(folder, it["file"]))[:, :, ::-1]
        b, s = net.run(rgb, 1.5, 0.02)
        dets.append(np.hstack([b, s[:, None]]).astype(np.float64))
        gts.append(np.asarray(it["boxes"], float).reshape(-1, 4))
    return dets, gts


def test_coco_ap_matches_pycocotools_on_faces(face_detections, coco_stats):
    dets, gts = face_detections
    assert sum(len(d) for d in dets) > 1000 and max(len(d) for d in dets) > 100  # maxDets bites
    stats = coco_stats(dets, gts)
    ours = coco_ap(dets, gts)
    assert ours["AP"] == pytest.approx(stats[0], abs=1e-6)
    assert ours["AP50"] == pytest.approx(stats[1], abs=1e-6)
    assert ours["AP75"] == pytest.approx(stats[2], abs=1e-6)
    # small / medium / large (box areas here): pycocotools' area ranges
    for k, rng in zip((3, 4, 5), ((0, 32 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, 1e10))):
        got = coco_ap(dets, gts, area_range=rng)["AP"]
        if stats[k] < 0:
            assert np.isnan(got)
        else:
            assert got == pytest.approx(stats[k], abs=1e-6)
    # the 101-point, coco-matching form of average_precision is pycocotools' AP50 too
    assert average_precision(dets, gts, matching="coco", interpolation="101-point",
                             max_dets=100).ap == pytest.approx(stats[1], abs=1e-6)


def test_coco_ap_matches_pycocotools_with_crowds(shared_data, coco_stats):
    """YOLOX-nano person boxes on the COCO pictures, crowd regions included."""
    from vpfilters.detect.people import PersonDetector

    folder = os.path.join(shared_data, "coco_permissive_seg")
    d = json.load(open(os.path.join(folder, "instances.json")))
    det = PersonDetector(threads=2)
    dets, gts, crowd = [], [], []
    for im in d["images"]:
        anns = [a for a in d["annotations"] if a["image_id"] == im["id"] and a["category_id"] == 1]
        if not anns:
            continue
        gts.append(np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                              a["bbox"][1] + a["bbox"][3]] for a in anns]))
        crowd.append(np.array([a["iscrowd"] for a in anns], bool))
        rgb = cv2.imread(os.path.join(folder, "images", im["file_name"]))[:, :, ::-1]
        dets.append(det(rgb, threshold=0.01).as_array())
    assert any(c.any() for c in crowd)
    stats = coco_stats(dets, gts, crowd)
    ours = coco_ap(dets, gts, crowd=crowd)
    assert [ours["AP"], ours["AP50"], ours["AP75"]] == pytest.approx(list(stats[:3]), abs=1e-6)
