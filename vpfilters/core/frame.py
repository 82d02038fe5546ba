"""Frame and plane views shared by every host: planar YUV/GRAY/RGB, 8 to 16 bit, numpy planes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vpfilters.errors import FormatError

# name -> (family, bits, (sx, sy) chroma subsampling as log2 factors, number of planes)
FORMATS: dict[str, tuple[str, int, tuple[int, int], int]] = {
    "yuv420p": ("yuv", 8, (1, 1), 3),
    "yuv420p10": ("yuv", 10, (1, 1), 3),
    "yuv420p12": ("yuv", 12, (1, 1), 3),
    "yuv420p16": ("yuv", 16, (1, 1), 3),
    "yuv422p": ("yuv", 8, (1, 0), 3),
    "yuv422p10": ("yuv", 10, (1, 0), 3),
    "yuv444p": ("yuv", 8, (0, 0), 3),
    "yuv444p10": ("yuv", 10, (0, 0), 3),
    "yuv444p16": ("yuv", 16, (0, 0), 3),
    "gray": ("gray", 8, (0, 0), 1),
    "gray10": ("gray", 10, (0, 0), 1),
    "gray16": ("gray", 16, (0, 0), 1),
    "rgbp": ("rgb", 8, (0, 0), 3),      # planar R, G, B
    "rgbp10": ("rgb", 10, (0, 0), 3),
    "rgbp16": ("rgb", 16, (0, 0), 3),
}

ALL_FORMATS = frozenset(FORMATS)


@dataclass
class Frame:
    """One picture as planar numpy views, plus its properties.

    Attributes
    ----------
    planes : list of 2-D arrays
        Y, U, V (or G for gray, or R, G, B for ``rgbp*``). uint8 for 8 bit, uint16 holding
        ``bits``-bit values otherwise. Rows may be padded (strided views); protectors edit them in
        place, so hosts hand over writable planes.
    format : str
        A key of :data:`FORMATS`.
    index : int
        The frame number in its stream (0-based).
    props : dict
        Frame properties. Colour keys follow VapourSynth's reserved names: ``_Matrix``,
        ``_Transfer``, ``_Primaries``, and the range as ``_ColorRange`` with 0 = full, 1 = limited
        (VapourSynth R81's ``_Range`` numbers it the other way round; the VapourSynth host
        translates). Protectors add ``VPF...`` keys
        (e.g. ``VPFBoxes``: flat float list, x1, y1, x2, y2 per box in luma pixels).
    pts, time_base :
        Timing as the host had it (opaque to protectors; kept as is).
    """

    planes: list
    format: str
    index: int = 0
    props: dict = field(default_factory=dict)
    pts: int | None = None
    time_base: object = None

    def __post_init__(self):
        if self.format not in FORMATS:
            raise FormatError(f"unsupported frame format {self.format!r}; supported: "
                              f"{', '.join(sorted(FORMATS))}", parameter="format")
        fam, bits, (sx, sy), n = FORMATS[self.format]
        if len(self.planes) != n:
            raise FormatError(f"format {self.format} needs {n} planes, got {len(self.planes)}",
                              frame=self.index)
        dtype = np.uint8 if bits == 8 else np.uint16
        h, w = self.planes[0].shape
        for i, p in enumerate(self.planes):
            if p.dtype != dtype or p.ndim != 2:
                raise FormatError(f"plane {i} of a {self.format} frame must be 2-D {np.dtype(dtype)}, "
                                  f"got {p.ndim}-D {p.dtype}", frame=self.index)
            if i and fam == "yuv":
                expect = (-(-h // (1 << sy)), -(-w // (1 << sx)))
                if p.shape != expect:
                    raise FormatError(f"chroma plane {i} has shape {p.shape}, expected {expect} "
                                      f"for {self.format} {w}x{h}", frame=self.index)
            elif p.shape != (h, w):
                raise FormatError(f"plane {i} has shape {p.shape}, expected {(h, w)}",
                                  frame=self.index)

    # -- geometry -----------------------------------------------------------------------------
    @property
    def family(self) -> str:
        return FORMATS[self.format][0]

    @property
    def bits(self) -> int:
        return FORMATS[self.format][1]

    @property
    def width(self) -> int:
        return self.planes[0].shape[1]

    @property
    def height(self) -> int:
        return self.planes[0].shape[0]

    def subsampling(self, plane: int) -> tuple[int, int]:
        """(sx, sy) log2 subsampling of ``plane`` relative to luma."""
        if plane == 0 or self.family != "yuv":
            return (0, 0)
        return FORMATS[self.format][2]

    @property
    def full_range(self) -> bool:
        """True for full-range (JPEG, ``yuvj420p``) YUV; RGB and unknown gray count as full."""
        rng = self.props.get("_ColorRange")
        if rng is None:
            return self.family == "rgb"
        return int(rng) == 0

    @property
    def matrix(self) -> str:
        """'bt709' or 'bt601' (from ``_Matrix``; HD sizes default to BT.709, SD to BT.601)."""
        m = self.props.get("_Matrix")
        if m in (1,):
            return "bt709"
        if m in (5, 6):
            return "bt601"
        return "bt709" if self.height >= 720 else "bt601"

    def copy(self) -> "Frame":
        return Frame([p.copy() for p in self.planes], self.format, self.index, dict(self.props),
                     self.pts, self.time_base)


# -- colours -------------------------------------------------------------------------------------

_KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}

NAMED_COLORS = {
    "black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128), "grey": (128, 128, 128),
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
}


def parse_color(text) -> tuple[int, int, int]:
    """'black', '#RRGGBB' or 'RRGGBB' -> (r, g, b) 0..255."""
    if isinstance(text, (tuple, list)) and len(text) == 3:
        return tuple(int(c) for c in text)
    t = str(text).strip().lower()
    if t in NAMED_COLORS:
        return NAMED_COLORS[t]
    t = t.removeprefix("#").removeprefix("0x")
    if len(t) == 6:
        try:
            return tuple(int(t[i:i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            pass
    raise ValueError(f"not a colour: {text!r} (use a name like black/gray/white or #RRGGBB)")


def color_values(rgb, frame: Frame) -> list[float]:
    """Per-plane code values of an sRGB colour for ``frame`` (matrix, range and bit depth aware)."""
    r, g, b = (c / 255.0 for c in rgb)
    scale = (1 << frame.bits) - 1
    if frame.family == "rgb":
        return [round(c * scale) for c in (r, g, b)]
    kr, kb = _KR_KB[frame.matrix]
    y = kr * r + (1 - kr - kb) * g + kb * b
    u = (b - y) / (2 * (1 - kb))
    v = (r - y) / (2 * (1 - kr))
    shift = frame.bits - 8
    if frame.full_range:
        yv = y * scale
        mid = 1 << (frame.bits - 1)
        uv = [mid + u * scale, mid + v * scale]
    else:
        yv = (16 + 219 * y) * (1 << shift)
        uv = [(128 + 224 * u) * (1 << shift), (128 + 224 * v) * (1 << shift)]
    vals = [yv, *uv]
    vals = [min(max(round(x), 0), scale) for x in vals]
    return vals[:len(frame.planes)]
