"""Bad input, bad output, bad spec, crashes and interruptions: a clear error, and no output file.

Every case runs the real ``vpf protect`` command line. "Unwritable output" must fail for root too
(these tests run as root in CI, and root ignores permission bits), so it is a path *under a
regular file* (``somefile/out.mp4``: no one can create it), plus ``/proc`` where present.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS / "plugins")]
from _media import clips, shared_data_dir  # noqa: E402,F401 (fixtures)
from vpf_plugin_fixture import thirdparty_protector  # noqa: E402,F401 (fixture)

from vpfilters import InputError, OutputError, ParameterError  # noqa: E402
from vpfilters.av import transcode  # noqa: E402
from vpfilters.cli import main  # noqa: E402

SPEC = "blur=box=0/0/64/64"


def vpf(capsys, *args) -> tuple[int, str]:
    rc = main(["protect", *map(str, args), "-q"])
    err = capsys.readouterr().err
    return rc, err


def leftovers(folder: Path) -> list[str]:
    """Anything a run left behind in ``folder`` (outputs, ``.part`` temporaries)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def outdir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


# ------------------------------------------------------------------------------------ inputs


def _bad_inputs(tmp: Path, clips) -> dict[str, tuple[Path, str]]:
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "random.mp4").write_bytes(np.random.default_rng(7).bytes(64 * 1024))
    (tmp / "notes.txt").write_text("Meeting notes\nnot a video at all\n" * 50)
    return {
        "missing": (tmp / "nope.mp4", "no such file"),
        "empty": (tmp / "empty.mp4", "empty (0 bytes)"),
        "random bytes": (tmp / "random.mp4", "not a readable video"),
        "text file": (tmp / "notes.txt", "this is a text file"),
        "audio only": (clips["audio"], "no video stream (the file has: audio)"),
        "zero frames": (clips["zero"], "no video frame could be decoded"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "random bytes", "text file", "audio only",
                                  "zero frames"])
def test_bad_input_file(case, clips, tmp_path, outdir, capsys):
    src, expect = _bad_inputs(tmp_path, clips)[case]
    rc, err = vpf(capsys, src, outdir / "out.mp4", "-f", SPEC, "--json", outdir / "m.json")
    assert rc == 1
    assert err.startswith("vpf: error: ") and err.count("\n") == 1, err
    assert str(src) in err and expect in err
    assert "Traceback" not in err
    assert leftovers(outdir) == []
    with pytest.raises(InputError) as e:  # the same through the API, as a typed error
        transcode(src, outdir / "out.mp4", SPEC, progress=False)
    assert e.value.file == str(src)
    assert leftovers(outdir) == []


# ------------------------------------------------------------------------------------ outputs


def test_output_under_a_regular_file_fails_even_for_root(clips, tmp_path, capsys):
    (tmp_path / "somefile").write_text("I am a file, not a folder")
    rc, err = vpf(capsys, clips["base"], tmp_path / "somefile" / "out.mp4", "-f", SPEC)
    assert rc == 1 and "somefile is not a directory" in err and "out.mp4" in err
    assert (tmp_path / "somefile").read_text() == "I am a file, not a folder"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_output_in_proc_fails_even_for_root(clips, capsys):
    rc, err = vpf(capsys, clips["base"], "/proc/vpf-test-out.mp4", "-f", SPEC)
    assert rc == 1 and err.startswith("vpf: error: /proc/vpf-test-out.mp4")
    assert not os.path.exists("/proc/vpf-test-out.mp4")


def test_output_folder_missing(clips, tmp_path, capsys):
    rc, err = vpf(capsys, clips["base"], tmp_path / "no" / "such" / "out.mp4", "-f", SPEC)
    assert rc == 1 and "does not exist" in err
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink"])
def test_output_equal_to_input(clips, tmp_path, capsys, monkeypatch, spelling):
    src = tmp_path / "in.mp4"
    shutil.copy(clips["base"], src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    monkeypatch.chdir(tmp_path)
    dst = {"same": src, "dotted": Path("./sub/../in.mp4"), "symlink": tmp_path / "link.mp4"}[
        spelling]
    (tmp_path / "sub").mkdir()
    if spelling == "symlink":
        dst.symlink_to(src)
    rc, err = vpf(capsys, src, dst, "-f", SPEC)
    assert rc == 1 and "the output path is the input file" in err
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
    assert not list(tmp_path.glob(".*part*"))


def test_image_output_for_a_video_is_refused(clips, outdir, capsys):
    rc, err = vpf(capsys, clips["base"], outdir / "out.png", "-f", SPEC)
    assert rc == 2 and "give a video file name" in err
    assert leftovers(outdir) == []


# ------------------------------------------------------------------------------------ spec


@pytest.mark.parametrize("spec, expect", [
    ("", "the filter spec is empty"),
    ("nosuch=box=1/1/9/9", "unknown protector 'nosuch'"),
    ("blur=box=1/2", "bad value '1/2' for option 'box'"),
    ("blur=box=9/9/1/1", "x2 > x1"),
    ("blur=nosuchopt=1", "unknown option 'nosuchopt'"),
    ("blur=strength=-1", "option 'strength'"),
    ("blur=shape=star", "must be one of box, ellipse"),
    ("blur,,fill", "stray ','"),
    ("blur=text='unterminated", "unterminated quote"),
])
def test_bad_spec(spec, expect, clips, outdir, capsys):
    rc, err = vpf(capsys, clips["base"], outdir / "out.mp4", "-f", spec)
    assert rc == 2 and err.startswith("vpf: error: ") and expect in err, err
    assert "Traceback" not in err
    assert leftovers(outdir) == []
    with pytest.raises(ParameterError):  # SpecError is one
        transcode(clips["base"], outdir / "out.mp4", spec, progress=False)


@pytest.mark.parametrize("args, expect", [
    (["--crf", "99"], "parameter 'crf'"),
    (["--codec", "nope264"], "unknown video encoder 'nope264'"),
    (["--codec", "aac"], "not a video encoder"),
    (["--preset", "turbo"], "parameter 'preset'"),
    (["--frames", "0"], "--frames must be >= 1"),
    (["--input-option", "rtsp_flags"], "parameter '--input-option'"),
    (["--input-option", "=listen"], "parameter '--input-option'"),
    (["--open-timeout", "0"], "parameter '--open-timeout'"),
    (["--read-timeout", "-1"], "parameter '--read-timeout'"),
    (["--read-timeout", "nan"], "parameter '--read-timeout'"),
])
def test_bad_options(args, expect, clips, outdir, capsys):
    rc, err = vpf(capsys, clips["base"], outdir / "out.mp4", "-f", SPEC, *args)
    assert rc == 2 and expect in err, err
    assert leftovers(outdir) == []


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["protect", "in.mp4", "out.mp4"])  # no --filter
    assert e.value.code == 2
    assert "vpf protect: error: the following arguments are required: --filter" in \
        capsys.readouterr().err


# ------------------------------------------------------------------------------------ crashes


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "vpfilters.cli", *map(str, args)]


def test_crash_mid_stream_leaves_nothing(clips, outdir, thirdparty_protector):
    """A protector that raises on frame 5, with --on-error stop: exit 1, the frame named."""
    p = subprocess.run(_cli("protect", clips["base"], outdir / "out.mp4", "-f",
                            "blur=box=0/0/32/32,explode=at=5", "--on-error", "stop", "-q",
                            "--json", outdir / "m.json"),
                       env=thirdparty_protector.env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    assert "vpf: error:" in p.stderr and "frame 5" in p.stderr and "boom" in p.stderr
    assert "Traceback" not in p.stderr
    assert leftovers(outdir) == []


def _interrupt(clips, outdir, sig) -> subprocess.CompletedProcess:
    out = outdir / "out.mp4"
    proc = subprocess.Popen(_cli("protect", clips["long"], out, "-f", "blur=box=0/0/300/300",
                                 "-q"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not list(outdir.glob(".out.*.part.mp4")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the run: frames are being written
    assert proc.poll() is None, "the run ended before it could be interrupted"
    assert list(outdir.glob(".out.*.part.mp4"))
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_ctrl_c_leaves_nothing(clips, outdir):
    p = _interrupt(clips, outdir, signal.SIGINT)
    assert p.returncode == 130
    assert "interrupted; nothing was written" in p.stderr and "Traceback" not in p.stderr
    assert leftovers(outdir) == []


def test_sigterm_leaves_nothing(clips, outdir):
    p = _interrupt(clips, outdir, signal.SIGTERM)
    assert p.returncode == 143
    assert leftovers(outdir) == []


def test_output_error_is_typed(clips, tmp_path):
    (tmp_path / "somefile").write_text("x")
    with pytest.raises(OutputError) as e:
        transcode(clips["base"], tmp_path / "somefile" / "o.mp4", SPEC, progress=False)
    assert isinstance(e.value, OSError) and e.value.parameter == "output"
