"""Frames, colours, mask protectors and the fail-closed pipeline."""

import numpy as np
import pytest

from vpfilters.core import Frame, FrameContext, Pipeline, Protector, build, color_values
from vpfilters.errors import FormatError, ProtectionError


def yuv420(w=96, h=64, y=100, c=128, dtype=np.uint8):
    return Frame([np.full((h, w), y, dtype), np.full(((h + 1) // 2, (w + 1) // 2), c, dtype),
                  np.full(((h + 1) // 2, (w + 1) // 2), c, dtype)],
                 "yuv420p" if dtype == np.uint8 else "yuv420p10")


def test_frame_checks_plane_geometry():
    with pytest.raises(FormatError):
        Frame([np.zeros((4, 4), np.uint8)] * 3, "yuv420p")
    with pytest.raises(FormatError):
        Frame([np.zeros((4, 4), np.uint8)], "bgr48")
    f = yuv420(w=7, h=5)
    assert (f.width, f.height, f.subsampling(1)) == (7, 5, (1, 1))


@pytest.mark.parametrize("matrix,rng,expect", [
    (1, 1, [16, 128, 128]),      # black, BT.709 limited
    (6, 0, [0, 128, 128]),       # black, BT.601 full
])
def test_black_is_black_in_every_range(matrix, rng, expect):
    f = yuv420()
    f.props.update(_Matrix=matrix, _ColorRange=rng)
    assert color_values((0, 0, 0), f) == expect


def test_white_red_depend_on_matrix_and_bit_depth():
    f = yuv420()
    f.props.update(_Matrix=1, _ColorRange=1)
    assert color_values((255, 255, 255), f) == [235, 128, 128]
    red709 = color_values((255, 0, 0), f)
    f.props["_Matrix"] = 6
    red601 = color_values((255, 0, 0), f)
    assert red709 != red601 and red601[0] == 81  # BT.601 red: Y' = 16 + 219 * 0.299
    g = yuv420(dtype=np.uint16)
    g.props.update(_Matrix=1, _ColorRange=1)
    assert color_values((255, 255, 255), g) == [940, 512, 512]


def test_fill_covers_the_box_outward_on_chroma():
    f = yuv420()
    f.props.update(_Matrix=1, _ColorRange=1)
    build("fill=box=11/11/31/21:color=white").process(f)
    y, u, _ = f.planes
    assert (y[11:21, 11:31] == 235).all() and y[10, 10] == 100 and y[21, 31] == 100
    assert (u[5:11, 5:16] == 128).all()
    assert f.props["VPFBoxes"] == [11.0, 11.0, 31.0, 21.0]


def test_blur_and_pixelate_change_only_the_region():
    rng = np.random.default_rng(1)
    f = yuv420()
    f.planes[0][...] = rng.integers(0, 256, f.planes[0].shape)
    before = f.planes[0].copy()
    build("blur=box=20/20/40/40:strength=4,pixelate=box=60/10/90/50").process(f)
    changed = f.planes[0] != before
    assert changed[20:40, 20:40].mean() > 0.9 and changed[10:50, 60:90].mean() > 0.9
    changed[20:40, 20:40] = False
    changed[10:50, 60:90] = False
    assert not changed.any()


def test_ellipse_leaves_the_corners():
    f = yuv420()
    build("fill=box=10/10/50/50:shape=ellipse:color=white").process(f)
    y = f.planes[0]
    assert y[30, 30] == 235 and y[10, 10] == 100


class Boom(Protector):
    name = "boom"

    def process(self, frame, ctx):
        raise RuntimeError("detector crashed")


def test_fail_closed_hides_the_whole_frame():
    f = yuv420()
    f.planes[0][...] = np.arange(96, dtype=np.uint8)[None, :]
    p = Pipeline([Boom()])
    out = p.process(f, FrameContext(7))
    assert out.props["VPFFailClosed"] == 1 and p.failed_frames == [0]
    assert len(np.unique(out.planes[0])) == 1  # nothing of the picture is left


def test_fail_closed_can_stop_instead():
    f = yuv420()
    f.index = 12
    with pytest.raises(ProtectionError) as e:
        Pipeline([Boom()], on_error="stop").process(f)
    assert e.value.frame == 12 and "boom" in str(e.value)


def test_window_is_bounded():
    ctx = FrameContext(10, fetch=lambda n: n, window=2)
    assert ctx.frame(12) == 12
    with pytest.raises(Exception):
        ctx.frame(13)
