"""The VapourSynth host with a protector that changes the frame size (``rescale`` with
``size=small``): the returned clip has the LL picture's size, the same pixels as the PyAV host and
the protector itself, any request order, fail closed, bit-exact restore from the small frames."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

vs = pytest.importorskip("vapoursynth")
av = pytest.importorskip("av")

from vpfilters.av import FrameFilter
from vpfilters.core import FrameContext, Pipeline, Protector, StreamInfo
from vpfilters.errors import FormatError
from vpfilters.hosts.pyav import frame_to_core
from vpfilters.protect import _restore_data as rd
from vpfilters.protect.rescale import Rescale, restore_frame
from vpfilters.vapoursynth import as_frame, protect

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VPF_SHARED_DATA", REPO.parent / "shared" / "data"))
VIDEO = SHARED / "intel_sample_videos" / "one-by-one-person-detection.mp4"  # 768x432 yuv420p
FRAMES = 5
# 762x426 divides by none of the 4:2:0 grids (4, 8, 16): the padding rule sets the LL size
CROP = {"right": 6, "bottom": 6}
SIZES = {(2, False): (384, 216), (4, False): (192, 108), (8, False): (96, 54),
         (2, True): (382, 214), (4, True): (192, 108), (8, True): (96, 54)}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    if not VIDEO.is_file():
        pytest.skip(f"shared video {VIDEO} not found (set VPF_SHARED_DATA)")
    if not hasattr(vs.core, "bs"):
        pytest.skip("vapoursynth-bestsource is not installed")
    tmp = tmp_path_factory.mktemp("bs_rescale")
    local = tmp / VIDEO.name
    shutil.copyfile(VIDEO, local)  # bestsource writes an index: keep it out of shared data
    return vs.core.bs.VideoSource(source=str(local), cachepath=str(tmp / "bscache"))[:FRAMES]


@pytest.fixture
def key(tmp_path):
    return rd.generate_key(tmp_path / "k.key")


def _planes(f) -> list[np.ndarray]:
    return [np.array(f[i], copy=True) for i in range(f.format.num_planes)]


def _assert_same(got, want, what):
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what} plane {i}"
        bad = int(np.count_nonzero(g != w))
        assert bad == 0, f"{what} plane {i}: {bad} of {g.size} samples differ"


def _cropped(clip, crop: bool):
    return vs.core.std.Crop(clip, **CROP) if crop else clip


@pytest.mark.parametrize("crop", [False, True], ids=["768x432", "762x426"])
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_output_clip_has_the_ll_size(clip, factor, crop):
    src = _cropped(clip, crop)
    out = protect(src, f"rescale=factor={factor}:size=small")
    w, h = SIZES[factor, crop]
    assert (out.width, out.height) == (w, h)
    assert out.format.id == src.format.id
    assert out.num_frames == src.num_frames and out.fps == src.fps
    f = out.get_frame(1)
    assert [p.shape for p in _planes(f)] == [(h, w), (h // 2, w // 2), (h // 2, w // 2)]
    # the source's colour and timing properties are kept, the protector's added
    s = src.get_frame(1)
    for k in ("_Matrix", "_Range", "_DurationNum", "_DurationDen", "_Primaries"):
        assert f.props[k] == s.props[k], k
    assert f.props["VPFRescale"] == factor
    assert "VPFFailClosed" not in f.props


@pytest.mark.parametrize("factor,crop", [(2, False), (8, True)])
def test_pixels_equal_the_protector_itself(clip, factor, crop):
    src = _cropped(clip, crop)
    out = protect(src, f"rescale=factor={factor}:size=small")
    p = Rescale(factor=factor, size="small")
    p.open(StreamInfo(src.width, src.height, "yuv420p"))
    for n in range(3):
        want = p.process(as_frame(src.get_frame(n).copy(), n), FrameContext(n))
        _assert_same(_planes(out.get_frame(n)), want.planes, f"x{factor} frame {n}")
    p.close()


@pytest.mark.parametrize("name,core", [("YUV420P10", "yuv420p10"), ("YUV444P8", "yuv444p"),
                                       ("GRAY8", "gray"), ("RGB24", "rgbp")])
def test_other_formats_match_the_protector(clip, name, core):
    """x8 on the 762x426 crop (no subsampling: padded to multiples of 8, still 768x432)."""
    src = _cropped(clip, True)
    if name == "GRAY8":
        src = vs.core.std.ShufflePlanes(src, 0, vs.GRAY)
    else:
        src = vs.core.resize.Bicubic(src, format=getattr(vs, name))
    out = protect(src, "rescale=factor=8:size=small")
    assert (out.width, out.height, out.format.id) == (96, 54, getattr(vs, name))
    p = Rescale(factor=8, size="small")
    p.open(StreamInfo(src.width, src.height, core))
    want = p.process(as_frame(src.get_frame(2).copy(), 2), FrameContext(2))
    _assert_same(_planes(out.get_frame(2)), want.planes, f"{name} frame 2")
    p.close()


def test_pixels_equal_the_pyav_host(clip):
    """Same frames as PyAV's FrameFilter with size=small (PyAV decodes the file itself)."""
    out = protect(clip, "rescale=factor=4:size=small")
    ff = FrameFilter("rescale=factor=4:size=small")
    with av.open(str(VIDEO)) as inp:
        for n, avf in enumerate(inp.decode(video=0)):
            if n >= 3:
                break
            got = ff(avf, n)
            assert (got.width, got.height) == (192, 108)
            core, _, _ = frame_to_core(got, n)
            _assert_same(_planes(out.get_frame(n)), core.planes, f"frame {n}")
    ff.close()


def test_out_of_order_and_parallel_requests_give_the_same_frames(clip, threads):
    spec = "rescale=factor=2:size=small"
    ordered = [_planes(f) for f in protect(clip, spec).frames()]
    shuffled = protect(clip, spec)
    for n in (4, 1, 3, 0, 2, 1):
        _assert_same(_planes(shuffled.get_frame(n)), ordered[n], f"frame {n} out of order")
    parallel = protect(clip, spec)
    futures = [(n, parallel.get_frame_async(n)) for n in (3, 0, 4, 2, 1)]
    for n, fut in futures:
        _assert_same(_planes(fut.result()), ordered[n], f"frame {n} in parallel")


@pytest.mark.parametrize("factor,crop", [(2, False), (8, True)])
def test_exact_restore_from_small_frames_out_of_order(clip, key, tmp_path, factor, crop, threads):
    """The sidecar is written as frames are requested (out of order, in parallel) and complete
    once the clip is released; restore from the small frames is bit-exact."""
    src = _cropped(clip, crop)
    data = tmp_path / "vs.vpfr"
    out = protect(src, f"rescale=factor={factor}:size=small:restore=exact:key={key}:data={data}")
    order = (3, 0, 4, 1, 2)
    futures = [(n, out.get_frame_async(n)) for n in order]
    small = {n: as_frame(fut.result().copy(), n) for n, fut in futures}
    del out, futures
    gc.collect()
    reader = rd.RestoreReader(data, rd.read_key(key))
    header = reader.header
    assert (header["width"], header["height"], header["size"]) == (src.width, src.height, "small")
    dec = rd.compressor(header["compression"])[1]
    for n in range(FRAMES):
        assert (small[n].width, small[n].height) == SIZES[factor, crop]
        back = restore_frame(small[n], reader.get(n), header, dec)
        _assert_same(back.planes, _planes(src.get_frame(n)), f"restored frame {n}")
    reader.close()


def test_vspipe_ffv1_then_restore_video_is_bit_exact(clip, key, tmp_path):
    """The real chain: a .vpy script under vspipe (y4m at the small size) into ffmpeg's FFV1,
    the sidecar complete when vspipe exits; restore_video gives back every source frame."""
    from vpfilters.protect.rescale import restore_video

    vspipe = shutil.which("vspipe", path=str(Path(sys.executable).parent)) or shutil.which("vspipe")
    ffmpeg = shutil.which("ffmpeg")
    if vspipe is None or ffmpeg is None:
        pytest.skip("needs vspipe and ffmpeg")
    data, mkv = tmp_path / "d.vpfr", tmp_path / "p.mkv"
    script = tmp_path / "s.vpy"
    script.write_text(
        "import vapoursynth as vs\n"
        "from vpfilters.vapoursynth import protect\n"
        f"c = vs.core.bs.VideoSource({str(tmp_path / VIDEO.name)!r}, "
        f"cachepath={str(tmp_path / 'bscache')!r})[:{FRAMES}]\n"
        f"c = vs.core.std.Crop(c, right={CROP['right']}, bottom={CROP['bottom']})\n"
        f"protect(c, 'rescale=factor=4:size=small:restore=exact:key={key}:data={data}')"
        ".set_output()\n")
    shutil.copyfile(VIDEO, tmp_path / VIDEO.name)
    pipe = subprocess.Popen([vspipe, "-c", "y4m", str(script), "-"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    enc = subprocess.run([ffmpeg, "-v", "error", "-y", "-i", "-", "-c:v", "ffv1", str(mkv)],
                         stdin=pipe.stdout, capture_output=True, text=True, check=False)
    pipe.stdout.close()
    err = pipe.stderr.read().decode()
    assert pipe.wait() == 0, err
    assert enc.returncode == 0, enc.stderr
    with av.open(str(mkv)) as c:
        st = c.streams.video[0]
        assert (st.codec_context.width, st.codec_context.height) == SIZES[4, True]
    ref = _cropped(clip, True)
    same = {}
    restore_video(mkv, tmp_path / "r.mkv", key, data, progress=False,
                  on_frame=lambda i, fr: same.__setitem__(i, all(
                      np.array_equal(a, b) for a, b in zip(fr.planes, _planes(ref.get_frame(i))))))
    assert same == {n: True for n in range(FRAMES)}


@pytest.mark.parametrize("name", ["YUV420P16", "GRAY16"])
def test_sixteen_bit_is_refused_with_a_clear_error(clip, name):
    src = vs.core.resize.Point(clip, format=getattr(vs, name))
    with pytest.raises(FormatError, match=r"rescale.*(yuv420p16|gray16).*15 bits"):
        protect(src, "rescale=factor=2:size=small")


class FailOn(Protector):
    name = "test_vs_rescale_fail_on"

    def __init__(self, frames, **opts):
        super().__init__(**opts)
        self.frames = set(frames)

    def process(self, frame, ctx):
        if frame.index in self.frames:
            raise RuntimeError("detector crashed")
        return frame


class FailingRescale(Rescale):
    """rescale whose transform fails on frame 1: the pipeline's fallback is a full-size frame."""

    def _frame(self, frame):
        if frame.index == 1:
            raise RuntimeError("transform failed")
        return super()._frame(frame)


@pytest.mark.parametrize("where", ["before", "itself", "after"])
def test_a_failing_frame_is_hidden_at_the_new_size(clip, where):
    """Frame 1 fails (before the size change, in the size-changing protector itself, after it):
    it comes out as a mid-grey frame of the new size marked VPFFailClosed, the others as usual."""
    resc = Rescale(factor=4, size="small")
    chain = {"before": [FailOn({1}), resc], "itself": [FailingRescale(factor=4, size="small")],
             "after": [resc, FailOn({1})]}[where]
    out = protect(clip, Pipeline(chain))
    assert (out.width, out.height) == (192, 108)
    bad = out.get_frame(1)
    assert bad.props["VPFFailClosed"] == 1
    src = _planes(clip.get_frame(1))
    for got, orig in zip(_planes(bad), src):
        assert got.shape == (orig.shape[0] // 4, orig.shape[1] // 4)
        assert np.unique(got).size == 1  # nothing of the picture is left
    assert bad.props["_Matrix"] == clip.get_frame(1).props["_Matrix"]
    good = out.get_frame(2)
    assert "VPFFailClosed" not in good.props and np.unique(_planes(good)[0]).size > 10
    with pytest.raises(vs.Error, match="frame 1"):
        protect(clip, Pipeline([FailOn({1}), Rescale(factor=4, size="small")]),
                on_error="stop").get_frame(1)


def test_learned_small_output_and_an_odd_ll_size_refused(clip):
    """restore=learned: ceil(size / factor), same pixels as the protector; an LL size that a
    4:2:0 clip cannot hold (764 / 4 = 191 columns) is refused when the clip is built."""
    pytest.importorskip("torch")
    out = protect(clip[:1], "rescale=factor=4:size=small:restore=learned")
    assert (out.width, out.height) == (192, 108)
    p = Rescale(factor=4, size="small", restore="learned")
    p.open(StreamInfo(clip.width, clip.height, "yuv420p"))
    want = p.process(as_frame(clip.get_frame(0).copy(), 0), FrameContext(0))
    _assert_same(_planes(out.get_frame(0)), want.planes, "learned frame 0")
    p.close()
    with pytest.raises(FormatError, match="191x108"):
        protect(vs.core.std.Crop(clip, right=4), "rescale=factor=4:size=small:restore=learned")
