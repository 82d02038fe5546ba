"""Masking (cl. 6.2): blur, pixelate or fill regions of a frame, with feathered edges."""

from __future__ import annotations

import numpy as np

from vpfilters.core.frame import Frame, color_values, parse_color
from vpfilters.core.protector import (FrameContext, Option, Protector, non_negative, parse_boxes,
                                      positive)
from vpfilters.core.region import Region, boxes_array, flat_boxes
from vpfilters.kernels import mask_blur


def ellipse_mask(regions: list[Region], width: int, height: int) -> np.ndarray | None:
    """uint8 luma mask of the ellipses inscribed in the regions' boxes (None when no regions)."""
    if not regions:
        return None
    m = np.zeros((height, width), np.uint8)
    for r in regions:
        x1, y1, x2, y2 = r.box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ax, ay = max((x2 - x1) / 2, 0.5), max((y2 - y1) / 2, 0.5)
        ys = slice(max(0, int(np.floor(y1))), min(height, int(np.ceil(y2))))
        xs = slice(max(0, int(np.floor(x1))), min(width, int(np.ceil(x2))))
        yy, xx = np.mgrid[ys, xs]
        inside = ((xx + 0.5 - cx) / ax) ** 2 + ((yy + 0.5 - cy) / ay) ** 2 <= 1.0
        m[ys, xs][inside] = 255
    return m


class MaskProtector(Protector):
    """Shared by blur, pixelate and fill: regions come from fixed boxes (and detectors, later)."""

    mode = "gaussian"
    default_strength = 8.0
    options = (
        Option("box", parse_boxes, [], "fixed regions, x1/y1/x2/y2 in luma pixels, '+'-separated"),
        Option("strength", non_negative(float), None, "blur sigma / mosaic block size, luma px"),
        Option("feather", non_negative(float), 0.0, "soft edge outside each region, luma px"),
        Option("shape", str, "box", "region shape", ("box", "ellipse")),
        Option("pad", non_negative(float), 0.0, "grow regions by this (fraction if < 1, else px)"),
    )

    def regions(self, frame: Frame, ctx: FrameContext) -> list[Region]:
        return [Region(tuple(b), "box") for b in self.opts["box"]]

    def fill_values(self, frame: Frame) -> list[float]:
        return [0.0] * len(frame.planes)

    def process(self, frame: Frame, ctx: FrameContext) -> Frame:
        regions = self.regions(frame, ctx)
        if self.opts["pad"]:
            regions = [r.grown(self.opts["pad"], frame.width, frame.height) for r in regions]
        frame.props["VPFBoxes"] = list(frame.props.get("VPFBoxes", [])) + flat_boxes(regions)
        if not regions:
            return frame
        strength = self.opts["strength"]
        strength = self.default_strength if strength is None else strength
        boxes, mask = boxes_array(regions), None
        if self.opts["shape"] == "ellipse":
            boxes, mask = None, ellipse_mask(regions, frame.width, frame.height)
        values = self.fill_values(frame)
        for i, plane in enumerate(frame.planes):
            mask_blur(plane, boxes, mode=self.mode, strength=strength,
                      feather=self.opts["feather"], subsampling=frame.subsampling(i), mask=mask,
                      value=values[i], out=plane)
        return frame


class Blur(MaskProtector):
    name = "blur"
    summary = "Gaussian-like blur of the regions (cl. 6.2)"
    mode = "gaussian"
    default_strength = 12.0


class Pixelate(MaskProtector):
    name = "pixelate"
    summary = "mosaic (pixelate) the regions (cl. 6.2)"
    mode = "pixelate"
    default_strength = 16.0


class Fill(MaskProtector):
    name = "fill"
    summary = "cover the regions with a solid colour (cl. 6.2)"
    mode = "fill"
    options = MaskProtector.options + (
        Option("color", parse_color, (0, 0, 0), "fill colour: a name or #RRGGBB (sRGB)"),
    )

    def fill_values(self, frame: Frame) -> list[float]:
        return color_values(self.opts["color"], frame)
