"""hide and extract: bit-exact capacity mode, CRC and key refusal, robustness on real frames."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vpfilters.core import Frame, FrameContext, StreamInfo, register
from vpfilters.metrics.quality import psnr, ssim
from vpfilters.metrics.robustness import h264_roundtrip
from vpfilters.protect.hide import Hide, PayloadNotFound, WrongKey, capacity_bits, extract

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
KODAK = DATA / "kodak24"
VIDEO = DATA / "intel_sample_videos" / "one-by-one-person-detection.mp4"
FFMPEG = shutil.which("ffmpeg")

pytestmark = pytest.mark.skipif(not KODAK.is_dir() or not VIDEO.is_file(),
                                reason="shared data not present")
register(Hide)


def _rgb_frame(path) -> Frame:
    from PIL import Image

    a = np.asarray(Image.open(path).convert("RGB"))
    return Frame([np.ascontiguousarray(a[..., i]) for i in range(3)], "rgbp")


def _embed(frame: Frame, **opts) -> Frame:
    h = Hide(**opts)
    h.open(StreamInfo(frame.width, frame.height, frame.format))
    return h.process(frame.copy(), FrameContext(frame.index))


def _ff(*args) -> bytes:
    return subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", *map(str, args)], check=True,
                          capture_output=True, timeout=120).stdout


@pytest.fixture(scope="module")
def frames_1080p():
    """Three real 1920x1080 yuv420p frames (the benchmark clip's source, bicubic upscale)."""
    raw = _ff("-i", VIDEO, "-vf", "select='not(mod(n\\,40))',scale=1920:1080:flags=bicubic",
              "-vsync", "0", "-frames:v", 3, "-pix_fmt", "yuv420p", "-f", "rawvideo", "-")
    n = 1920 * 1080 * 3 // 2
    out = []
    for i in range(len(raw) // n):
        b = np.frombuffer(raw[i * n:(i + 1) * n], np.uint8)
        y = b[:1920 * 1080].reshape(1080, 1920).copy()
        u = b[1920 * 1080:1920 * 1080 * 5 // 4].reshape(540, 960).copy()
        v = b[1920 * 1080 * 5 // 4:].reshape(540, 960).copy()
        out.append(Frame([y, u, v], "yuv420p", i, {"_ColorRange": 1}))
    return out


def _down_up(frame: Frame) -> Frame:
    from PIL import Image

    g = frame.copy()
    for p in g.planes:
        h, w = p.shape
        im = Image.fromarray(p).resize((w // 2, h // 2), Image.BICUBIC).resize((w, h),
                                                                                Image.BICUBIC)
        p[...] = np.asarray(im)
    return g


# ------------------------------------------------------------------------------ capacity mode


def test_capacity_kodak_bit_exact_over_4_5_bpp():
    src = _rgb_frame(KODAK / "kodim05.png")
    cap = capacity_bits(src.width, src.height, "rgbp", 2) // 8 - 10  # minus framing
    payload = np.random.default_rng(5).integers(0, 256, cap, dtype=np.uint8).tobytes()
    marked = _embed(src, payload=payload, mode="capacity", depth=2)
    got = extract(marked, mode="capacity")
    assert got.payload == payload
    bpp = len(payload) * 8 / (src.width * src.height)
    rgb_a, rgb_b = np.stack(src.planes, -1), np.stack(marked.planes, -1)
    assert bpp >= 4.5
    assert psnr(rgb_a, rgb_b) >= 45.0


def test_capacity_ffv1_yuv420p_video_bit_exact(tmp_path):
    from vpfilters.hosts.pyav import transcode

    cap = capacity_bits(768, 432, "yuv420p", 3) // 8 - 10
    payload = np.random.default_rng(7).integers(0, 256, cap, dtype=np.uint8).tobytes()
    (tmp_path / "p.bin").write_bytes(payload)
    out = tmp_path / "marked.mkv"
    transcode(VIDEO, out, f"hide=mode=capacity:depth=3:payload=@{tmp_path / 'p.bin'}",
              codec="ffv1", progress=False, max_frames=3)
    got = extract(out)
    assert got.mode == "capacity" and got.payload == payload
    assert len(payload) * 8 / (768 * 432) >= 4.49  # 3 bits x 1.5 samples per luma pixel


# ------------------------------------------------------------------------------ refusal


def test_unmarked_and_damaged_inputs_say_no_payload(frames_1080p):
    with pytest.raises(PayloadNotFound, match="no payload found"):
        extract(frames_1080p[:2])
    noise = Frame([np.random.default_rng(1).integers(0, 256, (256, 256), dtype=np.uint8)], "gray")
    with pytest.raises(PayloadNotFound):
        extract(noise)
    # a capacity payload with one flipped sample: CRC refuses it instead of returning garbage
    src = _rgb_frame(KODAK / "kodim23.png")
    marked = _embed(src, payload=b"exactly this text", mode="capacity", depth=1)
    from vpfilters.protect import _stego

    order = _stego.capacity_order(sum(p.size for p in marked.planes), 0)
    flat = np.concatenate([p.ravel() for p in marked.planes])
    i = int(order[40])  # inside the body
    plane, pos = divmod(i, marked.planes[0].size)
    p = marked.planes[plane].reshape(-1)
    p[pos] ^= 1
    assert flat.size == 3 * p.size
    with pytest.raises(PayloadNotFound):
        extract(marked, mode="capacity")


def test_wrong_key_and_missing_key(frames_1080p):
    marked = _embed(frames_1080p[0], payload="restore data", key="correct horse")
    assert extract(marked, "correct horse").payload == b"restore data"
    with pytest.raises(WrongKey, match="wrong key"):
        extract(marked, "battery staple")
    with pytest.raises(WrongKey, match="encrypted"):
        extract(marked)
    cap = _embed(_rgb_frame(KODAK / "kodim01.png"), payload=b"k", key="a", mode="capacity")
    with pytest.raises(WrongKey):
        extract(cap, "b")


# ------------------------------------------------------------------------------ robust mode


def test_robust_1080p_256_bits_survive_crf23_and_down_up(frames_1080p):
    payload = bytes(range(32))  # 256 payload bits
    marked = [_embed(f, payload=payload) for f in frames_1080p]
    for a, b in zip(frames_1080p, marked):
        assert psnr(a.planes[0], b.planes[0]) >= 40.0
        assert ssim(a.planes[0], b.planes[0]) >= 0.98
    for attacked in (h264_roundtrip(marked, 23), [_down_up(f) for f in marked]):
        for f in attacked:  # every frame on its own, zero payload errors (CRC-checked)
            got = extract(f, mode="robust")
            assert got.payload == payload and got.frames_read == 1


def test_midstream_extraction_after_keyframe_cut(tmp_path):
    """Hide, re-encode as H.264 (CRF 23, keyframe every 8), cut at a keyframe by stream copy."""
    from vpfilters.hosts.pyav import transcode

    marked = tmp_path / "marked.mkv"
    transcode(VIDEO, marked, "hide=payload='id 4711: mid-stream'", codec="ffv1", progress=False,
              max_frames=24)
    h264 = tmp_path / "h264.mp4"
    _ff("-i", marked, "-c:v", "libx264", "-crf", 23, "-preset", "veryfast", "-g", 8,
        "-keyint_min", 8, "-sc_threshold", 0, h264)
    cut = tmp_path / "cut.mp4"
    _ff("-ss", 1.0, "-i", h264, "-c", "copy", "-avoid_negative_ts", "make_zero", cut)
    import av

    with av.open(str(cut)) as c:
        n = sum(1 for _ in c.decode(video=0))
    assert 0 < n < 24  # the cut really starts mid-stream, at a keyframe
    got = extract(cut)
    assert got.payload == b"id 4711: mid-stream" and got.mode == "robust"


def test_cli_extract(tmp_path, capsys, monkeypatch):
    import vpfilters.cli as cli

    marked = tmp_path / "m.png"
    from vpfilters.hosts.pyav import transcode

    transcode(KODAK / "kodim03.png", marked, "hide=payload=hello:key=k1", progress=False)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("vpfilters.cli_hide",))
    assert cli.main(["extract", str(marked), "--key", "k1"]) == 0
    assert capsys.readouterr().out.strip() == "hello"
    assert cli.main(["extract", str(marked), "--key", "nope"]) == 3
    assert "wrong key" in capsys.readouterr().err
    assert cli.main(["extract", str(KODAK / "kodim03.png")]) == 4
    assert "no payload found" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["gray10", "yuv444p"])
def test_other_formats_round_trip(fmt):
    rgb = np.stack(_rgb_frame(KODAK / "kodim08.png").planes, -1)
    y = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).round()
    if fmt == "gray10":
        f = Frame([(y.astype(np.uint16) << 2)], fmt)
    else:
        f = Frame([y.astype(np.uint8), rgb[..., 2].copy(), rgb[..., 0].copy()], fmt)
    for mode in ("robust", "capacity"):
        marked = _embed(f, payload=b"format check", mode=mode)
        assert psnr(f.planes[0], marked.planes[0], bits=f.bits) >= 40.0
        got = extract(marked, mode=mode)
        assert got.payload == b"format check" and got.mode == mode


def test_payload_too_long_for_robust_mode_is_a_clear_error():
    from vpfilters.errors import ParameterError

    f = _rgb_frame(KODAK / "kodim02.png")
    with pytest.raises(ParameterError, match="mode=capacity"):
        _embed(f, payload=b"x" * 4000)
