"""Core model: frames and planes, regions, the Protector protocol, registry and filter specs."""

from vpfilters.core.frame import ALL_FORMATS, FORMATS, Frame, color_values, parse_color
from vpfilters.core.protector import FrameContext, Option, Pipeline, Protector, StreamInfo
from vpfilters.core.region import Region, boxes_array, flat_boxes
from vpfilters.core.registry import build, describe, get, names, register
from vpfilters.core.spec import FilterSpec, parse_spec

__all__ = [
    "ALL_FORMATS", "FORMATS", "FilterSpec", "Frame", "FrameContext", "Option", "Pipeline",
    "Protector", "Region", "StreamInfo", "boxes_array", "build", "color_values", "describe",
    "flat_boxes", "get", "names", "parse_color", "parse_spec", "register",
]
