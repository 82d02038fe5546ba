"""A third-party protector package, found through its entry point and used by name everywhere."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
from _media import clips, shared_data_dir  # noqa: E402,F401 (fixtures)
from vpf_plugin_fixture import PACKAGE, thirdparty_protector, with_pythonpath  # noqa: E402,F401

from vpfilters.av import FrameFilter, transcode  # noqa: E402
from vpfilters.core import build, describe, names  # noqa: E402


def luma(path, n=0) -> np.ndarray:
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == n:
                p = f.planes[0]
                return np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width]


def test_registry_finds_it(thirdparty_protector):
    assert {"invert", "explode"} <= set(names())
    item = next(d for d in describe() if d["name"] == "invert")
    assert item["options"][0]["name"] == "box" and "third-party" in item["summary"]
    assert type(build("invert=box=0/0/8/8").protectors[0]).__module__ == "vpf_thirdparty"


def test_used_by_name_through_the_pyav_host(thirdparty_protector, clips, tmp_path):
    out = tmp_path / "out.mkv"
    s = transcode(clips["base"], out, "invert=box=0/0/64/48", codec="ffv1", progress=False)
    assert s["frames"] == 20
    got, ref = luma(out, 4), luma(clips["base"], 4)
    assert np.array_equal(got[:48, :64], 255 - ref[:48, :64])
    assert np.array_equal(got[48:], ref[48:])


def test_used_by_name_through_the_ffmpeg_host(thirdparty_protector, clips, tmp_path):
    host = pytest.importorskip("vpfilters.ffmpeg", reason="ffmpeg-python is not installed")
    out = tmp_path / "out.mkv"
    s = host.run(clips["base"], out, "invert=box=0/0/64/48,fill=box=200/100/264/164:color=white",
                 codec="ffv1", progress=False)
    assert s["frames"] == 20 and not s["failed_frames"]
    got, ref = luma(out, 4), luma(clips["base"], 4)
    assert np.array_equal(got[:48, :64], 255 - ref[:48, :64])  # the third-party protector
    assert np.all(got[100:164, 200:264] == 235)                 # and a built-in one after it
    keep = np.ones_like(ref, bool)
    keep[:48, :64] = keep[100:164, 200:264] = False
    assert np.array_equal(got[keep], ref[keep])
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 20


def test_used_by_name_in_a_frame_filter(thirdparty_protector, clips):
    with av.open(str(clips["base"])) as c:
        f = next(c.decode(video=0))
    before = np.array(f.planes[0])[:16]
    out = FrameFilter("invert=box=0/0/16/8")(f)
    row = np.frombuffer(out.planes[0], np.uint8)[:16]
    assert np.array_equal(row, 255 - before[:16])


def test_used_by_name_through_the_cli(thirdparty_protector, clips, tmp_path):
    env = thirdparty_protector.env
    cli = [sys.executable, "-m", "vpfilters.cli"]
    p = subprocess.run(cli + ["list"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "invert: invert the picture" in p.stdout
    out = tmp_path / "o.mp4"
    p = subprocess.run(cli + ["protect", str(clips["base"]), str(out), "-f",
                              "invert=box=0/0/64/48,blur=box=100/100/200/200", "-q"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and out.exists(), p.stderr
    assert luma(out)[:40, :56].mean() > 255 - luma(clips["base"])[:40, :56].mean() - 8


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None,
                    reason="the package's build backend (setuptools) is not installed")
def test_real_pip_install_declares_the_entry_point(tmp_path):
    """Build and install the package with pip (offline, into a folder, not into the venv)."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src)  # setuptools writes egg-info beside the sources
    target = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--no-index", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    code = ("from vpfilters.core import names, build; print(names()); "
            "print(type(build('invert').protectors[0]).__name__)")
    p = subprocess.run([sys.executable, "-c", code], env=with_pythonpath(target),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "'invert'" in p.stdout and "Invert" in p.stdout
