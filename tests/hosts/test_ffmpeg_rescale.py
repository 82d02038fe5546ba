"""The ffmpeg-python host with rescale: the smaller video (size=small) and the restore data stored
with the output (inside an .mkv, else OUTPUT.vpfr), through real ffmpeg processes, both pipes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("ffmpeg")  # ffmpeg-python
if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
    pytest.skip("needs the ffmpeg and ffprobe command-line tools", allow_module_level=True)

from vpfilters.core import Protector, register  # noqa: E402
from vpfilters.errors import FormatError, OutputError  # noqa: E402
from vpfilters.ffmpeg import run  # noqa: E402
from vpfilters.hosts.pyav import frame_to_core  # noqa: E402
from vpfilters.protect import _restore_data as rd  # noqa: E402
from vpfilters.protect.rescale import restore_video  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VPF_SHARED_DATA") or REPO.parent / "shared" / "data")
VIDEO = SHARED / "intel_sample_videos" / "one-by-one-person-detection.mp4"  # 768x432, 10 fps
N = 3


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3 frames of the sample with a 440 Hz AAC sine (audio travels through both pipes)."""
    if not VIDEO.is_file():
        pytest.skip(f"sample video not found: {VIDEO}")
    out = tmp_path_factory.mktemp("ffrescale") / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(VIDEO), "-f", "lavfi",
                    "-i", "sine=frequency=440:duration=1", "-t", str(N / 10), "-map", "0:v",
                    "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
                    "-c:a", "aac", str(out)], check=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def originals(clip) -> list[list[np.ndarray]]:
    with av.open(str(clip)) as c:
        return [[p.copy() for p in frame_to_core(fr, i)[0].planes]
                for i, fr in zip(range(N), c.decode(video=0))]


@pytest.fixture()
def key(tmp_path) -> Path:
    return rd.generate_key(tmp_path / "k.key")


@pytest.fixture(params=["raw", "nut"])
def pipes(request, monkeypatch) -> str:
    if request.param == "nut":
        monkeypatch.setenv("VPF_FFMPEG_PIPE", "nut")
    return request.param


def streams(path) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-count_frames",
                          "-count_packets", str(path)], check=True, capture_output=True,
                         timeout=60).stdout
    return json.loads(out)["streams"]


def restored_exactly(video, originals, key, data=None, tmp=None) -> list[bool]:
    seen = []
    restore_video(video, Path(tmp) / "r.mkv", key, data, progress=False,
                  on_frame=lambda i, fr: seen.append(
                      all(np.array_equal(a, b) for a, b in zip(fr.planes, originals[i]))))
    return seen


def leftovers(folder: Path, *expected: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in expected)


def test_small_mkv_holds_its_restore_data_and_restores_bit_exactly(clip, originals, key,
                                                                   tmp_path, pipes):
    dst = tmp_path / "out.mkv"
    shown = []
    s = run(clip, dst, f"rescale=factor=2:size=small:restore=exact:key={key}", codec="ffv1",
            progress=False, on_frame=lambda i, t, f: shown.append((i, f.width, f.height)))
    assert s["pipes"] == pipes and not s["spliced"] and s["frames"] == N
    assert shown == [(i, 384, 216) for i in range(N)]
    v, a = [st for st in streams(dst) if st["codec_type"] in ("video", "audio")]
    assert (v["width"], v["height"], v["pix_fmt"]) == (384, 216, "yuv420p")
    assert int(v["nb_read_frames"]) == N and a["codec_name"] == "aac"
    a_in = next(st for st in streams(clip) if st["codec_type"] == "audio")
    # no audio packet lost while the encoder waited for the first frame
    assert int(a["nb_read_packets"]) == int(a_in["nb_read_packets"]) > 5
    assert rd.read_embedded(dst) is not None
    assert leftovers(tmp_path, "out.mkv", "k.key") == []  # no sidecar, no temporary file
    back = tmp_path / "back"
    back.mkdir()
    assert restored_exactly(dst, originals, key, tmp=back) == [True] * N


def test_small_mp4_gets_a_sidecar_and_restores_bit_exactly(clip, originals, key, tmp_path):
    dst = tmp_path / "out.mp4"
    run(clip, dst, f"rescale=factor=4:size=small:restore=exact:key={key}", codec="libx264",
        crf=0, preset="ultrafast", progress=False)  # x264 at QP 0 is lossless
    v = next(st for st in streams(dst) if st["codec_type"] == "video")
    assert (v["width"], v["height"]) == (192, 108)
    assert (tmp_path / "out.mp4.vpfr").is_file()
    assert leftovers(tmp_path, "out.mp4", "out.mp4.vpfr", "k.key") == []
    back = tmp_path / "back"
    back.mkdir()
    assert restored_exactly(dst, originals, key, tmp=back) == [True] * N


def test_same_size_mkv_embeds_too(clip, originals, key, tmp_path):
    dst = tmp_path / "out.mkv"
    s = run(clip, dst, f"rescale=factor=2:restore=exact:key={key}", codec="ffv1",
            progress=False)
    assert s["pipes"] == "raw"
    v = next(st for st in streams(dst) if st["codec_type"] == "video")
    assert (v["width"], v["height"]) == (768, 432)
    assert rd.read_embedded(dst) is not None
    assert leftovers(tmp_path, "out.mkv", "k.key") == []
    back = tmp_path / "back"
    back.mkdir()
    assert restored_exactly(dst, originals, key, tmp=back) == [True] * N


def test_data_option_still_writes_a_sidecar(clip, originals, key, tmp_path):
    dst, data = tmp_path / "out.mkv", tmp_path / "mine.vpfr"
    run(clip, dst, f"rescale=factor=2:size=small:restore=exact:key={key}:data={data}",
        codec="ffv1", progress=False)
    assert rd.read_embedded(dst) is None
    assert data.is_file()
    assert leftovers(tmp_path, "out.mkv", "mine.vpfr", "k.key") == []
    back = tmp_path / "back"
    back.mkdir()
    assert restored_exactly(dst, originals, key, data, tmp=back) == [True] * N


@pytest.mark.parametrize("name", ["out.mkv", "out.mp4"])
def test_a_failure_in_finalize_leaves_nothing(clip, key, tmp_path, monkeypatch, name):
    def broken(*a, **k):
        raise OutputError("disk full", file=tmp_path / name)

    # the MKV embedding, and the move to the sidecar (its last step)
    monkeypatch.setattr(rd, "embed_in_mkv", broken)
    real_replace = os.replace

    def replace(a, b, *args, **kw):
        if str(b).endswith(".vpfr"):
            broken()
        return real_replace(a, b, *args, **kw)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="disk full"):
        run(clip, tmp_path / name, f"rescale=factor=2:size=small:restore=exact:key={key}",
            codec="ffv1" if name.endswith("mkv") else "libx264", progress=False)
    assert leftovers(tmp_path, "k.key") == []


class ShrinkBoom(Protector):
    """Halves the picture (decimation, declared up front) and fails on frame 1."""

    name = "test_ff_shrink_boom"
    changes_size = True
    fails = 1

    def process(self, frame, ctx):
        if frame.index == self.fails:
            raise RuntimeError("detector crashed")
        frame.planes = [np.ascontiguousarray(p[::2, ::2]) for p in frame.planes]
        return frame


class ShrinkBoomFirst(ShrinkBoom):
    """The same, failing on frame 0: the output's size cannot be learnt from it."""

    name = "test_ff_shrink_boom_first"
    fails = 0


def test_a_first_frame_hidden_whole_at_the_input_size_stops_the_run(clip, tmp_path, pipes):
    register(ShrinkBoomFirst)
    with pytest.raises(FormatError, match="first frame was hidden whole"):
        run(clip, tmp_path / "out.mkv", "test_ff_shrink_boom_first", codec="ffv1",
            progress=False)
    assert leftovers(tmp_path) == []


class ShrinkBoomFirstDeclared(ShrinkBoomFirst):
    """Fails on frame 0 too, but says its output size up front (``output_size``)."""

    name = "test_ff_shrink_boom_first_declared"

    def output_size(self, width, height, fmt):
        return -(-width // 2), -(-height // 2)


@pytest.mark.parametrize("name, failed", [
    ("test_ff_shrink_boom", 1),                  # the size learnt from frame 0
    ("test_ff_shrink_boom_first_declared", 0),   # frame 0 hidden: the declared size
])
def test_a_frame_hidden_whole_keeps_the_output_size(clip, tmp_path, pipes, name, failed):
    """A frame hidden whole is grey at the output's size and the run goes on, also when it is
    the first frame and the size is declared (``output_size``, as rescale does)."""
    register(ShrinkBoom)
    register(ShrinkBoomFirstDeclared)
    dst = tmp_path / "out.mkv"
    s = run(clip, dst, name, codec="ffv1", progress=False)
    assert s["failed_frames"] == [failed] and s["frames"] == N
    with av.open(str(dst)) as c:
        frames = [frame_to_core(fr, i)[0] for i, fr in enumerate(c.decode(video=0))]
    assert [(f.width, f.height) for f in frames] == [(384, 216)] * N
    for i, f in enumerate(frames):  # grey where hidden, a picture elsewhere
        assert (f.planes[0].std() == 0) == (i == failed), i
