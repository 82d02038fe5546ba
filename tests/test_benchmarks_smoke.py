"""Smoke tests of the benchmark scripts: the standard clips' settings and API, and kernels.py's JSON."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
SHARED = Path(os.environ.get("VPF_SHARED_DATA", REPO.parent / "shared" / "data"))
SOURCE = SHARED / "intel_sample_videos" / "one-by-one-person-detection.mp4"
RECORD_KEYS = {"kernel", "backend", "threads", "width", "height", "ms", "copy_ms"}

needs_source = pytest.mark.skipif(not SOURCE.is_file() or shutil.which("ffmpeg") is None,
                                  reason="needs the shared Intel sample video and ffmpeg")


def _load(name: str, path: Path):
    # A unique module name: tests/kernels/ must never be confused with benchmarks/kernels.py.
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up while the class is created
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def clips():
    return _load("vpf_bench_clips", BENCH / "clips.py")


@pytest.fixture(scope="module")
def kbench():
    return _load("vpf_bench_kernels", BENCH / "kernels.py")


# ------------------------------------------------------------------------------------ clips


def test_reference_encode_is_the_documented_one(clips):
    assert clips.REFERENCE_ENCODE == {"codec": "libx264", "preset": "veryfast", "crf": 23,
                                      "pix_fmt": "yuv420p"}
    assert clips.reference_encode_args() == ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                                             "-pix_fmt", "yuv420p"]
    codec, pix_fmt, opts = clips.reference_encode_av()
    assert (codec, pix_fmt, opts) == ("libx264", "yuv420p", {"preset": "veryfast", "crf": "23"})


def test_standard_clip_specs(clips):
    specs = clips.CLIPS
    assert set(specs) == {"clean_1080p", "noisy_1080p", "clean_720p", "noisy_720p"}
    for name, s in specs.items():
        assert (s.width, s.height) == ((1920, 1080) if name.endswith("1080p") else (1280, 720))
        assert s.fps == 25 and s.frames == 300 and s.scale_flags == "bicubic"
        assert s.source == "intel_sample_videos/one-by-one-person-detection.mp4"
        assert s.noise_sigma == (3.0 if name.startswith("noisy") else 0.0)


def test_clip_paths(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("VPF_CLIPS_DIR", str(tmp_path))
    assert clips.clip_path("clean_720p") == tmp_path / "clean_720p.mp4"
    assert clips.clip_path("clean_720p", frames=3) == tmp_path / "clean_720p_3f.mp4"
    assert clips.clip_path("noisy_1080p", directory=tmp_path / "x") == tmp_path / "x" / "noisy_1080p.mp4"
    monkeypatch.delenv("VPF_CLIPS_DIR")
    assert clips.clip_path("clean_1080p") == REPO / "benchmarks" / "clips" / "clean_1080p.mp4"
    with pytest.raises(ValueError, match="unknown clip"):
        clips.clip_path("clean_480p")
    with pytest.raises(ValueError, match="frames"):
        clips.clip_path("clean_720p", frames=301)


def test_noise_is_seeded_gaussian_sigma_3(clips):
    grey = np.full(1 << 20, 128, np.uint8)
    a = clips.add_noise(grey.copy(), 3.0, 7, 0).astype(np.float64) - 128
    assert abs(a.mean()) < 0.02
    assert 2.95 < a.std() < 3.05
    # Gaussian, not uniform: P(|N(0, 3)| > 6.5) = 3.0% (a uniform noise of std 3 stops at 5.2).
    assert 0.027 < np.mean(np.abs(a) > 6.5) < 0.034
    assert np.array_equal(clips.add_noise(grey.copy(), 3.0, 7, 0), a.astype(np.int16) + 128)
    assert not np.array_equal(clips.add_noise(grey.copy(), 3.0, 7, 1), a.astype(np.int16) + 128)


@needs_source
def test_tiny_clips_are_built_with_the_reference_settings(clips, tmp_path):
    av = pytest.importorskip("av")
    paths = clips.ensure_clips(["clean_720p", "noisy_720p"], frames=3, directory=tmp_path)
    decoded = {}
    for name, p in paths.items():
        assert p == tmp_path / f"{name}_3f.mp4" and p.is_file()
        with av.open(str(p)) as c:
            st = c.streams.video[0]
            assert st.codec_context.name == "h264"
            assert (st.codec_context.width, st.codec_context.height) == (1280, 720)
            assert st.average_rate == 25
            frames = [f.to_ndarray() for f in c.decode(st)]
            assert len(frames) == 3 and frames[0].shape == (1080, 1280)  # yuv420p: 720 * 3 / 2 rows
            assert c.streams.video[0].format.name == "yuv420p"
        # x264 records its settings in the stream: CRF 23 and the veryfast preset's choices.
        data = p.read_bytes()
        for opt in (b"crf=23.0", b"subme=2", b"ref=1", b"rc_lookahead=10"):
            assert opt in data, opt
        decoded[name] = np.stack(frames).astype(np.float64)
    assert clips.is_current("clean_720p", frames=3, directory=tmp_path)
    # Noise survives the encode (CRF 23 removes part of it), and only the noisy clip has it.
    diff = decoded["noisy_720p"][:, :720] - decoded["clean_720p"][:, :720]
    assert 0.8 < diff.std() < 3.5
    # A second call reuses the cache.
    mtime = paths["clean_720p"].stat().st_mtime_ns
    clips.ensure_clips("clean_720p", frames=3, directory=tmp_path)
    assert paths["clean_720p"].stat().st_mtime_ns == mtime


def test_clips_cli_lists_without_building(tmp_path):
    r = subprocess.run([sys.executable, str(BENCH / "clips.py"), "--list", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for name in ("clean_1080p", "noisy_1080p", "clean_720p", "noisy_720p"):
        assert name in r.stdout
    assert "libx264" in r.stdout and "veryfast" in r.stdout and "crf=23" in r.stdout
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------ kernels


def test_kernel_inputs(kbench):
    w, h = 1920, 1080
    boxes = kbench.blur_boxes(w, h)
    assert boxes.shape == (10, 4)
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sum()
    assert area == pytest.approx(0.10 * w * h)
    mask = np.zeros((h, w), np.int32)
    for x0, y0, x1, y1 in boxes.round().astype(int):
        mask[y0:y1, x0:x1] += 1
    assert mask.max() == 1  # disjoint, so they cover 10% of the frame
    lut = kbench.test_lut()
    assert lut.shape == (100, 16, 3) and lut.dtype == np.uint8
    assert (lut[:, 0] == 255).all()  # no motion is white
    flow = kbench.flow_field(64, 36)
    assert flow.shape == (36, 64, 2) and flow.dtype == np.float32
    assert kbench.parse_size("2160p") == (3840, 2160) and kbench.parse_size("64x36") == (64, 36)


def test_kernels_quick_json(tmp_path):
    out = tmp_path / "kernels.json"
    r = subprocess.run([sys.executable, str(BENCH / "kernels.py"), "--quick", "--sizes", "64x36",
                        "--threads", "1,2", "--repeat", "3", "--json", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    records = json.loads(out.read_text())
    assert isinstance(records, list) and records
    for rec in records:
        assert set(rec) == RECORD_KEYS
        assert (rec["width"], rec["height"]) == (64, 36)
        assert rec["threads"] in (1, 2)
        assert rec["ms"] > 0 and rec["copy_ms"] > 0
    numpy_kernels = {r["kernel"] for r in records if r["backend"] == "numpy"}
    assert numpy_kernels == {"haar", "mask_blur", "flow_to_color"}
    # The script may see another vpfilters than this process (installed vs checkout): ask its output.
    if any(r["backend"] == "native" for r in records):
        assert {(r["kernel"], r["threads"]) for r in records if r["backend"] == "native"} >= {
            ("haar", 1), ("mask_blur", 1), ("mask_blur", 2), ("flow_to_color", 2)}
    else:
        assert "native: skipped" in r.stdout
    assert "kernel" in r.stdout and "copy ms" in r.stdout
