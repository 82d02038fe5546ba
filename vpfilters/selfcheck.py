"""Post-install self-check: the native module and the VapourSynth plug-in really load."""

from __future__ import annotations

import argparse
import sys


def check() -> dict:
    from vpfilters.kernels import available_backends

    status = {"backends": available_backends(), "vapoursynth": None, "core.vpf": False}
    try:
        import vapoursynth as vs

        status["vapoursynth"] = str(vs.core.core_version) if hasattr(vs.core, "core_version") else "ok"
        status["core.vpf"] = hasattr(vs.core, "vpf")
    except Exception as exc:  # a broken VapourSynth install is reported, not fatal here
        status["vapoursynth"] = f"unavailable ({exc})"
    return status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpfilters.selfcheck")
    ap.add_argument("--lenient", action="store_true",
                    help="do not fail when the native module or plug-in is missing")
    args = ap.parse_args(argv)
    st = check()
    print(f"vpfilters self-check: backends={','.join(st['backends'])} "
          f"vapoursynth={st['vapoursynth']} core.vpf={'loaded' if st['core.vpf'] else 'MISSING'}")
    if args.lenient:
        return 0
    if "native" not in st["backends"] or not st["core.vpf"]:
        print("error: the native module or the VapourSynth plug-in did not load", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
