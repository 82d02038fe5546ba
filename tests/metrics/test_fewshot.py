"""Meta-task metrics: episode sampling, the 95 % interval against scipy, and episode AP of a real
detector (YOLOX-nano) on real COCO classes against faster-coco-eval / pycocotools."""

import json
import os

import numpy as np
import pytest

from vpfilters.errors import FormatError, InputError, ParameterError
from vpfilters.metrics.fewshot import (
    AnnotatedSet,
    YoloxEpisodeDetector,
    episode_map,
    mean_confidence_interval,
    meta_task_map,
    sample_episodes,
    student_t_ppf,
)

pytest.importorskip("cv2")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def coco(shared_data):
    return AnnotatedSet.load(os.path.join(shared_data, "coco_permissive_seg"))


@pytest.fixture(scope="module")
def yolox():
    return YoloxEpisodeDetector(threshold=0.01, threads=2)


def test_annotated_set_reads_gt_boxes(coco):
    assert len(coco) == 59
    assert sum(len(b) for b in coco.boxes) + sum(len(c) for c in coco.crowd_boxes) == 558
    assert len(coco.images_with("person")) == 30
    g, ig = coco.gt(coco.images_with("person")[0], "person")
    assert g.shape[1] == 4 and len(ig) == len(g)


@pytest.mark.parametrize("n_way,k_shot", [(5, 1), (3, 5)])
def test_episodes_are_n_way_k_shot_and_disjoint(coco, n_way, k_shot):
    eps = sample_episodes(coco, n_way, k_shot, episodes=15, seed=7)
    assert len(eps) == 15
    for ep in eps:
        assert len(set(ep.classes)) == n_way
        supp = set()
        for c, ims in ep.support.items():
            assert len(ims) == k_shot and all((coco.labels[i] == c).any() for i in ims)
            supp.update(ims)
        assert ep.query and not supp & set(ep.query)
        assert all(any((coco.labels[i] == c).any() for c in ep.classes) for i in ep.query)
    again = sample_episodes(coco, n_way, k_shot, episodes=15, seed=7)
    assert [e.classes for e in again] == [e.classes for e in eps]
    other = sample_episodes(coco, n_way, k_shot, episodes=15, seed=8)
    assert [e.classes for e in other] != [e.classes for e in eps]


def test_student_t_interval_matches_scipy():
    st = pytest.importorskip("scipy.stats")
    for df in (1, 2, 4, 9, 19, 99):
        assert student_t_ppf(0.975, df) == pytest.approx(st.t.ppf(0.975, df), abs=1e-6)
    v = np.array([0.41, 0.52, 0.38, 0.6, 0.47, 0.55, 0.33])
    m, lo, hi = mean_confidence_interval(v)
    ref = st.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=st.sem(v))
    assert m == pytest.approx(v.mean()) and (lo, hi) == pytest.approx(ref, abs=1e-6)


def test_episode_ap_matches_coco_reference_on_real_detections(coco, yolox, coco_stats):
    ep = sample_episodes(coco, 5, 1, episodes=3, seed=1)[2]
    detect = yolox(ep, coco)
    ours = episode_map(ep, coco, detect, metric="coco50")
    assert len(ours) >= 3  # a class whose pictures all went to supports has no query box
    for c, ap in ours.items():
        dets, gts, crowds = [], [], []
        for i in ep.query:
            d = detect(i)
            d = d.with_label(c) if len(d) else d
            dets.append(d.as_array() if len(d) else np.zeros((0, 5)))
            g, ig = coco.gt(i, c)
            gts.append(g)
            crowds.append(ig)
        assert ap == pytest.approx(coco_stats(dets, gts, crowds, faster=True)[1], abs=1e-6), c


def test_meta_task_map_of_yolox_on_coco_classes(coco, yolox):
    res = meta_task_map(coco, yolox, 5, 1, episodes=12, seed=0)
    assert len(res.episodes) == 12 and len(res.episode_maps) == 12
    assert res.ci95[0] < res.mean < res.ci95[1]
    m, lo, hi = mean_confidence_interval(res.episode_maps)
    assert (res.mean, *res.ci95) == pytest.approx((m, lo, hi))
    # a COCO-trained YOLOX-nano on COCO photos: well above the standard's 25 % mAP
    assert 0.3 < res.mean < 0.9
    assert json.dumps(res.as_dict())


def test_bad_inputs_are_typed_errors(coco, tmp_path):
    with pytest.raises(ParameterError):
        sample_episodes(coco, 60, 1)                 # not that many eligible classes
    with pytest.raises(ParameterError):
        sample_episodes(coco, 0, 1)
    with pytest.raises(InputError):
        AnnotatedSet.load(tmp_path)                  # no gt_boxes.json
    (tmp_path / "gt_boxes.json").write_text('{"box_format": "xyxy_pixels", "images": []}')
    with pytest.raises(InputError):
        AnnotatedSet.load(tmp_path)                  # empty set
    (tmp_path / "gt_boxes.json").write_text(json.dumps(
        {"images": [{"file": "a.jpg", "boxes": [[0, 0, 1, 1]], "labels": ["a", "b"]}]}))
    with pytest.raises(FormatError):
        AnnotatedSet.load(tmp_path)                  # labels do not match boxes
    with pytest.raises(FormatError):
        mean_confidence_interval([])
    with pytest.raises(ParameterError):
        episode_map(sample_episodes(coco, 2, 1, episodes=1)[0], coco, lambda i: None,
                    metric="best")
