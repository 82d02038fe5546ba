"""The VapourSynth host: formats, properties, windows, request order, failing closed, core.vpf,
HEVC/MJPEG input, rotated files, matrix-dependent fill colours and third-party protectors."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

vs = pytest.importorskip("vapoursynth")
av = pytest.importorskip("av")

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "plugins")]
from _media import FFMPEG, clips, decode, shared_data_dir  # noqa: E402,F401 (fixtures)
from vpf_plugin_fixture import thirdparty_protector  # noqa: E402,F401 (a fixture)

from vpfilters.av import FrameFilter, transcode  # noqa: E402
from vpfilters.core import (  # noqa: E402
    Frame,
    FrameContext,
    Option,
    Pipeline,
    Protector,
    build,
    register,
    registry,
)
from vpfilters.errors import FormatError, ParameterError, SpecError  # noqa: E402
from vpfilters.protect.mask import Blur, Fill  # noqa: E402
from vpfilters.vapoursynth import as_frame, core_format, has_plugin, protect  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VPF_SHARED_DATA", REPO.parent / "shared" / "data"))
LIMITED = SHARED / "intel_sample_videos" / "one-by-one-person-detection.mp4"  # 768x432, BT.601 tv
FULL = SHARED / "intel_sample_videos" / "asl_gestures" / "walk.mkv"           # 640x480, yuvj420p

# Odd, fractional coordinates so that outward rounding on subsampled planes is exercised.
SPEC = ("fill=box=41/31/201/151:color=white,blur=box=301/61/521.5/301:feather=4,"
        "pixelate=box=101/201/381/401:strength=10")
SPEC_BOXES = [41, 31, 201, 151, 301, 61, 521.5, 301, 101, 201, 381, 401]
FORMATS = {"YUV420P8": "yuv420p", "YUV420P10": "yuv420p10", "YUV444P8": "yuv444p",
           "GRAY8": "gray", "RGB24": "rgbp"}
PATHS = [False, pytest.param(True, marks=pytest.mark.skipif(
    not has_plugin(), reason="core.vpf (native plug-in) is not loaded"))]

needs_bs = pytest.mark.skipif(not hasattr(vs.core, "bs"), reason="vapoursynth-bestsource missing")


# ------------------------------------------------------------------------------------ fixtures


def _source(path: Path, tmp: Path, frames: int):
    if not path.is_file():
        pytest.skip(f"shared video {path} not found (set VPF_SHARED_DATA)")
    if not hasattr(vs.core, "bs"):
        pytest.skip("vapoursynth-bestsource is not installed")
    local = tmp / path.name
    shutil.copyfile(path, local)  # bestsource writes an index: keep it out of shared data
    return vs.core.bs.VideoSource(source=str(local), cachepath=str(tmp / "bscache"))[:frames]


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    return _source(LIMITED, tmp_path_factory.mktemp("bs_limited"), 12)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return _source(FULL, tmp_path_factory.mktemp("bs_full"), 8)


def convert(clip, name: str):
    core = vs.core
    if name == "GRAY8":
        return core.std.ShufflePlanes(clip, 0, vs.GRAY)
    if name == "RGB24":
        return core.resize.Bicubic(clip, format=vs.RGB24)  # matrix from the clip's _Matrix
    return core.resize.Bicubic(clip, format=getattr(vs, name))


def planes(f) -> list[np.ndarray]:
    return [np.array(f[i], copy=True) for i in range(f.format.num_planes)]


def reference(f, n: int, fmt: str, spec: str) -> Frame:
    """The Python pipeline on frame ``f``, with props mapped by hand (not through the host)."""
    props = {}
    if "_Matrix" in f.props:
        props["_Matrix"] = int(f.props["_Matrix"])
    if "_Range" in f.props:  # VapourSynth R81 _Range: 1 = full; the core's _ColorRange: 0 = full
        props["_ColorRange"] = 0 if int(f.props["_Range"]) == 1 else 1
    frame = Frame(planes(f), fmt, n, props)
    return build(spec).process(frame, FrameContext(n))


def assert_same(got: list, want: list, what: str):
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what} plane {i}"
        bad = int(np.count_nonzero(g != w))
        assert bad == 0, f"{what} plane {i}: {bad} of {g.size} samples differ"


# ------------------------------------------------------------------------------------ test protectors


class NeighbourMean(Protector):
    """Window 2: luma becomes the mean of frames n-2..n+2 (as decoded); lists them in a prop."""

    name = "test_vs_neighbour_mean"
    window = 2

    def process(self, frame, ctx):
        used = [m for m in range(frame.index - 2, frame.index + 3)
                if 0 <= m < (ctx.num_frames or 0)]
        acc = sum(ctx.frame(m).planes[0].astype(np.uint32) for m in used)
        frame.planes[0][...] = (acc // len(used)).astype(frame.planes[0].dtype)
        frame.props["VPFNeighbours"] = used
        return frame


def _parse_frames(text):
    return {int(t) for t in str(text).split("+") if t}


class FailOn(Protector):
    name = "test_vs_fail_on"
    options = (Option("frames", _parse_frames, set(), "frames that fail"),)

    def process(self, frame, ctx):
        if frame.index in self.opts["frames"]:
            raise RuntimeError("detector crashed")
        frame.props["VPFSeen"] = frame.index
        return frame


class FailingFill(Fill):
    """A mask protector (offloaded to core.vpf when loaded) whose regions fail on some frames."""

    name = "test_vs_failing_fill"

    def regions(self, frame, ctx):
        if frame.index in (3, 5):
            raise RuntimeError("detector crashed")
        return super().regions(frame, ctx)


class SeeProps(Protector):
    name = "test_vs_see_props"

    def process(self, frame, ctx):
        frame.props["VPFSawRange"] = frame.props.get("_ColorRange", -1)
        frame.props["VPFSawMatrix"] = frame.props.get("_Matrix", -1)
        frame.props["VPFSawFullRange"] = int(frame.full_range)
        return frame


class Wide(Protector):
    name = "test_vs_wide"
    window = 1000

    def process(self, frame, ctx):
        return frame


TEST_PROTECTORS = (NeighbourMean, FailOn, FailingFill, SeeProps, Wide)


@pytest.fixture(scope="module", autouse=True)
def registered():
    """The test protectors above, registered for this module only."""
    for cls in TEST_PROTECTORS:
        register(cls)
    yield
    for cls in TEST_PROTECTORS:
        registry._extra.pop(cls.name, None)
    registry.refresh()


# ------------------------------------------------------------------------------------ imports


def test_public_module_does_not_shadow_vapoursynth():
    code = ("import sys, vpfilters; assert 'vapoursynth' not in sys.modules, 'vpfilters imports vs';"
            "import vpfilters.vapoursynth as v, vapoursynth;"
            "assert hasattr(vapoursynth, 'core') and vapoursynth.__name__ == 'vapoursynth';"
            "assert v.protect.__module__ == 'vpfilters.hosts.vapoursynth'; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_running_from_inside_the_package_gives_a_clear_error():
    # A script run from inside vpfilters/ puts that folder first on sys.path, where
    # vapoursynth.py would stand in for the real module; it must say so, not half-work.
    r = subprocess.run([sys.executable, "-c", "import vapoursynth"], capture_output=True,
                       text=True, cwd=REPO / "vpfilters")
    assert r.returncode != 0 and "python -m" in r.stderr, r.stderr


def test_example_script_runs_under_vspipe(tmp_path):
    vspipe = shutil.which("vspipe", path=str(Path(sys.executable).parent)) or shutil.which("vspipe")
    if vspipe is None or not hasattr(vs.core, "bs"):
        pytest.skip("needs vspipe and vapoursynth-bestsource")
    out = tmp_path / "out.y4m"
    r = subprocess.run([vspipe, "-c", "y4m", "-e", "4", "-a", f"cache={tmp_path / 'bscache'}",
                        str(REPO / "examples" / "protect.vpy"), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"vspipe failed (run `vapoursynth config` in this venv?):\n{r.stderr}"
    data = out.read_bytes()
    line = data.split(b"\n", 1)[0]
    assert line.split()[:1] == [b"YUV4MPEG2"] and b" W768 H432 " in line
    assert len(data) == len(line) + 1 + 5 * (len(b"FRAME\n") + 768 * 432 * 3 // 2)  # 5 frames


# ------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("use_plugin", PATHS)
@pytest.mark.parametrize("name", list(FORMATS))
def test_formats_match_the_python_pipeline(limited, name, use_plugin):
    clip = convert(limited, name)[:4]
    out = protect(clip, SPEC, use_plugin=use_plugin)
    assert (out.format.name, out.width, out.height, out.num_frames) == \
        (clip.format.name, clip.width, clip.height, clip.num_frames)
    changed = 0
    for n in range(out.num_frames):
        src = clip.get_frame(n)
        want = reference(src, n, FORMATS[name], SPEC)
        got = out.get_frame(n)
        assert_same(planes(got), want.planes, f"{name} frame {n}")
        changed += sum(int(np.count_nonzero(a != b)) for a, b in zip(planes(src), want.planes))
        assert list(got.props["VPFBoxes"]) == pytest.approx(SPEC_BOXES)
        assert "VPFBoxesSoFar" not in got.props
        for key in ("_Matrix", "_Primaries", "_Transfer", "_DurationNum", "_PictType"):
            assert got.props.get(key) == src.props.get(key), key
    assert changed > 10_000  # the spec really did something


def test_core_format_names():
    assert core_format(vs.core.get_video_format(vs.RGB24)) == "rgbp"
    assert core_format(vs.core.get_video_format(vs.YUV420P10)) == "yuv420p10"
    assert core_format(vs.core.get_video_format(vs.GRAY8)) == "gray"


@pytest.mark.parametrize("fmt", ["YUV420P9", "GRAYS", "YUV410P8", "YUV444PH", "RGBS"])
def test_unsupported_formats_are_named(fmt):
    clip = vs.core.std.BlankClip(format=getattr(vs, fmt), width=64, height=48, length=2)
    with pytest.raises(FormatError, match=rf"(?i)protect: clip format {fmt} is not supported"):
        protect(clip, "fill=box=1/1/9/9")


def test_variable_format_is_refused():
    a = vs.core.std.BlankClip(format=vs.YUV420P8, width=64, height=48, length=2)
    b = vs.core.std.BlankClip(format=vs.GRAY8, width=32, height=32, length=2)
    clip = vs.core.std.Splice([a, b], mismatch=True)
    with pytest.raises(FormatError, match="protect: clip must have a constant"):
        protect(clip, "fill=box=1/1/9/9")


def test_bad_arguments_fail_at_build_time(limited):
    with pytest.raises(SpecError):
        protect(limited, "no_such_filter=x=1")
    with pytest.raises(ParameterError, match="on_error"):
        protect(limited, "fill=box=1/1/9/9", on_error="ignore")
    with pytest.raises(ParameterError, match="clip"):
        protect(np.zeros((4, 4)), "fill=box=1/1/9/9")


# ------------------------------------------------------------------------------------ properties


@pytest.mark.parametrize("use_plugin", PATHS)
def test_range_and_matrix_reach_the_protectors(limited, full, use_plugin):
    # BT.601 limited: white is Y 235; full-range (yuvj420p, matrix unset, SD -> BT.601): Y 255.
    for clip, y, rng, mtx in ((limited, 235, 1, 6), (full, 255, 0, 2)):
        out = protect(clip, "test_vs_see_props,fill=box=10/10/60/40:color=white",
                      use_plugin=use_plugin)
        f = out.get_frame(1)
        assert (f.props["VPFSawRange"], f.props["VPFSawMatrix"]) == (rng, mtx)
        assert f.props["VPFSawFullRange"] == (rng == 0)
        assert int(f.props["_Range"]) == int(clip.get_frame(1).props["_Range"])  # kept as is
        y_plane = np.asarray(f[0])
        assert (y_plane[10:40, 10:60] == y).all() and (np.asarray(f[1])[5:20, 5:30] == 128).all()


def test_as_frame_views_planes_without_copies(limited):
    f = limited.get_frame(0)
    fr = as_frame(f, 0)
    assert fr.format == "yuv420p" and fr.props["_ColorRange"] == 1 and fr.props["_Matrix"] == 6
    assert not fr.planes[0].flags.writeable  # decoded planes are read-only: hosts copy first
    w = as_frame(f.copy(), 0)
    assert w.planes[0].flags.writeable


@pytest.mark.parametrize("use_plugin", PATHS)
def test_boxes_accumulate_over_calls_and_none_means_absent(limited, use_plugin):
    once = protect(limited, "fill=box=1/2/30/40", use_plugin=use_plugin)
    twice = protect(once, "blur=box=50/60/90/100:pad=4", use_plugin=use_plugin)
    assert list(twice.get_frame(0).props["VPFBoxes"]) == [1, 2, 30, 40, 46, 56, 94, 104]
    nothing = protect(limited, "blur", use_plugin=use_plugin)
    f = nothing.get_frame(2)
    assert "VPFBoxes" not in f.props
    assert_same(planes(f), planes(limited.get_frame(2)), "no regions")


# ------------------------------------------------------------------------------------ windows and order


def test_window_sees_decoded_neighbours(limited):
    out = protect(limited, "fill=box=0/0/768/432,test_vs_neighbour_mean", use_plugin=False)
    n_frames = limited.num_frames
    for n in (0, 1, 5, n_frames - 1):
        used = [m for m in range(n - 2, n + 3) if 0 <= m < n_frames]
        acc = sum(np.asarray(limited.get_frame(m)[0]).astype(np.uint32) for m in used)
        f = out.get_frame(n)
        assert list(f.props["VPFNeighbours"]) == used
        # neighbours are the frames as decoded, not after the fill of an earlier stage
        np.testing.assert_array_equal(np.asarray(f[0]), (acc // len(used)).astype(np.uint8))


@pytest.mark.parametrize("use_plugin", PATHS)
def test_request_order_and_parallelism_do_not_matter(tmp_path, use_plugin, threads):
    spec = "test_vs_neighbour_mean," + SPEC

    def build_graph():  # a fresh graph each time: no frame cache shared between the runs
        return protect(_source(LIMITED, tmp_path, 12), spec, use_plugin=use_plugin)

    seq = build_graph()
    want = [planes(seq.get_frame(n)) for n in range(seq.num_frames)]
    par = build_graph()
    order = list(range(par.num_frames)) * 2
    random.Random(3).shuffle(order)
    futures = [(n, par.get_frame_async(n)) for n in order]
    for n, fut in futures:
        assert_same(planes(fut.result()), want[n], f"frame {n} (shuffled, parallel)")
    for n, f in enumerate(build_graph().frames(prefetch=8)):
        assert_same(planes(f), want[n], f"frame {n} (clip.frames)")


def test_window_is_bounded(limited):
    with pytest.raises(ParameterError, match="window of 1000"):
        protect(limited, "test_vs_wide")


# ------------------------------------------------------------------------------------ failing closed


@pytest.mark.parametrize("spec", ["test_vs_fail_on=frames=3+5", "test_vs_failing_fill=box=0/0/9/9"])
@pytest.mark.parametrize("use_plugin", PATHS)
def test_a_failing_protector_hides_the_whole_frame(limited, spec, use_plugin):
    out = protect(limited, spec + ",fill=box=100/100/200/200:color=white", use_plugin=use_plugin)
    for n in range(8):
        f = out.get_frame(n)
        if n in (3, 5):
            assert f.props["VPFFailClosed"] == 1
            # mid-grey everywhere, then the later fill still runs on the hidden frame
            y = np.asarray(f[0]).copy()
            assert (y[100:200, 100:200] == 235).all()
            y[100:200, 100:200] = 126
            assert np.unique(y).tolist() == [126] and np.unique(np.asarray(f[1])).tolist() == [128]
        else:
            assert "VPFFailClosed" not in f.props
            assert not (np.asarray(f[0])[:10, :10] == 126).all()


@pytest.mark.parametrize("spec", ["test_vs_fail_on=frames=3+5", "test_vs_failing_fill=box=0/0/9/9"])
@pytest.mark.parametrize("use_plugin", PATHS)
def test_on_error_stop_is_a_frame_error_naming_the_frame(limited, spec, use_plugin):
    out = protect(limited, spec, on_error="stop", use_plugin=use_plugin)
    out.get_frame(2)
    with pytest.raises(vs.Error, match=r"frame 3: test_vs_fail\w* failed: detector crashed"):
        out.get_frame(3)


# ------------------------------------------------------------------------------------ core.vpf


@pytest.mark.skipif(not has_plugin(), reason="core.vpf (native plug-in) is not loaded")
@pytest.mark.parametrize("name", list(FORMATS) + ["YUV420P16", "YUV422P10", "GRAY16"])
@pytest.mark.parametrize("spec", [
    SPEC,
    "pixelate=box=3.5/7/100/90:strength=7,fill=box=0/0/17/13:color=#3080ff:pad=2",
    "blur=box=200/100/500/400:strength=3:feather=11,blur=box=-20/-20/40/40",
])
def test_plugin_path_is_bit_identical_to_python_path(limited, name, spec):
    clip = convert(limited, name)[:3]
    native = protect(clip, spec, use_plugin=True)
    python = protect(clip, spec, use_plugin=False)
    for n in range(clip.num_frames):
        a, b = native.get_frame(n), python.get_frame(n)
        assert_same(planes(a), planes(b), f"{name} frame {n}")
        assert list(a.props["VPFBoxes"]) == list(b.props["VPFBoxes"])


@pytest.mark.skipif(not has_plugin(), reason="core.vpf (native plug-in) is not loaded")
def test_plugin_path_follows_per_frame_colour_changes(limited):
    # MaskBlur is built with frame 0's fill colour; a frame tagged full range needs another one.
    core = vs.core
    clip = core.std.Splice([limited[:3], core.std.SetFrameProps(limited[3:6], _Range=1)])
    spec = "fill=box=10/10/100/80:color=white"
    native, python = protect(clip, spec, use_plugin=True), protect(clip, spec, use_plugin=False)
    for n in range(6):
        assert_same(planes(native.get_frame(n)), planes(python.get_frame(n)), f"frame {n}")
    assert np.asarray(native.get_frame(4)[0])[20, 20] == 255
    assert np.asarray(native.get_frame(1)[0])[20, 20] == 235


def graph(node) -> list[str]:
    """Names of the filters ``node`` is built from (depth first, repeats kept)."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n.node_name)
        stack.extend(n.dependencies)
    return out


@pytest.mark.parametrize("use_plugin", PATHS)
def test_the_plugin_does_the_pixels_when_asked(use_plugin):
    clip = vs.core.std.BlankClip(format=vs.YUV420P8, width=64, height=48, length=2)
    names = graph(protect(clip, "fill=box=1/1/9/9,blur=box=3/3/30/30,test_vs_fail_on",
                          use_plugin=use_plugin))
    assert names.count("MaskBlur") == (2 if use_plugin else 0)
    # Python callbacks: one per mask stage (regions) and one for test_vs_fail_on (which also puts
    # back VPFBoxes), or one for the whole spec on the pure-Python path.
    assert names.count("ModifyFrame") == (3 if use_plugin else 1)


@pytest.mark.skipif(not has_plugin(), reason="core.vpf (native plug-in) is not loaded")
def test_fixed_boxes_run_no_python_per_frame(limited):
    spec = "fill=box=1/1/9/9:color=white,blur=box=3/3/30/30:pad=2,pixelate=box=5/5/60/40"
    names = graph(protect(limited, spec))
    assert names.count("MaskBlur") == 3 and "ModifyFrame" not in names
    # detection, other shapes or RGB keep the Python regions callback
    assert "ModifyFrame" in graph(protect(limited, "fill=box=1/1/9/9:shape=ellipse"))
    assert "ModifyFrame" in graph(protect(convert(limited, "RGB24"), "fill=box=1/1/9/9"))


@pytest.mark.skipif(not has_plugin(), reason="core.vpf (native plug-in) is not loaded")
@pytest.mark.parametrize("name", ["YUV420P8", "YUV420P10", "GRAY8"])
def test_fixed_boxes_follow_matrix_range_and_upstream_boxes(limited, name):
    """Native fixed boxes: per-frame _Matrix/_Range colours, upstream VPFBoxes/VPFTrackIds kept."""
    core = vs.core
    clip = convert(limited, name)[:6]
    clip = core.std.Splice([clip[:2], core.std.SetFrameProps(clip[2:4], _Range=1),
                            core.std.SetFrameProps(clip[4:], _Matrix=1)])
    clip = core.std.SetFrameProps(clip, VPFBoxes=[2.0, 2.0, 6.0, 6.0, 1.0, 1.0, 3.0, 3.0],
                                  VPFTrackIds=[5, 6])
    spec = "fill=box=10/10/100/80:color=#3080ff,fill=box=50/40/90/300:color=red:pad=3"
    native, python = protect(clip, spec, use_plugin=True), protect(clip, spec, use_plugin=False)
    assert "ModifyFrame" not in graph(native)
    for n in range(clip.num_frames):
        a, b = native.get_frame(n), python.get_frame(n)
        assert_same(planes(a), planes(b), f"{name} frame {n}")
        for key in ("VPFBoxes", "VPFTrackIds"):
            assert list(a.props[key]) == list(b.props[key]), (n, key)
    assert list(native.get_frame(0).props["VPFTrackIds"]) == [5, 6, -1, -1]


def test_use_plugin_true_without_the_plugin_is_an_error(limited, monkeypatch):
    import vpfilters.hosts.vapoursynth as host
    monkeypatch.setattr(host, "has_plugin", lambda core=None: False)
    with pytest.raises(ParameterError, match="core.vpf"):
        protect(limited, "fill=box=1/1/9/9", use_plugin=True)


# ------------------------------------------------------------------------------------ codecs, rotation, colour, plug-ins
# Real files made by ffmpeg, decoded by bestsource on one side and PyAV on the other.


def _tagged(matrix: str, rng: str) -> tuple:
    """Two H.264 frames tagged ``matrix`` (primaries, transfer and matrix) and range ``rng``."""
    return ("-frames:v", 2, "-an", "-vf", f"scale=out_range={'full' if rng == 'pc' else 'limited'}",
            "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
            "-color_primaries", matrix, "-color_trc", matrix, "-colorspace", matrix,
            "-color_range", rng, "-f", "mp4")


LOCAL_CLIPS = {  # made from the first frames of LIMITED; the others come from tests/_media.py
    "hevc8.mp4": ("-frames:v", 5, "-an", "-pix_fmt", "yuv420p", "-c:v", "libx265", "-preset",
                  "ultrafast", "-x265-params", "log-level=error", "-f", "mp4"),
    "bt601_tv.mp4": _tagged("smpte170m", "tv"),
    "bt601_pc.mp4": _tagged("smpte170m", "pc"),
    "bt709_tv.mp4": _tagged("bt709", "tv"),
    "bt709_pc.mp4": _tagged("bt709", "pc"),
}


@pytest.fixture(scope="module")
def media(clips, tmp_path_factory):
    """``media(name)``: a path, from LOCAL_CLIPS (made here once) or ``clips[name]``."""
    root = tmp_path_factory.mktemp("vs_media")

    def get(name: str) -> Path:
        if name not in LOCAL_CLIPS:
            return clips[name]
        out = root / name
        if not out.exists():
            subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(clips.src),
                            *map(str, LOCAL_CLIPS[name]), str(out)], check=True, timeout=120)
        return out

    return get


def _bs(path: Path, tmp: Path, **kw):
    if not hasattr(vs.core, "bs"):
        pytest.skip("vapoursynth-bestsource is not installed")
    return vs.core.bs.VideoSource(source=str(path), cachepath=str(tmp / "bscache"), **kw)


def av_planes(avf) -> list[np.ndarray]:
    """Copies of a PyAV frame's planes, rows unpadded (independent of the hosts' code)."""
    dtype = np.uint8 if max(c.bits for c in avf.format.components) <= 8 else np.uint16
    out = []
    for p in avf.planes:
        row = p.line_size // np.dtype(dtype).itemsize
        out.append(np.frombuffer(p, dtype)[:row * p.height].reshape(p.height, row)[:, :p.width]
                   .copy())
    return out


@pytest.mark.parametrize("use_plugin", PATHS)
@pytest.mark.parametrize("name, fmt, rng, mtx, white", [
    ("hevc8.mp4", "YUV420P8", 0, 6, 235),      # libx265 8 bit, BT.601 limited
    ("hevc10", "YUV420P10", 0, 6, 940),        # libx265 yuv420p10le
    ("mjpeg", "YUV420P8", 1, 5, 255),          # Motion JPEG (yuvj420p): full range, BT.470BG
])
def test_hevc_and_mjpeg_match_the_pyav_host(media, tmp_path, name, fmt, rng, mtx, white,
                                            use_plugin):
    path = media(name)
    src = _bs(path, tmp_path)
    decoded = decode(path)
    assert (src.format.name, src.num_frames, len(decoded)) == (fmt, 5, 5)
    props = src.get_frame(0).props
    assert (int(props["_Range"]), int(props["_Matrix"])) == (rng, mtx)  # _Range 1: full
    out = protect(src, SPEC, use_plugin=use_plugin)
    ff = FrameFilter(SPEC)  # the PyAV host, on PyAV's decode of the same file
    changed = 0
    for n, avf in enumerate(decoded):
        before = av_planes(avf)
        assert_same(planes(src.get_frame(n)), before, f"{name} frame {n}, as decoded")
        want = av_planes(ff(avf))
        got = out.get_frame(n)
        assert_same(planes(got), want, f"{name} frame {n}, protected")
        assert list(got.props["VPFBoxes"]) == pytest.approx(SPEC_BOXES)
        changed += sum(int(np.count_nonzero(a != b)) for a, b in zip(before, want))
        assert (planes(got)[0][31:151, 41:201] == white).all()
    assert changed > 10_000


# Red (#ff0000) with Kr = 0.299, Kb = 0.114 (BT.601) or 0.2126, 0.0722 (BT.709): Y' = Kr,
# Cb' = -Kr / (2 (1 - Kb)), Cr' = 0.5. Limited: 16 + 219 Y', 128 + 224 C'; full: 255 Y',
# 128 + 255 C' (Cr clipped to 255). The same values as tests/hosts/test_pyav.py expects.
@pytest.mark.parametrize("use_plugin", PATHS)
@pytest.mark.parametrize("name, matrix, rng, yuv", [
    ("bt601_tv.mp4", 6, 0, (81, 90, 240)),
    ("bt601_pc.mp4", 6, 1, (76, 85, 255)),
    ("bt709_tv.mp4", 1, 0, (63, 102, 240)),
    ("bt709_pc.mp4", 1, 1, (54, 99, 255)),
])
def test_fill_colour_follows_matrix_and_range(media, tmp_path, name, matrix, rng, yuv,
                                              use_plugin):
    spec = "fill=box=16/16/80/64:color=#ff0000"
    src = _bs(media(name), tmp_path)
    f = src.get_frame(0)
    assert (int(f.props["_Matrix"]), int(f.props["_Range"])) == (matrix, rng)  # the tags, read
    got = protect(src, spec, use_plugin=use_plugin).get_frame(0)
    y, u, v = planes(got)
    assert (y[16:64, 16:80] == yuv[0]).all()
    assert (u[8:32, 8:40] == yuv[1]).all() and (v[8:32, 8:40] == yuv[2]).all()
    before = planes(f)
    assert np.array_equal(y[64:], before[0][64:]) and np.array_equal(u[32:], before[1][32:])
    assert (int(got.props["_Matrix"]), int(got.props["_Range"])) == (matrix, rng)  # kept
    # the PyAV host, on the same file, fills the same colour
    assert_same([y, u, v], av_planes(FrameFilter(spec)(decode(media(name), 1)[0])), name)


def _autorotated_luma(path: Path, width: int, height: int) -> np.ndarray:
    """Frame 0's luma as ffmpeg shows it (autorotate on)."""
    raw = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-frames:v", "1", "-f",
                          "rawvideo", "-pix_fmt", "yuv420p", "-"], capture_output=True,
                         check=True, timeout=60).stdout
    return np.frombuffer(raw, np.uint8)[:width * height].reshape(height, width)


ROT_SPEC = "fill=box=0/0/40/80:color=white,pixelate=box=100/300/300/500"


@pytest.mark.parametrize("use_plugin", PATHS)
def test_rotated_h264_is_protected_in_display_coordinates(media, tmp_path, use_plugin):
    path = media("rotated")  # 768x432 H.264 with a display matrix (rotate=90): shown 432x768
    src = _bs(path, tmp_path)[:5]
    # bestsource applies the display matrix itself (apply_rotation=1, its default): the clip is
    # the picture as displayed, exactly what ffmpeg's autorotate shows, with Rotation=0.
    assert (src.width, src.height) == (432, 768) and src.get_frame(0).props["Rotation"] == 0
    shown = _autorotated_luma(path, 432, 768)
    assert np.array_equal(planes(src.get_frame(0))[0], shown)
    out = protect(src, ROT_SPEC, use_plugin=use_plugin)
    y = planes(out.get_frame(0))[0]
    assert (y[:80, :40] == 235).all()  # the box's corner is the displayed top left
    assert np.array_equal(y[:290, 50:], shown[:290, 50:]) and np.array_equal(y[510:], shown[510:])
    # the PyAV host turns the frames too and takes the boxes in display coordinates: the same
    s = transcode(path, tmp_path / "rot.mkv", ROT_SPEC, codec="ffv1", progress=False,
                  max_frames=5)
    assert s["rotation"] == 270 and s["frames"] == 5
    for n, avf in enumerate(decode(tmp_path / "rot.mkv")):
        got = out.get_frame(n)
        assert_same(planes(got), av_planes(avf), f"rotated frame {n}")
        assert list(got.props["VPFBoxes"]) == [0, 0, 40, 80, 100, 300, 300, 500]


def test_rotation_left_to_the_script_keeps_the_clips_coordinates(media, tmp_path):
    """With ``apply_rotation=0`` the clip is the coded picture and ``Rotation`` says how to turn
    it: protect takes boxes in the clip's own (coded) coordinates and passes Rotation on; turning
    the clip first (std.Transpose + std.FlipVertical for 270) gives the display-coordinate run."""
    path = media("rotated")
    coded = _bs(path, tmp_path, apply_rotation=0)[:2]
    assert (coded.width, coded.height) == (768, 432)
    assert coded.get_frame(0).props["Rotation"] == 270  # degrees clockwise, to display it
    g = protect(coded, "fill=box=0/0/40/80:color=white").get_frame(0)
    assert g.props["Rotation"] == 270
    y, before = planes(g)[0], planes(coded.get_frame(0))[0]
    assert (y[:80, :40] == 235).all() and np.array_equal(y[:, 40:], before[:, 40:])
    turned = vs.core.std.FlipVertical(vs.core.std.Transpose(coded))
    auto = _bs(path, tmp_path)[:2]
    for n in range(2):
        assert_same(planes(turned.get_frame(n)), planes(auto.get_frame(n)), f"turned {n}")
        assert_same(planes(protect(turned, ROT_SPEC).get_frame(n)),
                    planes(protect(auto, ROT_SPEC).get_frame(n)), f"protected turned {n}")


@pytest.mark.parametrize("use_plugin", PATHS)
@pytest.mark.parametrize("name", ["YUV420P8", "YUV420P10"])
def test_a_third_party_protector_by_name(thirdparty_protector, limited, name, use_plugin):
    """tests/plugins/vpf_thirdparty's ``invert``, found through its entry point, beside a
    built-in (native when core.vpf is loaded)."""
    spec = "invert=box=0/0/64/48,fill=box=100/100/200/200:color=white"
    clip = convert(limited, name)[:3]
    out = protect(clip, spec, use_plugin=use_plugin)
    top = 255 if name == "YUV420P8" else 1023
    for n in range(clip.num_frames):
        src = clip.get_frame(n)
        before, got = planes(src), out.get_frame(n)
        after = planes(got)
        assert np.array_equal(after[0][:48, :64], top - before[0][:48, :64])
        assert np.array_equal(after[1][:24, :32], top - before[1][:24, :32])
        assert (after[0][100:200, 100:200] == (235 if top == 255 else 940)).all()
        assert np.array_equal(after[0][200:], before[0][200:])
        assert_same(after, reference(src, n, FORMATS[name], spec).planes, f"{name} frame {n}")
        assert list(got.props["VPFBoxes"]) == [0, 0, 64, 48, 100, 100, 200, 200]


def test_a_third_party_protector_under_vspipe(thirdparty_protector, media, tmp_path):
    """A .vpy script run by vspipe in a fresh process finds ``invert`` by its entry point."""
    vspipe = shutil.which("vspipe", path=str(Path(sys.executable).parent)) or shutil.which("vspipe")
    if vspipe is None or not hasattr(vs.core, "bs"):
        pytest.skip("needs vspipe and vapoursynth-bestsource")
    path = media("hevc8.mp4")
    script = tmp_path / "invert.vpy"
    script.write_text(
        "import vapoursynth as vs\nfrom vpfilters.vapoursynth import protect\n"
        f"clip = vs.core.bs.VideoSource({str(path)!r}, cachepath={str(tmp_path / 'bscache')!r})\n"
        "protect(clip[:2], 'invert=box=0/0/64/48').set_output()\n")
    out = tmp_path / "out.y4m"
    r = subprocess.run([vspipe, "-c", "y4m", str(script), str(out)], capture_output=True,
                       text=True, env=thirdparty_protector.env, timeout=120)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    header, rest = data.split(b"\n", 1)
    assert b" W768 H432 " in header and rest.startswith(b"FRAME\n")
    y = np.frombuffer(rest[6:6 + 768 * 432], np.uint8).reshape(432, 768)
    ref = av_planes(decode(path, 1)[0])[0]
    assert np.array_equal(y[:48, :64], 255 - ref[:48, :64])
    assert np.array_equal(y[48:], ref[48:])


class _SoftBlur(Blur):
    """Blur whose 'detections' carry a soft mask (a ramp with a hole), as a segmenter gives."""

    name = "test_vs_soft_blur"

    def detected(self, frame, ctx):
        from vpfilters.core.region import Region

        box = (40.0, 30.0, 200.0, 150.0)
        mask = np.tile(np.linspace(0, 255, 160).astype(np.uint8), (120, 1))
        mask[40:80, 60:100] = 0
        return [Region(box, "person", mask=mask)]


@pytest.mark.parametrize("use_plugin", PATHS)
def test_soft_masks_are_honoured_with_and_without_the_plugin(limited, use_plugin):
    """A region's soft mask reaches the pixels through the VapourSynth host: MaskBlur takes
    boxes only, so such frames go through the numpy kernel; same as the Python pipeline."""
    clip = limited[:2]
    spec = Pipeline([_SoftBlur(strength=9)])
    out = protect(clip, spec, use_plugin=use_plugin)
    for n in range(clip.num_frames):
        src = clip.get_frame(n)
        f = out.get_frame(n)
        frame = Frame(planes(src), "yuv420p", n, {"_Matrix": int(src.props.get("_Matrix", 6)),
                                                 "_ColorRange": 1})
        want = Pipeline([_SoftBlur(strength=9)]).process(frame, FrameContext(n))
        assert_same(planes(f), want.planes, f"frame {n}")
        y, y0 = planes(f)[0], planes(src)[0]
        assert np.array_equal(y[70:110, 100:140], y0[70:110, 100:140])  # the mask's hole
        assert not np.array_equal(y[30:150, 150:200], y0[30:150, 150:200])  # mask ~ 255
