"""Build vpfilters/models/munsell_lut.npy, the Munsell colour table of the `events` protector.

The table maps (flow direction bin, normalised speed bin) to an sRGB colour:

* direction bin ``d`` (0..99, bin 0 starts at +x and turns towards +y, as in
  :func:`vpfilters.kernels.flow_to_color`) -> Munsell hue step ``d + 1`` of the 100-step hue circle,
  counted from 1R: bin 0 = 1R, bin 9 = 10R, bin 10 = 1YR, ..., bin 99 = 10RP;
* speed bin ``k`` (0..n_mag-1, k / (n_mag - 1) = normalised speed ``s``) -> Munsell chroma
  ``C = Cmax(hue) * (floor + (1 - floor) * s)``; bin 0 (no motion) is black;
* Munsell value is fixed (``--value``, default 6): speed is carried by chroma alone, so the decoder
  needs no luminance, which codecs keep best anyway.

Out-of-gamut rule: ``Cmax(hue)`` is the largest chroma (in steps of 0.25, capped by ``--max-chroma``)
whose renotation colour is inside sRGB, found per hue at the fixed value. Chroma is thus reduced at
constant hue and value (never clipped per RGB channel), which keeps the hue, the quantity the
decoder reads back. Colours come from the Munsell renotation data (illuminant C) through
colour-science: Munsell -> xyY -> XYZ -> Bradford adaptation to D65 -> sRGB (IEC 61966-2-1 curve),
rounded to 8 bits.

Only this script needs colour-science; run time reads the small .npy.

Usage: ``python scripts/build_munsell_lut.py [--value 6] [--n-mag 32] [--floor 0.3] [--out PATH]``
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "vpfilters" / "models" / "munsell_lut.npy"
FAMILIES = ("R", "YR", "Y", "GY", "G", "BG", "B", "PB", "P", "RP")


def hue_name(step: int) -> str:
    """Hue step 1..100 counted from 1R -> Munsell hue ('1R' ... '10RP')."""
    fam, num = divmod(step - 1, 10)
    return f"{num + 1}{FAMILIES[fam]}"


def munsell_srgb(colour, hue: str, value: float, chroma: float) -> np.ndarray | None:
    """sRGB (linear-encoded 0..1 floats, gamma applied) of a Munsell colour; None if outside data."""
    if chroma <= 0:
        spec = f"N{value:g}"
    else:
        spec = f"{hue} {value:g}/{chroma:g}"
    try:
        xyY = colour.munsell_colour_to_xyY(spec)
    except (ValueError, AssertionError, RuntimeError):
        return None
    illuminant_c = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["C"]
    return np.asarray(colour.XYZ_to_sRGB(colour.xyY_to_XYZ(xyY), illuminant=illuminant_c,
                                         chromatic_adaptation_transform="Bradford"))


def in_gamut(rgb) -> bool:
    return rgb is not None and bool(np.all(rgb >= -1e-6) and np.all(rgb <= 1 + 1e-6))


def max_chroma(colour, hue: str, value: float, cap: float, step: float = 0.25) -> float:
    c = step
    best = 0.0
    while c <= cap + 1e-9:
        if in_gamut(munsell_srgb(colour, hue, value, c)):
            best = c
        else:
            break
        c += step
    return best


def build(value: float, n_mag: int, floor: float, cap: float, verbose: bool = True):
    import colour

    warnings.simplefilter("ignore")
    lut = np.zeros((100, n_mag, 3), np.uint8)
    cmax = np.zeros(100)
    for d in range(100):
        hue = hue_name(d + 1)
        cmax[d] = max_chroma(colour, hue, value, cap)
        for k in range(1, n_mag):
            s = k / (n_mag - 1)
            c = cmax[d] * (floor + (1 - floor) * s)
            rgb = munsell_srgb(colour, hue, value, c)
            if rgb is None:  # cannot happen below cmax, but never ship a hole
                raise RuntimeError(f"no renotation colour for {hue} {value}/{c}")
            lut[d, k] = np.clip(np.round(np.clip(rgb, 0, 1) * 255), 0, 255).astype(np.uint8)
        if verbose and d % 10 == 0:
            print(f"{hue:5s}: Cmax {cmax[d]:.2f}, top colour {tuple(int(x) for x in lut[d, -1])}")
    return lut, cmax


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--value", type=float, default=6.0, help="fixed Munsell value (default 6)")
    ap.add_argument("--n-mag", type=int, default=32, help="speed bins, bin 0 = black (default 32)")
    ap.add_argument("--floor", type=float, default=0.3,
                    help="chroma of the slowest moving bin as a share of Cmax (default 0.3)")
    ap.add_argument("--max-chroma", type=float, default=16.0, help="chroma cap (default 16)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    lut, cmax = build(args.value, args.n_mag, args.floor, args.max_chroma)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, lut)
    meta = {"value": args.value, "n_mag": args.n_mag, "floor": args.floor,
            "max_chroma": args.max_chroma, "cmax_min": float(cmax.min()),
            "cmax_max": float(cmax.max()), "shape": list(lut.shape)}
    print(json.dumps(meta))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
