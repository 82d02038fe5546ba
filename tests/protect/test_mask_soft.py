"""Soft region masks (``Region.mask``) in blur, pixelate and fill, on a real Kodak photo.

A region carrying a mask is protected only where the mask is > 0, fully where it is 255 (1.0),
and in between is the kernel's blend of protected and original pixels; subsampled chroma takes
the maximum of the luma mask over its pixels. Without masks nothing changes.
"""

from __future__ import annotations

import numpy as np
import pytest

from vpfilters.core import FORMATS, Frame, FrameContext, Pipeline, StreamInfo
from vpfilters.core.region import Region
from vpfilters.protect.mask import Blur, Fill, Pixelate

av = pytest.importorskip("av")

AV_NAMES = {"yuv420p": "yuv420p", "yuv444p": "yuv444p", "yuv420p10": "yuv420p10le"}
BOX = (100.5, 80.25, 301.0, 240.6)  # fractional: the mask covers floor(x1)..ceil(x2)


@pytest.fixture(scope="module")
def kodak(shared_data):
    path = shared_data / "kodak24" / "kodim23.png"
    if not path.is_file():
        pytest.skip(f"Kodak image not found: {path}")
    with av.open(str(path)) as c:
        return next(c.decode(video=0))


def photo(kodak, fmt: str) -> Frame:
    """The Kodak photo as a core frame of ``fmt`` (BT.601 limited, swscale's conversion)."""
    f = kodak.reformat(format=AV_NAMES[fmt], dst_colorspace="itu601", dst_color_range=1)
    bits = FORMATS[fmt][1]
    dtype = np.uint8 if bits == 8 else np.uint16
    planes = []
    for p in f.planes:
        rows = np.frombuffer(p, dtype).reshape(p.height, p.line_size // np.dtype(dtype).itemsize)
        planes.append(rows[:, :p.width].copy())
    return Frame(planes, fmt, 0, {"_Matrix": 6, "_ColorRange": 1})


def ramp_mask(dtype=np.uint8) -> np.ndarray:
    """Over BOX's integer bounds: left quarter 0, then a horizontal ramp, right quarter full,
    and a hole of zeros in the middle of the full part."""
    r = Region(BOX)
    h, w = r.mask_shape()
    x = np.arange(w)
    row = np.clip((x - w / 4) / (w / 2), 0.0, 1.0)
    m = np.repeat(row[None, :], h, axis=0)
    m[h // 3:h // 2, int(w * 0.8):int(w * 0.9)] = 0.0
    if dtype == np.uint8:
        return np.rint(m * 255).astype(np.uint8)
    return m.astype(dtype)


def with_regions(cls, regions, **opts):
    """A ``cls`` protector whose regions are ``regions`` (as a detector subclass would give)."""
    sub = type(f"Soft{cls.__name__}", (cls,), {"regions": lambda self, frame, ctx: list(regions)})
    return sub(**opts)


def run(p, frame: Frame) -> Frame:
    p.open(StreamInfo(frame.width, frame.height, frame.format))
    return Pipeline([p], on_error="stop").process(frame, FrameContext(0))


def luma_alpha(frame: Frame, region: Region) -> np.ndarray:
    """The full-frame uint8 luma mask of one soft region."""
    m = np.zeros((frame.height, frame.width), np.uint8)
    x0, y0 = region.mask_origin()
    rm = region.mask_u8()
    m[y0:y0 + rm.shape[0], x0:x0 + rm.shape[1]] = rm
    return m


def pooled(m: np.ndarray, sx: int, sy: int, h: int, w: int) -> np.ndarray:
    fy, fx = 1 << sy, 1 << sx
    m = np.pad(m, ((0, h * fy - m.shape[0]), (0, w * fx - m.shape[1])), mode="edge")
    return m.reshape(h, fy, w, fx).max(axis=(1, 3))


CASES = [(Blur, {"strength": 6}), (Pixelate, {"strength": 12}), (Fill, {"color": "white"})]


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv444p", "yuv420p10"])
@pytest.mark.parametrize("cls,opts", CASES, ids=[c.__name__ for c, _ in CASES])
def test_soft_mask_protects_blends_and_leaves_the_rest(kodak, fmt, cls, opts):
    src = photo(kodak, fmt)
    region = Region(BOX, "face", 0.9, 4, ramp_mask())
    out = run(with_regions(cls, [region], **opts), src.copy())
    assert out.props["VPFBoxes"] == list(BOX) and out.props["VPFTrackIds"] == [4]
    # F: the protector's whole-plane operation (a box over the whole frame)
    full = run(with_regions(cls, [Region((0, 0, src.width, src.height))], **opts), src.copy())
    m = luma_alpha(src, region)
    for i, (a, s, f) in enumerate(zip(out.planes, src.planes, full.planes)):
        sx, sy = src.subsampling(i)
        pm = pooled(m, sx, sy, *s.shape).astype(np.int64)
        alpha = pm + (pm >> 7)
        expect = (s.astype(np.int64) * (256 - alpha) + f.astype(np.int64) * alpha + 128) >> 8
        np.testing.assert_array_equal(a, expect.astype(s.dtype), err_msg=f"plane {i}")
        # only where the mask is > 0, fully where it is 255
        np.testing.assert_array_equal(a[pm == 0], s[pm == 0])
        np.testing.assert_array_equal(a[pm == 255], f[pm == 255])
        if i == 0:
            partial = (pm > 0) & (pm < 255) & (f != s)
            assert partial.sum() > 1000
            lo = np.minimum(s, f)[partial]
            hi = np.maximum(s, f)[partial]
            assert ((a[partial] >= lo) & (a[partial] <= hi)).all()
            # the ramp really blends: a half-way pixel is neither the original nor F
            assert (a[partial] != s[partial]).mean() > 0.5
            assert (a[partial] != f[partial]).mean() > 0.5
        elif sx or sy:
            # subsampled chroma: a sample is protected as much as the most protected of its
            # luma pixels (max-pooled), so a pixel half-covered on luma is fully covered here
            assert (pm == 255).sum() * (1 << sx) * (1 << sy) >= (m == 255).sum()
    # the hole of zeros inside the fully protected part stays the photo
    x0, y0 = region.mask_origin()
    hh, ww = region.mask_shape()
    hole = (slice(y0 + hh // 3 + 1, y0 + hh // 2 - 1),
            slice(x0 + int(ww * 0.8) + 1, x0 + int(ww * 0.9) - 1))
    np.testing.assert_array_equal(out.planes[0][hole], src.planes[0][hole])
    if src.subsampling(1) == (0, 0):
        np.testing.assert_array_equal(out.planes[1][hole], src.planes[1][hole])


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10"])
@pytest.mark.parametrize("cls,opts", CASES, ids=[c.__name__ for c, _ in CASES])
def test_full_mask_equals_the_plain_box_and_empty_mask_changes_nothing(kodak, fmt, cls, opts):
    src = photo(kodak, fmt)
    h, w = Region(BOX).mask_shape()
    plain = run(with_regions(cls, [Region(BOX)], **opts), src.copy())
    full = run(with_regions(cls, [Region(BOX, mask=np.full((h, w), 255, np.uint8))], **opts),
               src.copy())
    for a, b in zip(full.planes, plain.planes):
        np.testing.assert_array_equal(a, b)
    empty = run(with_regions(cls, [Region(BOX, mask=np.zeros((h, w), np.uint8))], **opts),
                src.copy())
    for a, b in zip(empty.planes, src.planes):
        np.testing.assert_array_equal(a, b)
    assert empty.props["VPFBoxes"] == list(BOX)


def test_float_and_bool_masks_mean_the_same_as_uint8(kodak):
    src = photo(kodak, "yuv420p")
    ref = run(with_regions(Blur, [Region(BOX, mask=ramp_mask())]), src.copy())
    flt = run(with_regions(Blur, [Region(BOX, mask=ramp_mask(np.float32))]), src.copy())
    for a, b in zip(flt.planes, ref.planes):
        np.testing.assert_array_equal(a, b)
    bm = ramp_mask() > 127
    bol = run(with_regions(Blur, [Region(BOX, mask=bm)]), src.copy())
    u8 = run(with_regions(Blur, [Region(BOX, mask=bm.astype(np.uint8) * 255)]), src.copy())
    for a, b in zip(bol.planes, u8.planes):
        np.testing.assert_array_equal(a, b)


def test_soft_and_plain_regions_combine_by_maximum(kodak):
    """A plain box (feathered) and a soft region in one frame: each as it would be alone, and the
    maximum where they overlap; the plain one keeps its ellipse with shape=ellipse."""
    src = photo(kodak, "yuv420p")
    soft = Region(BOX, mask=ramp_mask())
    plain = Region((400.0, 300.0, 520.0, 420.0))
    both = run(with_regions(Fill, [plain, soft], feather=4, color="white"), src.copy())
    only_soft = run(with_regions(Fill, [soft], feather=4, color="white"), src.copy())
    only_plain = run(with_regions(Fill, [plain], feather=4, color="white"), src.copy())
    y = both.planes[0]
    np.testing.assert_array_equal(y[:, :380], only_soft.planes[0][:, :380])
    np.testing.assert_array_equal(y[260:, 330:], only_plain.planes[0][260:, 330:])
    ell = run(with_regions(Fill, [plain, soft], shape="ellipse", color="white"), src.copy())
    y = ell.planes[0]
    assert y[360, 460] == 235 and y[301, 401] == src.planes[0][301, 401]  # centre / corner
    np.testing.assert_array_equal(y[:, :380], only_soft.planes[0][:, :380])


def test_mask_off_the_frame_edge_is_cut(kodak):
    src = photo(kodak, "yuv420p")
    box = (-20.5, -10.0, 60.0, 50.0)
    r = Region(box)
    m = np.full(r.mask_shape(), 255, np.uint8)
    out = run(with_regions(Fill, [Region(box, mask=m)], color="white"), src.copy())
    y = out.planes[0]
    assert (y[:50, :60] == 235).all()
    np.testing.assert_array_equal(y[50:], src.planes[0][50:])
    np.testing.assert_array_equal(y[:, 60:], src.planes[0][:, 60:])


def test_a_mask_of_the_wrong_shape_fails_closed(kodak):
    src = photo(kodak, "yuv420p")
    bad = Region(BOX, mask=np.full((10, 10), 255, np.uint8))
    p = with_regions(Blur, [bad])
    p.open(StreamInfo(src.width, src.height, src.format))
    pipe = Pipeline([p])
    out = pipe.process(src.copy(), FrameContext(0))
    assert out.props["VPFFailClosed"] == 1 and pipe.failed_frames == [0]
    assert len(np.unique(out.planes[0])) == 1
    nan = np.full(Region(BOX).mask_shape(), np.nan, np.float32)
    p2 = with_regions(Blur, [Region(BOX, mask=nan)])
    p2.open(StreamInfo(src.width, src.height, src.format))
    assert Pipeline([p2]).process(src.copy(), FrameContext(2)).props["VPFFailClosed"] == 1
