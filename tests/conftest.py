"""Shared fixtures: where the shared data lives, and a few real decoded frames and photos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SAMPLE_VIDEO = Path("intel_sample_videos") / "one-by-one-person-detection.mp4"
KODAK = Path("kodak24")


def shared_data_root() -> Path:
    """``$VPF_SHARED_DATA``, else ``../shared/data`` next to the repository."""
    env = os.environ.get("VPF_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set VPF_SHARED_DATA)")
    return root


@pytest.fixture(scope="session")
def real_frames(shared_data) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Three decoded frames (0, 15, 30) of the person-detection sample as YUV420P8 planes (Y, U, V).

    The planes are copies: PyAV frames share decoder buffers.
    """
    av = pytest.importorskip("av")
    path = shared_data / SAMPLE_VIDEO
    if not path.is_file():
        pytest.skip(f"sample video not found: {path}")
    wanted = {0, 15, 30}
    frames = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                f = frame.reformat(format="yuv420p")
                frames.append(tuple(_plane(f, p) for p in range(3)))
            if i >= max(wanted):
                break
    if len(frames) != len(wanted):
        pytest.skip(f"could not decode frames {sorted(wanted)} of {path}")
    return frames


def _plane(frame, index: int) -> np.ndarray:
    plane = frame.planes[index]
    w, h = plane.width, plane.height
    rows = np.frombuffer(plane, np.uint8).reshape(h, plane.line_size)  # rows are padded
    return rows[:, :w].copy()


@pytest.fixture(scope="session")
def kodak_images(shared_data) -> list[np.ndarray]:
    """Four Kodak photos as (H, W, 3) uint8 RGB, decoded with PyAV."""
    av = pytest.importorskip("av")
    folder = shared_data / KODAK
    files = sorted(folder.glob("kodim*.png"))[:4]
    if not files:
        pytest.skip(f"Kodak images not found in {folder}")
    images = []
    for f in files:
        with av.open(str(f)) as container:
            frame = next(container.decode(video=0))
            images.append(frame.to_ndarray(format="rgb24").copy())
    return images


@pytest.fixture(scope="session")
def kodak_luma(kodak_images) -> list[np.ndarray]:
    """BT.601 luma (uint8) of the Kodak photos."""
    out = []
    for rgb in kodak_images:
        y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        out.append(np.clip(np.rint(y), 0, 255).astype(np.uint8))
    return out
