"""Fixed boxes take a precomputed path in MaskProtector.process: the same pixels and props."""

from __future__ import annotations

import numpy as np
import pytest

from vpfilters.core import FORMATS, Frame, FrameContext, StreamInfo, build
from vpfilters.protect.mask import MaskProtector


def _frame(fmt: str, w: int, h: int, seed: int, props: dict) -> Frame:
    fam, bits, (sx, sy), n = FORMATS[fmt]
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if bits == 8 else np.uint16
    planes = []
    for i in range(n):
        ph, pw = (h, w) if i == 0 or fam != "yuv" else (-(-h // (1 << sy)), -(-w // (1 << sx)))
        planes.append(rng.integers(0, 1 << bits, (ph, pw)).astype(dtype))
    return Frame(planes, fmt, 3, dict(props))


SPECS = ["fill=box=10/12/70/50", "fill=box=3.5/7.2/41/33+50/40/90/70:color=#30c0ff:feather=3",
         "blur=box=0/0/64/48:strength=5:feather=2", "pixelate=box=-10/5/200/31:strength=7",
         "blur=box=20/10/60/40:pad=0.2", "fill=box=200/200/300/300"]  # the last: off the frame
FORMATS_SIZES = [("yuv420p", 97, 61), ("yuv420p10", 64, 48), ("yuv422p", 80, 45),
                 ("yuv444p16", 33, 20), ("gray", 64, 48), ("rgbp", 50, 40)]
PROPS = [{}, {"_Matrix": 1, "_ColorRange": 0},
         {"VPFBoxes": [1.0, 2.0, 3.0, 4.0], "VPFTrackIds": [7]}, {"VPFBoxes": [1.0, 2.0, 3.0, 4.0]}]


@pytest.mark.parametrize("spec", SPECS)
def test_fast_path_matches_the_general_path(spec, monkeypatch):
    for k, (fmt, w, h) in enumerate(FORMATS_SIZES):
        for j, props in enumerate(PROPS):
            fast, slow = build(spec), build(spec)
            for p in (fast, slow):
                p.open(StreamInfo(w, h, fmt))
            b = _frame(fmt, w, h, k * 10 + j, props)
            with monkeypatch.context() as m:
                m.setattr(MaskProtector, "_fixed_plan", lambda self, frame: None)
                rb = slow.process(b, FrameContext(3))
            for _ in range(2):  # the second frame reuses the plan
                ra = fast.process(_frame(fmt, w, h, k * 10 + j, props), FrameContext(3))
                assert fast.protectors[0]._plans, "the fast path was not taken"
                for pa, pb in zip(ra.planes, rb.planes):
                    np.testing.assert_array_equal(pa, pb)
                assert ra.props == rb.props


def test_fast_path_once_equals_general_path_props(monkeypatch):
    props = {"VPFBoxes": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "VPFTrackIds": [7]}
    fast, slow = build("fill=box=1/1/9/9+20/20/30/30"), build("fill=box=1/1/9/9+20/20/30/30")
    a, b = _frame("yuv420p", 64, 48, 0, props), _frame("yuv420p", 64, 48, 0, props)
    with monkeypatch.context() as m:
        m.setattr(MaskProtector, "_fixed_plan", lambda self, frame: None)
        rb = slow.process(b)
    ra = fast.process(a)
    assert ra.props == rb.props
    assert ra.props["VPFTrackIds"] == [7, -1, -1, -1]


def test_fast_path_not_for_strided_pixels_or_detection():
    f = _frame("gray", 64, 48, 0, {})
    wide = np.zeros((48, 128), np.uint8)
    wide[:, ::2] = f.planes[0]
    g = Frame([wide[:, ::2]], "gray", 0, {})
    p = build("fill=box=0/0/8/8").protectors[0]
    assert p._fixed_plan(g) is None
    assert build("blur=box=0/0/8/8:targets=face").protectors[0]._fixed_plan(f) is None
    assert build("blur=box=0/0/8/8:shape=ellipse").protectors[0]._fixed_plan(f) is None


@pytest.mark.parametrize("spec", SPECS + ["blur=box=10/20/30/28:strength=20:feather=9",
                                          "pixelate=box=5/31/20/33:strength=16",
                                          "fill=box=5/5/20/20:shape=ellipse:feather=4"])
def test_touched_rows_cover_everything_process_reads_or_writes(spec):
    """Rows outside touched_rows may hold anything (a host splices them past Python): the
    protected rows must not depend on them, and they must come out unchanged."""
    for k, (fmt, w, h) in enumerate(FORMATS_SIZES):
        p = build(spec)
        info = StreamInfo(w, h, fmt)
        p.open(info)
        rows = p.protectors[0].touched_rows(info)
        a = _frame(fmt, w, h, k, {})
        b = _frame(fmt, w, h, k, {})
        rng = np.random.default_rng(99)
        keep = []
        for i, plane in enumerate(b.planes):
            inside = np.zeros(plane.shape[0], bool)
            for y0, y1 in rows[i]:
                inside[y0:y1] = True
            keep.append(inside)
            plane[~inside] = rng.integers(0, 2, plane[~inside].shape).astype(plane.dtype)
        before = [q.copy() for q in b.planes]
        ra, rb = p.process(a, FrameContext(0)), p.process(b, FrameContext(0))
        for i in range(len(ra.planes)):
            np.testing.assert_array_equal(ra.planes[i][keep[i]], rb.planes[i][keep[i]])
            np.testing.assert_array_equal(rb.planes[i][~keep[i]], before[i][~keep[i]])


def test_touched_rows_none_with_detection():
    p = build("blur=box=0/0/8/8:targets=face").protectors[0]
    assert p.touched_rows(StreamInfo(64, 48, "yuv420p")) is None


def test_subclasses_with_their_own_regions_take_the_general_path():
    from vpfilters.protect.mask import Fill

    class Moving(Fill):
        name = "test_moving_fill"

        def regions(self, frame, ctx):
            return super().regions(frame, ctx) if frame.index % 2 else []

    p = Moving(box=[(0, 0, 8, 8)])
    f = _frame("gray", 64, 48, 0, {})
    f.index = 2
    assert p._fixed_plan(f) is None and p.touched_rows(StreamInfo(64, 48, "gray")) is None
    before = f.planes[0].copy()
    p.process(f, FrameContext(0))  # even frame: no regions
    np.testing.assert_array_equal(f.planes[0], before)
