import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data():
    root = os.environ.get("VPF_SHARED_DATA") or str(
        Path(__file__).resolve().parents[2].parent / "shared" / "data")
    if not os.path.isdir(root):
        pytest.skip(f"shared data not found at {root}")
    return root
