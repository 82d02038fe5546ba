"""blur/pixelate/fill with detection: real faces masked, options, random access, fail closed."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from vpfilters.core import Frame, FrameContext, StreamInfo, build
from vpfilters.errors import ModelError, ParameterError, ProtectionError
from vpfilters.metrics.coverage import CoverageResult, boxes_mask, mask_coverage
from vpfilters.protect import mask as maskmod
from vpfilters.protect.mask import Blur, Fill, match_pairs, GridDetections

GIF_WALK = "intel_sample_videos/preview/face-demographics-walking.gif"
GIF_HEADS = "intel_sample_videos/preview/head-pose-face-detection-female-and-male.gif"


# ------------------------------------------------------------------------------ helpers


def decode(path, limit=None) -> list[Frame]:
    av = pytest.importorskip("av")
    from vpfilters.hosts.pyav import frame_to_core

    if not path.is_file():
        pytest.skip(f"not found: {path}")
    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if limit and i >= limit:
                break
            out.append(frame_to_core(f.reformat(format="yuv420p"), i)[0])
    return out


@pytest.fixture(scope="module")
def heads(shared_data):
    frames = decode(shared_data / GIF_HEADS, 12)
    white = frames[6].copy()  # the frame the injected detector failure fires on
    white.planes[0][...] = 235
    white.planes[1][...] = 128
    white.planes[2][...] = 128
    frames[6] = white
    return frames


@pytest.fixture(scope="module")
def photo(shared_data):
    cv2 = pytest.importorskip("cv2")
    folder = shared_data / "face_mask_detection"
    if not folder.is_dir():
        pytest.skip("face_mask_detection not found")
    items = json.load(open(folder / "gt_boxes.json"))["images"]
    it = items[0]  # 512x366, three faces of 30-50 px
    bgr = cv2.imread(str(folder / it["file"]))
    planes = [np.ascontiguousarray(bgr[:, :, c]) for c in (2, 1, 0)]
    return planes, np.asarray(it["boxes"], float).reshape(-1, 4)


def run_still(spec, planes):
    pipe = build(spec)
    frame = Frame([p.copy() for p in planes], "rgbp", 0)
    pipe.open(StreamInfo(frame.width, frame.height, "rgbp", still=True))
    out = pipe.process(frame, FrameContext(0, lambda m: frame, pipe.window, 1))
    return out, pipe


def inject_failure(monkeypatch):
    """FaceDetector raises ModelError on a (near) white picture, like a crashed model."""
    from vpfilters.detect.faces import FaceDetector

    real = FaceDetector.detect

    def detect(self, image, threshold):
        if isinstance(image, np.ndarray) and image.mean() > 220:
            raise ModelError("injected detector failure")
        return real(self, image, threshold)

    monkeypatch.setattr(FaceDetector, "detect", detect)


# ------------------------------------------------------------------------------ stills


def test_faces_of_a_real_photo_are_masked(photo):
    planes, gt = photo
    out, _ = run_still("fill", planes)
    changed = np.zeros(planes[0].shape, bool)
    for a, b in zip(planes, out.planes):
        changed |= a != b
    cov = mask_coverage(changed, gt)
    assert cov.leak_rate == 0.0, cov.covered
    assert cov.over_masking < 0.05
    n = len(out.props["VPFBoxes"]) // 4
    assert n >= len(gt) and out.props["VPFTrackIds"] == list(range(n))


def test_blur_changes_the_faces_and_little_else(photo):
    planes, gt = photo
    out, _ = run_still("blur=strength=6", planes)
    for x1, y1, x2, y2 in gt.astype(int):
        diff = np.abs(out.planes[1][y1:y2, x1:x2].astype(int) - planes[1][y1:y2, x1:x2])
        assert diff.mean() > 2
    assert np.array_equal(out.planes[1][-40:], planes[1][-40:])  # no face at the bottom


def test_fixed_boxes_and_targets_combine(photo):
    planes, gt = photo
    out, _ = run_still("fill=box=0/0/20/20:targets=face", planes)
    boxes = np.asarray(out.props["VPFBoxes"]).reshape(-1, 4)
    assert tuple(boxes[0]) == (0, 0, 20, 20) and len(boxes) >= 1 + len(gt)
    assert out.props["VPFTrackIds"][0] == -1
    only, _ = run_still("fill=box=0/0/20/20", planes)  # box alone: no detection
    assert only.props["VPFBoxes"] == [0.0, 0.0, 20.0, 20.0]
    assert "VPFTrackIds" not in only.props


def test_threshold_and_scale_options(photo):
    planes, _ = photo

    def count(spec):
        return len(run_still(spec, planes)[0].props["VPFBoxes"]) // 4

    assert count("fill=threshold=0.999") < count("fill")
    assert count("fill=mode=fast:scale=48") < count("fill=mode=fast:scale=640")


def test_option_parsing_and_defaults():
    assert Blur().targets == ("face",) and Blur().window == maskmod.DEFAULT_EVERY
    assert Blur(box="1/1/5/5").targets == () and Blur(box="1/1/5/5").window == 0
    assert Blur(targets="face+plate+person").targets == ("face", "plate", "person")
    assert Blur(targets="none").targets == ()
    assert Blur(every="1").window == 0 and Blur(every="5").window == 5
    assert Blur(mode="thorough").window == 0
    for bad in ({"targets": "cat"}, {"scale": "16"}, {"threshold": "0"}, {"threshold": "2"},
                {"every": "0"}, {"every": "40"}, {"mode": "slow"}, {"shape": "star"}):
        with pytest.raises(ParameterError):
            Blur(**bad)
    b = Blur()
    b.open(StreamInfo(64, 48, "yuv420p", 25.0, 10))
    assert b.detect_mode == "fast" and b.every == 3 and b.pad_for("face") == 0.25
    b.open(StreamInfo(64, 48, "yuv420p", still=True))
    assert b.detect_mode == "thorough" and b.every == 1
    e = Blur(shape="ellipse")
    e.open(StreamInfo(64, 48, "yuv420p", 25.0, 10))
    assert e.pad_for("face") == maskmod.ELLIPSE_PAD
    assert Blur(pad="0.5").pad_for("face") == 0.5


def test_match_pairs_is_greedy_and_gated():
    a = GridDetections(np.array([[0, 0, 10, 10], [100, 100, 120, 120]], float),
                       np.array(["face", "face"]), np.ones(2))
    b = GridDetections(np.array([[105, 100, 125, 120], [8, 0, 18, 10], [300, 0, 310, 10]], float),
                       np.array(["face", "face", "face"]), np.ones(3))
    assert sorted(match_pairs(a, b)) == [(0, 1), (1, 0)]
    b.labels = np.array(["plate", "plate", "plate"])
    assert match_pairs(a, b) == []


# ------------------------------------------------------------------------------ video


def test_detection_runs_only_on_grid_frames(heads, monkeypatch):
    seen = []
    real = Blur.analyse

    def spy(self, frame):
        seen.append(frame.index)
        return real(self, frame)

    monkeypatch.setattr(Blur, "analyse", spy)
    frames = heads[:8]
    p = Blur(every="3")
    p.open(StreamInfo(frames[0].width, frames[0].height, "yuv420p", 12.0, len(frames)))
    for n, f in enumerate(frames):
        p.regions(f, FrameContext(n, lambda m: frames[m], p.window, len(frames)))
    assert seen == [0, 3, 6]  # once each (cached), frame 9 is past the end


def test_moving_face_is_covered_between_detections():
    """A face detected at x=0 on grid frame 0 and x=90 on frame 4: frame 2 covers the path."""
    p = Blur(every="4", pad="0")
    p.open(StreamInfo(320, 240, "gray", 25.0, 8))
    dets = {0: GridDetections(np.array([[0, 50, 40, 90]], float), np.array(["face"]), np.ones(1)),
            4: GridDetections(np.array([[90, 50, 130, 90]], float), np.array(["face"]),
                              np.ones(1))}
    p.grid_detections = lambda g, ctx, frame: dets[g]
    frame = Frame([np.zeros((240, 320), np.uint8)], "gray", 2)
    regions = p.detected(frame, FrameContext(2, None, 4, 8))
    assert len(regions) == 1
    x1, y1, x2, y2 = regions[0].box
    assert x1 <= 0 and x2 >= 130 and regions[0].track_id == 0


def test_fast_mode_leak_between_detections_is_small(shared_data):
    frames = decode(shared_data / GIF_WALK)
    from vpfilters.detect import detect

    ref = [detect(f, "face", mode="thorough").boxes for f in frames]
    p = Blur()
    p.open(StreamInfo(frames[0].width, frames[0].height, "yuv420p", 12.0, len(frames)))
    total = CoverageResult(np.zeros(0), 0, 0)
    for n, f in enumerate(frames):
        ctx = FrameContext(n, lambda m: frames[m], p.window, len(frames))
        boxes = [r.box for r in p.regions(f, ctx)]
        if len(ref[n]):
            total = total + mask_coverage(boxes_mask(boxes, f.width, f.height), ref[n])
    assert total.covered.size > 50
    assert total.leak_rate <= 0.10, total.leak_rate


# ------------------------------------------------------------------------------ hosts


def vs_clip(frames):
    vs = pytest.importorskip("vapoursynth")
    w, h = frames[0].width, frames[0].height
    blank = vs.core.std.BlankClip(format=vs.YUV420P8, width=w, height=h, length=len(frames),
                                  fpsnum=12, fpsden=1)

    def fill(n, f):
        fout = f.copy()
        for i in range(3):
            np.copyto(np.asarray(fout[i]), frames[n].planes[i])
        return fout

    return vs.core.std.ModifyFrame(blank, blank, fill)


def vs_frame(clip, n):
    f = clip.get_frame(n)
    planes = tuple(np.asarray(f[i]).tobytes() for i in range(3))
    props = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in f.props.items()
             if k.startswith("VPF")}
    return planes, props


@pytest.mark.parametrize("use_plugin", [False, None])
def test_vapoursynth_random_access_gives_the_sequential_output(heads, use_plugin):
    from vpfilters.hosts.vapoursynth import has_plugin, protect

    if use_plugin is None and not has_plugin():
        pytest.skip("core.vpf not loaded")
    frames = heads[:6] + heads[7:]  # no failure here: the white frame is left out
    src = vs_clip(frames)
    seq = protect(src, "blur", use_plugin=use_plugin)
    want = [vs_frame(seq, n) for n in range(len(frames))]
    order = list(range(len(frames)))
    random.Random(4).shuffle(order)
    shuffled = protect(src, "blur", use_plugin=use_plugin)  # a fresh protector: cold cache
    got = {n: vs_frame(shuffled, n) for n in order}
    assert any(w[1].get("VPFBoxes") for w in want)
    for n in range(len(frames)):
        assert got[n] == want[n], n
    assert all("VPFTrackIds" in w[1] for w in want if w[1].get("VPFBoxes"))


@pytest.mark.parametrize("use_plugin", [False, None])
def test_vapoursynth_fails_closed_on_detector_errors(heads, monkeypatch, use_plugin):
    from vpfilters.hosts.vapoursynth import has_plugin, protect

    if use_plugin is None and not has_plugin():
        pytest.skip("core.vpf not loaded")
    inject_failure(monkeypatch)
    out = protect(vs_clip(heads), "blur=every=3", use_plugin=use_plugin)
    failed = [n for n in range(len(heads)) if out.get_frame(n).props.get("VPFFailClosed")]
    assert failed == [4, 5, 6, 7, 8]  # every frame that needs grid frame 6 (3 needs only 3)
    f = out.get_frame(4)
    assert np.ptp(np.asarray(f[0])) == 0  # wholly hidden
    stop = protect(vs_clip(heads), "blur=every=3", on_error="stop", use_plugin=use_plugin)
    stop.get_frame(0)
    with pytest.raises(Exception, match="injected detector failure|frame 4"):
        stop.get_frame(4)


@pytest.fixture(scope="module")
def heads_mp4(heads, tmp_path_factory):
    av = pytest.importorskip("av")
    from vpfilters.hosts.pyav import core_to_frame

    path = tmp_path_factory.mktemp("mask") / "heads.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=12, options={"crf": "0", "preset": "ultrafast"})
        st.width, st.height, st.pix_fmt = heads[0].width, heads[0].height, "yuv420p"
        for f in heads:
            for pkt in st.encode(core_to_frame(f.copy(), "yuv420p")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def test_pyav_transcode_fails_closed_on_detector_errors(heads_mp4, tmp_path, monkeypatch):
    from vpfilters.av import transcode

    inject_failure(monkeypatch)
    s = transcode(heads_mp4, tmp_path / "o.mp4", "blur=every=3", progress=False,
                  json_path=tmp_path / "o.json")
    assert s["frames"] == 12 and s["fail_closed"] == [4, 5, 6, 7, 8]
    with pytest.raises(ProtectionError):
        transcode(heads_mp4, tmp_path / "stop.mp4", "blur=every=3", on_error="stop",
                  progress=False)
    assert not (tmp_path / "stop.mp4").exists()


def test_pyav_transcode_masks_faces_with_track_ids(heads_mp4, tmp_path):
    from vpfilters.av import transcode

    s = transcode(heads_mp4, tmp_path / "o.mp4", "pixelate", progress=False,
                  json_path=tmp_path / "o.json")
    assert s["fail_closed"] == [] and s["frames"] == 12
    data = json.loads((tmp_path / "o.json").read_text())
    with_boxes = [r for r in data["frames"] if r.get("VPFBoxes")]
    assert len(with_boxes) >= 8
    assert all(len(r["VPFTrackIds"]) * 4 == len(r["VPFBoxes"]) for r in with_boxes)


def test_demo_anonymises_the_bundled_clip(tmp_path):
    from vpfilters import demo

    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "examples" / demo.CLIP_NAME
    if not src.is_file():
        pytest.skip("examples/ clip not found")
    s = demo.run(src, tmp_path / "demo.mp4", max_frames=12, progress=False,
                 json_path=tmp_path / "demo.json")
    assert (tmp_path / "demo.mp4").is_file() and s["frames"] == 12
    assert s["fail_closed"] == [] and s["frames_with_faces"] >= 1
