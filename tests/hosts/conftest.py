"""Fixtures shared by the host tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def threads():
    """VapourSynth's core with 4 threads for the test (parallel, out-of-order requests)."""
    vs = pytest.importorskip("vapoursynth")
    core = vs.core
    old = core.num_threads
    core.num_threads = 4
    yield 4
    core.num_threads = old
