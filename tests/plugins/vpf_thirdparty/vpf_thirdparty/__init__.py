"""A third-party protector package: what a plug-in author writes, and nothing more."""

from vpfilters.core import Frame, FrameContext, Option, Protector
from vpfilters.core.protector import non_negative, parse_boxes


class Invert(Protector):
    """Invert every plane inside the boxes (the whole frame when none are given)."""

    name = "invert"
    summary = "invert the picture inside boxes (a third-party example)"
    options = (Option("box", parse_boxes, [], "x1/y1/x2/y2 in luma pixels, '+'-separated"),)

    def process(self, frame: Frame, ctx: FrameContext) -> Frame:
        top = (1 << frame.bits) - 1
        boxes = self.opts["box"] or [(0, 0, frame.width, frame.height)]
        for i, plane in enumerate(frame.planes):
            sx, sy = frame.subsampling(i)
            for x1, y1, x2, y2 in boxes:
                ys = slice(int(y1) >> sy, -(-int(y2) // (1 << sy)))
                xs = slice(int(x1) >> sx, -(-int(x2) // (1 << sx)))
                plane[ys, xs] = top - plane[ys, xs]
        frame.props["VPFBoxes"] = [float(v) for b in boxes for v in b]
        return frame


class Explode(Protector):
    """Fails on frame ``at`` (and after): for testing the fail-closed rule and clean-up."""

    name = "explode"
    summary = "raise an error from frame 'at' on (a test helper)"
    options = (Option("at", non_negative(int), 0, "first frame that fails"),)

    def process(self, frame: Frame, ctx: FrameContext) -> Frame:
        if frame.index >= self.opts["at"]:
            raise RuntimeError(f"boom at frame {frame.index}")
        return frame
