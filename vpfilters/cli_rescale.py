"""`vpf keygen` and `vpf restore`: keys for reversible protection, and exact restore (cl. 6.5)."""

from __future__ import annotations

import sys

PROG = "vpf"


def register(subparsers, commands) -> None:
    k = subparsers.add_parser("keygen", help="make a key file for reversible protection",
                              description="Write a new random 256-bit key to KEYFILE (mode 0600). "
                              "Whoever holds it can undo restore=exact protection: keep it apart "
                              "from the videos.")
    k.add_argument("keyfile", metavar="KEYFILE")
    k.add_argument("--force", action="store_true", help="overwrite an existing file")
    commands["keygen"] = _keygen

    r = subparsers.add_parser("restore", help="undo rescale=...:restore=exact with the key",
                              description="Rebuild the original video from PROTECTED and its "
                              "encrypted restore data. Bit-exact when PROTECTED was stored "
                              "losslessly (ffv1); close after H.264.")
    r.add_argument("protected", metavar="PROTECTED")
    r.add_argument("output", metavar="OUTPUT", help="restored video (.mkv for ffv1)")
    r.add_argument("--key", default=None, metavar="KEY", help="key file (vpf keygen); needed "
                   "for exact restore")
    r.add_argument("--data", default=None, metavar="SIDECAR",
                   help="restore-data sidecar (default: the data embedded in an "
                   "MKV PROTECTED, else PROTECTED.vpfr)")
    r.add_argument("--codec", default="ffv1", help="encoder of OUTPUT (ffv1: lossless)")
    r.add_argument("--crf", type=float, default=18, help="quality for x264/x265 (18)")
    r.add_argument("--learned", type=int, choices=(2, 4), default=None, metavar="FACTOR",
                   help="undo rescale=factor=FACTOR:restore=learned with the bundled network "
                   "(no key or data)")
    r.add_argument("--size", choices=("same", "small"), default="same",
                   help="how the learned output was written (same)")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    commands["restore"] = _restore


def _keygen(args) -> int:
    from vpfilters.protect._restore_data import generate_key

    path = generate_key(args.keyfile, overwrite=args.force)
    print(f"{PROG}: key written -> {path} (keep it secret; it restores protected videos)",
          file=sys.stderr)
    return 0


def _restore(args) -> int:
    from vpfilters.protect.rescale import restore_video

    if args.learned is None and args.key is None:
        from vpfilters.errors import ParameterError

        raise ParameterError("exact restore needs --key KEYFILE (or --learned FACTOR for "
                             "restore=learned output)", parameter="--key")
    s = restore_video(args.protected, args.output, args.key, args.data, codec=args.codec,
                      crf=args.crf, progress=not args.quiet, learned=args.learned,
                      size=args.size)
    print(f"{PROG}: {s['frames']} frames, {s['fps']:.1f} FPS -> {s['output']}", file=sys.stderr)
    return 0
