"""The registry finds the built-in protectors without scanning installed distributions."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from vpfilters.core import registry

ROOT = Path(__file__).resolve().parents[2]


def test_builtins_match_the_declared_entry_points():
    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert registry.BUILTINS == eps[registry.GROUP]


def test_builtins_load_and_are_listed():
    for name in registry.BUILTINS:
        assert registry.get(name).name == name
    assert set(registry.BUILTINS) <= set(registry.names())


def test_a_builtin_spec_needs_no_metadata_scan():
    code = ("import sys; from vpfilters.core import build; build('fill=box=0/0/8/8'); "
            "print('importlib.metadata' in sys.modules)")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "False"
