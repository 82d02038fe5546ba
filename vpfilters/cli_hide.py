"""``vpf extract``: read the payload the ``hide`` protector wrote into a video or image."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def register(subparsers, commands) -> None:
    p = subparsers.add_parser(
        "extract", help="extract a payload hidden with the hide protector",
        description="Read INPUT (video, image) from its first frame on and print the hidden "
        "payload (or write it to --out). Fails with 'no payload found' or 'wrong key'; never "
        "prints unchecked bytes.")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--key", default=None, metavar="KEY",
                   help="passphrase the payload was encrypted with (@FILE reads it from a file)")
    p.add_argument("--out", "-o", default=None, metavar="FILE",
                   help="write the payload bytes here instead of printing them")
    p.add_argument("--mode", choices=("auto", "robust", "capacity"), default="auto")
    p.add_argument("--seed", type=int, default=0, help="layout seed used when hiding (0)")
    p.add_argument("--strength", type=float, default=100.0,
                   help="robust mode: the strength used when hiding (100)")
    p.add_argument("--frames", type=int, default=100, metavar="N",
                   help="give up after N frames (100)")
    commands["extract"] = _extract


def _extract(args) -> int:
    from vpfilters.errors import ParameterError
    from vpfilters.protect.hide import PayloadNotFound, WrongKey, _read_value, extract

    if args.frames < 1:
        raise ParameterError(f"--frames must be >= 1, got {args.frames}", parameter="--frames")
    key = None
    if args.key is not None:
        try:
            key = _read_value(args.key)
        except ValueError as exc:
            raise ParameterError(str(exc), parameter="--key") from None
    t0 = time.monotonic()
    try:
        got = extract(args.input, key, mode=args.mode, seed=args.seed, strength=args.strength,
                      max_frames=args.frames)
    except WrongKey as exc:
        print(f"vpf: {exc.message}", file=sys.stderr)
        return 3
    except PayloadNotFound as exc:
        print(f"vpf: {exc.message}", file=sys.stderr)
        return 4
    if args.out:
        Path(args.out).write_bytes(got.payload)
    else:
        try:
            text = got.payload.decode("utf-8")
            print(text)
        except UnicodeDecodeError:
            print(got.payload.hex())
    extra = f", {got.bit_errors} code bits corrected" if got.bit_errors is not None else ""
    print(f"vpf: {len(got.payload)} bytes ({got.mode} mode{', encrypted' if got.encrypted else ''}"
          f"{extra}) from frame {got.frame}, {got.frames_read} frame"
          f"{'s' if got.frames_read != 1 else ''} read in {time.monotonic() - t0:.2f} s"
          + (f" -> {args.out}" if args.out else ""), file=sys.stderr)
    return 0
