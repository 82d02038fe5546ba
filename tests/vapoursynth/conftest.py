"""Fixtures for the VapourSynth plug-in tests: a core with `vpf` loaded, and the sample video
(found through the ``shared_data`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import shutil

import pytest

try:
    import vapoursynth as vs
except ImportError as exc:  # not installed, or a broken install (missing libvapoursynth)
    vs, VS_IMPORT_ERROR = None, exc


@pytest.fixture(scope="session")
def core():
    if vs is None:
        pytest.skip(f"vapoursynth is not importable: {VS_IMPORT_ERROR}")
    c = vs.core
    if not hasattr(c, "vpf"):
        pytest.skip("core.vpf is not loaded: the native plug-in is not installed in "
                    "site-packages/vapoursynth/plugins/vpfilters")
    return c


@pytest.fixture
def threads(core):
    """Runs the test with 4 VapourSynth worker threads, restoring the previous count."""
    old = core.num_threads
    core.num_threads = 4
    yield 4
    core.num_threads = old


@pytest.fixture(scope="session")
def video(core, shared_data, tmp_path_factory):
    """The first 40 frames of the shared person-detection sample (YUV420P8, 768x432)."""
    src = shared_data / "intel_sample_videos" / "one-by-one-person-detection.mp4"
    if not src.is_file():
        pytest.skip(f"shared sample video not found: {src} (set VPF_SHARED_DATA)")
    if not hasattr(core, "bs"):
        pytest.skip("core.bs (vapoursynth-bestsource) is not available")
    work = tmp_path_factory.mktemp("bs")
    local = work / src.name
    shutil.copyfile(src, local)  # bestsource writes its index files; keep them out of shared data
    clip = core.bs.VideoSource(source=str(local), cachepath=str(work / "cache"))
    return clip[:40]
