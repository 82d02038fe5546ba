"""The ``vpf`` command line: list, info, protect (summary line, JSON, metadata, exit codes)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS / "plugins")]
from _media import FFMPEG, clips, exif_jpeg, shared_data_dir  # noqa: E402,F401 (fixtures)

from vpfilters.cli import main  # noqa: E402
from vpfilters.core import Option, Protector, register  # noqa: E402

SUMMARY = re.compile(r"^vpf: (\d+) frames?, \d+\.\d FPS -> (.+)$")


class _Flaky(Protector):
    name = "test_cli_flaky"
    options = (Option("every", int, 3),)

    def process(self, frame, ctx):
        if frame.index % self.opts["every"] == 0:
            raise RuntimeError("detector timed out")
        return frame


register(_Flaky)


def vpf(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_list_shows_every_protector_with_options_and_defaults(capsys):
    rc, out, _ = vpf(capsys, "list")
    assert rc == 0
    for name in ("blur", "fill", "pixelate"):
        assert re.search(rf"^{name}: \S", out, re.M)
    fill = out.split("fill:")[1].split("pixelate:")[0]
    assert re.search(r"color\s+default #000000: fill colour", fill)
    assert re.search(r"shape\s+default box: .*\(one of box, ellipse\)", fill)
    assert re.search(r"strength\s+default auto", fill)


def test_info_describes_the_input_and_the_install(clips, capsys):
    rc, out, _ = vpf(capsys, "info", clips["base"])
    assert rc == 0
    for text in ("h264 768x432 yuv420p", "10 fps", "20 (2.00 s)", "audio     yes",
                 "rotation  0", "limited (tv)", "BT.601", "backends=numpy", "core.vpf="):
        assert text in out, (text, out)
    listed = re.search(r"^protectors: (.*)$", out, re.M).group(1).split(", ")
    assert {"blur", "fill", "pixelate"} <= set(listed)
    assert "rotation  270 degrees clockwise" in vpf(capsys, "info", clips["rotated"])[1]
    assert "full (pc)" in vpf(capsys, "info", clips["yuvj"])[1]
    assert "folder of 3 images" in vpf(capsys, "info", clips["images"])[1]
    rc, _, err = vpf(capsys, "info", clips["audio"])
    assert rc == 1 and "no video stream" in err


def test_protect_ends_with_one_summary_line(clips, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    rc, stdout, err = vpf(capsys, "protect", clips["base"], out, "-f", "blur=box=0/0/99/99", "-q")
    assert rc == 0 and out.exists()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    m = SUMMARY.match(lines[0])
    assert m and m.group(1) == "20" and m.group(2) == str(out)


def test_protect_shows_progress_to_stderr(clips, tmp_path, capsys):
    rc, stdout, err = vpf(capsys, "protect", clips["base"], tmp_path / "o.mp4", "-f", "blur")
    assert rc == 0 and "/20 [" in err and "frame/s" in err and stdout == ""
    assert SUMMARY.match(err.strip().splitlines()[-1].split("\r")[-1].strip())


def test_json_has_frames_and_summary(clips, tmp_path, capsys):
    meta = tmp_path / "meta.json"
    rc, *_ = vpf(capsys, "protect", clips["base"], tmp_path / "o.mp4", "-f",
                 "fill=box=10/20/30/40+50/50/90/90", "--json", meta, "-q")
    assert rc == 0
    data = json.loads(meta.read_text())
    assert data["summary"]["frames"] == 20 and data["summary"]["output"] == str(tmp_path / "o.mp4")
    assert len(data["frames"]) == 20
    assert data["frames"][0]["VPFBoxes"] == [10, 20, 30, 40, 50, 50, 90, 90]


def test_keep_metadata_flag(clips, tmp_path, capsys):
    for flag, expect in (([], False), (["--keep-metadata"], True)):
        out = tmp_path / f"o{len(flag)}.mov"
        rc, *_ = vpf(capsys, "protect", clips["tagged"], out, "-f", "blur", "-q", *flag)
        assert rc == 0
        with av.open(str(out)) as c:
            assert ("location" in c.metadata) is expect
            assert (len(c.streams) > 2) is expect


def test_fail_closed_frames_are_counted_and_stop_exits_1(clips, tmp_path, capsys):
    rc, _, err = vpf(capsys, "protect", clips["base"], tmp_path / "o.mp4", "-f", "test_cli_flaky",
                     "-q")
    assert rc == 0
    assert "(7 frames fail-closed: hidden whole)" in err
    assert "vpf: warning: frame 3: test_cli_flaky failed" in err
    rc, _, err = vpf(capsys, "protect", clips["base"], tmp_path / "p.mp4", "-f", "test_cli_flaky",
                     "-q", "--on-error", "stop")
    assert rc == 1 and "frame 0" in err and not (tmp_path / "p.mp4").exists()


def test_truncated_input_warns_and_keeps_output(clips, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    rc, _, err = vpf(capsys, "protect", clips["truncated"], out, "-f", "blur", "-q")
    assert rc == 0 and out.exists()
    assert f"vpf: warning: {clips['truncated']}: the input looks truncated" in err
    assert "(input truncated; last good frame" in err.strip().splitlines()[-1]


def test_frames_limit(clips, tmp_path, capsys):
    rc, _, err = vpf(capsys, "protect", clips["base"], tmp_path / "o.mp4", "-f", "blur", "-q",
                     "--frames", "5")
    assert rc == 0 and SUMMARY.match(err.strip()).group(1) == "5"


def test_image_folder(clips, tmp_path, capsys):
    rc, _, err = vpf(capsys, "protect", clips["images"], tmp_path / "out", "-f", "pixelate", "-q")
    assert rc == 0 and SUMMARY.match(err.strip()).group(1) == "3"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "face.pgm", "kodim01.png", "kodim02.png"]


def test_ffmpeg_host_is_selectable(clips, tmp_path, capsys):
    pytest.importorskip("vpfilters.hosts.ffmpeg")
    out = tmp_path / "o.mp4"
    rc, _, err = vpf(capsys, "protect", clips["base"], out, "-f", "blur", "--host", "ffmpeg",
                     "-q")
    assert rc == 0 and out.exists(), err
    assert SUMMARY.match(err.strip().splitlines()[-1])


@pytest.fixture()
def raw_gray(clips, tmp_path) -> Path:
    """The base clip's 20 frames as a headerless raw file (gray, 768x432): nothing in the file
    says what it is."""
    raw = tmp_path / "clip.gray"
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(clips["base"]), "-f",
                    "rawvideo", "-pix_fmt", "gray", str(raw)], check=True, timeout=60)
    return raw


@pytest.mark.parametrize("host", ["pyav", "ffmpeg"])
def test_input_option_reaches_either_host(raw_gray, tmp_path, capsys, host):
    out = tmp_path / f"out_{host}.mkv"
    spec = "fill=box=40/30/200/150:color=white"
    rc, _, err = vpf(capsys, "protect", raw_gray, out, "-f", spec, "--host", host, "--quiet",
                     "--codec", "ffv1")
    assert rc == 1 and "vpf: error:" in err and not out.exists()  # nothing says what it is
    rc, _, err = vpf(capsys, "protect", raw_gray, out, "-f", spec, "--host", host, "--quiet",
                     "--codec", "ffv1", "--input-option", "f=rawvideo", "--input-option",
                     "video_size=768x432", "--input-option", "pixel_format=gray",
                     "--input-option", "framerate=10")
    assert rc == 0, err
    with av.open(str(out)) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 20 and frames[0].width == 768 and frames[0].height == 432
    assert [round(float(f.time), 3) for f in frames[:3]] == [0.0, 0.1, 0.2]
    y = frames[7].to_ndarray(format="gray")
    assert np.all(y[30:150, 40:200] == 235) and y[200:].std() > 10


def test_module_and_console_script(clips, tmp_path):
    p = subprocess.run([sys.executable, "-m", "vpfilters.cli", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "protect" in p.stdout and "info" in p.stdout
    script = Path(sys.executable).with_name("vpf")
    if not script.exists():
        script = shutil.which("vpf")
    if not script:
        pytest.skip("the vpf console script is not installed")
    p = subprocess.run([str(script), "protect", str(clips["base"]), str(tmp_path / "o.mp4"),
                        "-f", "blur", "-q"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and SUMMARY.match(p.stderr.strip()), p.stderr


# ------------------------------------------------------------------------------------ stills, EXIF


def rgb_of(path, exif_transpose=False) -> np.ndarray:
    from PIL import Image, ImageOps

    im = Image.open(path)
    return np.asarray((ImageOps.exif_transpose(im) if exif_transpose else im).convert("RGB"),
                      dtype=np.int16)


def test_info_reports_the_exif_orientation(shared_data_dir, tmp_path, capsys):
    for o, text in ((1, "rotation  0 degrees clockwise for display\n"),
                    (6, "rotation  90 degrees clockwise for display\n"),
                    (3, "rotation  180 degrees clockwise for display\n"),
                    (8, "rotation  270 degrees clockwise for display\n"),
                    (2, "rotation  0 degrees clockwise for display, then mirrored left-right")):
        src = exif_jpeg(shared_data_dir, tmp_path / f"o{o}.jpg", o, image="kodim02.png")
        rc, out, _ = vpf(capsys, "info", src)
        assert rc == 0 and "mjpeg 768x512" in out and text in out, (o, out)


@pytest.mark.parametrize("orientation", [1, 6, 3])
def test_protect_a_single_still_image(shared_data_dir, tmp_path, capsys, orientation):
    src = exif_jpeg(shared_data_dir, tmp_path / "in.jpg", orientation, image="kodim02.png")
    out = tmp_path / "out.png"
    rc, stdout, err = vpf(capsys, "protect", src, out, "--filter",
                          "fill=box=100/40/300/200:color=white")
    assert rc == 0 and out.exists() and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and SUMMARY.match(lines[0]), err  # no bar for one image
    assert SUMMARY.match(lines[0]).groups() == ("1", str(out))
    got, ref = rgb_of(out), rgb_of(src, exif_transpose=True)  # what a viewer shows
    assert got.shape == ref.shape == ((768, 512, 3) if orientation == 6 else (512, 768, 3))
    assert np.all(got[40:200, 100:300] == 255)  # the box, in display coordinates
    keep = np.ones(ref.shape[:2], bool)
    keep[36:204, 96:304] = False
    assert np.abs(got[keep] - ref[keep]).mean() < 2.0  # upright, and otherwise the same picture


def test_still_image_output_has_no_exif_or_gps(shared_data_dir, tmp_path, capsys):
    from PIL import Image

    src = exif_jpeg(shared_data_dir, tmp_path / "gps.jpg", 6, gps=True, image="kodim02.png")
    assert Image.open(src).getexif().get_ifd(0x8825)  # GPS in the input
    for name, flags in (("o.jpg", []), ("o.png", []), ("kept.jpg", ["--keep-metadata"])):
        meta = tmp_path / f"{name}.json"
        rc, _, err = vpf(capsys, "protect", src, tmp_path / name, "-f", "blur=box=0/0/64/64",
                         "-q", "--json", meta, *flags)
        assert rc == 0, err
        im = Image.open(tmp_path / name)
        assert im.size == (512, 768) and len(im.getexif()) == 0 and "exif" not in im.info
        raw = (tmp_path / name).read_bytes()
        assert b"Exif\x00\x00" not in raw and b"eXIf" not in raw and b"TestCamMake" not in raw
        summary = json.loads(meta.read_text())["summary"]
        assert {"exif", "GPSInfo/GPSLatitude", "Make"} <= set(summary["stripped_tags"])
        assert summary["rotation"] == 90
        # EXIF cannot be carried over to re-encoded pixels: --keep-metadata says so
        assert ("vpf: warning: image metadata (EXIF) is not kept" in err) is bool(flags)


# ------------------------------------------------------------------------------------ progress


def test_progress_total_falls_back_to_duration_times_rate(clips, tmp_path, capsys):
    mkv = tmp_path / "nocount.mkv"  # Matroska stores no frame count
    subprocess.run([FFMPEG, "-v", "error", "-i", str(clips["base"]), "-an", "-c", "copy",
                    "-f", "matroska", str(mkv)], check=True, timeout=60)
    with av.open(str(mkv)) as c:
        assert c.streams.video[0].frames == 0
    rc, out, _ = vpf(capsys, "info", mkv)
    assert rc == 0 and "frames    20 (2.00 s)" in out  # 2.00 s x 10 fps
    rc, _, err = vpf(capsys, "protect", mkv, tmp_path / "o.mp4", "-f", "blur=box=0/0/64/64")
    assert rc == 0 and "/20 [" in err, err  # the bar has a total, not a bare count
    assert SUMMARY.match(err.strip().splitlines()[-1].split("\r")[-1].strip()).group(1) == "20"
