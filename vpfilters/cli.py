"""The ``vpf`` command: protect videos and images, list protectors, describe an input."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import logging
import math
import os
import signal
import sys
from pathlib import Path

from vpfilters.errors import ParameterError, VpfError

PROG = "vpf"

_RANGES = {"1": "limited (tv)", "tv": "limited (tv)", "2": "full (pc)", "pc": "full (pc)",
           "0": "unspecified", "unknown": "unspecified"}
_MATRICES = {"0": "rgb", "1": "bt709", "2": "unspecified", "4": "fcc", "5": "bt470bg (BT.601)",
             "6": "smpte170m (BT.601)", "7": "smpte240m", "9": "bt2020nc", "10": "bt2020c"}


class _Handler(logging.Handler):
    """Warnings as ``vpf: warning: ...`` lines that do not break the progress bar."""

    def emit(self, record):
        try:
            from tqdm import tqdm

            tqdm.write(f"{PROG}: warning: {record.getMessage()}", file=sys.stderr)
        except Exception:  # logging must never take the run down
            self.handleError(record)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=PROG, description="Privacy protection (T/AI 110.2) for videos, images and streams.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("protect", help="protect a video, an image, a folder of images or a stream",
                       description="Decode INPUT, protect every frame with the filter SPEC and "
                       "write OUTPUT. OUTPUT appears only when complete.")
    p.add_argument("input", metavar="INPUT",
                   help="video file, image, folder of images, or rtsp:// udp:// tcp:// URL")
    p.add_argument("output", metavar="OUTPUT", help="output file (a folder for a folder input)")
    p.add_argument("--filter", "-f", dest="spec", required=True, metavar="SPEC",
                   help="filter spec, e.g. 'blur=box=10/10/200/150:strength=20' (see vpf list)")
    p.add_argument("--crf", type=float, default=23, metavar="N", help="encoder quality (23)")
    p.add_argument("--preset", default="veryfast", metavar="P", help="encoder preset (veryfast)")
    p.add_argument("--codec", default="libx264", metavar="C",
                   help="video encoder: libx264 (default), libx265, ffv1, mjpeg ...")
    p.add_argument("--json", dest="json_path", metavar="META.json",
                   help="write the per-frame metadata (VPFBoxes ...) and the summary as JSON")
    p.add_argument("--keep-metadata", action="store_true",
                   help="keep tags (GPS, camera make/serial, dates), data and subtitle streams; "
                   "they are stripped by default")
    p.add_argument("--on-error", choices=("protect", "stop"), default="protect",
                   help="when a protector fails on a frame: hide the whole frame (protect, "
                   "default) or stop with an error")
    p.add_argument("--host", choices=("pyav", "ffmpeg"), default="pyav",
                   help="the engine that decodes and encodes (pyav)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="decoder/encoder threads (automatic)")
    p.add_argument("--frames", type=int, default=None, metavar="N",
                   help="stop after N frames (bounds a live input)")
    p.add_argument("--input-option", dest="input_options", action="append", default=[],
                   metavar="KEY=VALUE",
                   help="an FFmpeg option for opening INPUT, given to either host (repeatable), "
                   "e.g. rtsp_flags=listen to take an RTSP push, rtsp_transport=udp")
    p.add_argument("--open-timeout", type=float, default=None, metavar="S",
                   help="live input: seconds to wait for it to connect or send its first data "
                   "(host default: 10)")
    p.add_argument("--read-timeout", type=float, default=None, metavar="S",
                   help="live input: seconds without data before the run ends (host default: "
                   "pyav 5, ffmpeg 10)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    sub.add_parser("list", help="list every protector with its options and defaults")

    i = sub.add_parser("info", help="describe an input and check the vpfilters install")
    i.add_argument("input", metavar="INPUT")

    for modname in COMMAND_MODULES:
        importlib.import_module(modname).register(sub, COMMANDS)
    return ap


# Technique modules add their own subcommands (restore, keygen, extract, eval, ...): each module has
# ``register(subparsers, commands)`` that adds its parsers and puts ``name -> func(args) -> int``
# into ``commands``. Imported lazily, so `vpf list` stays light.
COMMAND_MODULES: tuple[str, ...] = ("vpfilters.cli_hide", "vpfilters.cli_eval", "vpfilters.cli_rescale")
COMMANDS: dict = {}


# ------------------------------------------------------------------------------------ commands


# the hosts' parameter names -> this command's flags, for their error messages
_FLAGS = {"open_timeout": "--open-timeout", "read_timeout": "--read-timeout",
          "input_options": "--input-option", "input_kwargs": "--input-option",
          "max_frames": "--frames", "json_path": "--json", "threads": "--threads"}


def _input_options(items) -> dict:
    """``--input-option KEY=VALUE`` items as a dict (the last one of a key wins)."""
    opts = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip().lstrip("-")
        if not eq or not key:
            raise ParameterError(f"--input-option takes KEY=VALUE (e.g. rtsp_flags=listen), got "
                                 f"{item!r}", parameter="--input-option")
        opts[key] = value
    return opts


def _protect(args) -> int:
    if args.frames is not None and args.frames < 1:
        raise ParameterError(f"--frames must be >= 1, got {args.frames}", parameter="--frames")
    if args.threads is not None and args.threads < 1:
        raise ParameterError(f"--threads must be >= 1, got {args.threads}", parameter="--threads")
    kw = dict(codec=args.codec, crf=args.crf, preset=args.preset,
              keep_metadata=args.keep_metadata, on_error=args.on_error, progress=not args.quiet,
              max_frames=args.frames)
    for name in ("open_timeout", "read_timeout"):
        value = getattr(args, name)
        if value is not None:
            if not (math.isfinite(value) and value > 0):
                raise ParameterError(f"{_FLAGS[name]} must be a number of seconds > 0, got "
                                     f"{value:g}", parameter=_FLAGS[name])
            kw[name] = value
    options = _input_options(args.input_options)
    try:
        return _run_protect(args, kw, options)
    except VpfError as exc:
        flag = _FLAGS.get(exc.parameter)
        if flag is None:
            raise
        # name the flag the user typed, not the host's parameter
        try:
            renamed = type(exc)(exc.message, file=exc.file, frame=exc.frame, parameter=flag)
        except TypeError:  # an error class with a constructor of its own: keep it as it is
            raise exc from None
        raise renamed from None


def _run_protect(args, kw: dict, options: dict) -> int:
    if args.host == "ffmpeg":
        try:
            from vpfilters.hosts import ffmpeg as host
        except ImportError as exc:
            raise VpfError(f"the ffmpeg host is not available ({exc})",
                           parameter="--host") from None
        # pass only what this host's run() declares (its **kwargs are ffmpeg output options)
        params = inspect.signature(host.run).parameters
        for name, flag in (("json_path", "--json"), ("threads", "--threads")):
            value = getattr(args, name)
            if value is None:
                continue
            if name not in params:
                raise ParameterError(f"{flag} is not supported with --host ffmpeg",
                                     parameter=flag)
            kw[name] = value
        if options:
            kw["input_kwargs"] = options
        summary = host.run(args.input, args.output, args.spec, **kw)
        if not args.quiet:
            return 0  # the ffmpeg host prints the summary line itself when showing progress
    else:
        from vpfilters.hosts.pyav import transcode

        summary = transcode(args.input, args.output, args.spec, json_path=args.json_path,
                            threads=args.threads, input_options=options or None, **kw)
    print(_summary_line(summary, args.output), file=sys.stderr)
    return 0


def _summary_line(summary, output) -> str:
    if not isinstance(summary, dict):
        return f"{PROG}: done -> {output}"
    n = summary.get("frames", 0)
    line = (f"{PROG}: {n} frame{'s' if n != 1 else ''}, {float(summary.get('fps') or 0):.1f} FPS"
            f" -> {summary.get('output', output)}")
    failed = summary.get("fail_closed") or summary.get("failed_frames") or []
    if failed:
        line += f" ({len(failed)} frame{'s' if len(failed) != 1 else ''} fail-closed: hidden whole)"
    if summary.get("truncated"):
        line += f" (input truncated; last good frame {summary.get('last_good_frame', n - 1)})"
    return line


def _fmt_default(v) -> str:
    if v is None:
        return "auto"
    if isinstance(v, (list, tuple)):
        if len(v) == 3 and all(isinstance(c, int) for c in v):
            return "#%02x%02x%02x" % tuple(v)
        return "+".join(map(str, v)) or "none"
    return str(v)


def _list(args) -> int:
    from vpfilters.core import describe

    items = describe()
    if not items:
        print("no protectors are installed")
        return 0
    for item in items:
        print(f"{item['name']}: {item['summary']}".rstrip(": "))
        width = max((len(o["name"]) for o in item["options"]), default=0)
        for o in item["options"]:
            extra = f" (one of {', '.join(map(str, o['choices']))})" if o["choices"] else ""
            print(f"    {o['name']:<{width}}  default {_fmt_default(o['default'])}: "
                  f"{o['help']}{extra}")
    return 0


def _info(args) -> int:
    from vpfilters.hosts import _io

    src = args.input
    p = Path(src)
    if not _io.is_live(src) and _io.check_input(src).is_dir():
        images = sorted(x.name for x in p.iterdir() if x.is_file() and _io.is_image(x))
        print(f"{src}: folder of {len(images)} image{'s' if len(images) != 1 else ''}")
    else:
        pr = _io.probe(src)
        fps = f"{float(pr.fps):.3f}".rstrip("0").rstrip(".") if pr.fps else "?"
        print(f"{src}")
        print(f"  video     {pr.codec} {pr.width}x{pr.height} {pr.pix_fmt}")
        print(f"  rate      {fps} fps")
        print(f"  frames    {pr.num_frames if pr.num_frames is not None else '?'}"
              + (f" ({pr.duration:.2f} s)" if pr.duration else ""))
        print(f"  audio     {'yes' if pr.has_audio else 'no'}")
        mirror = ", then mirrored left-right" if getattr(pr, "mirrored", False) else ""
        print(f"  rotation  {pr.rotation} degrees clockwise for display{mirror}")
        print(f"  range     {_RANGES.get(str(pr.color_range), pr.color_range or 'unspecified')}")
        matrix = _MATRICES.get(str(pr.color_matrix), pr.color_matrix or "unspecified")
        print(f"  matrix    {matrix}")
    from vpfilters import __version__
    from vpfilters.core import names
    from vpfilters.selfcheck import check

    st = check()
    print(f"vpfilters {__version__}: backends={','.join(st['backends'])} "
          f"vapoursynth={st['vapoursynth']} core.vpf={'loaded' if st['core.vpf'] else 'MISSING'}")
    print(f"protectors: {', '.join(names()) or '(none)'}")
    return 0


# ------------------------------------------------------------------------------------ entry


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: argparse prints them and exits 2
    logger = logging.getLogger("vpfilters")
    handler = _Handler(logging.WARNING)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        commands = {"protect": _protect, "list": _list, "info": _info, **COMMANDS}
        return commands[args.command](args)
    except ParameterError as exc:  # SpecError included: the command line was wrong
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except VpfError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `vpf list | head`
        with contextlib.suppress(Exception):
            sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt as exc:
        out = getattr(args, "output", None)
        tail = f"; nothing was written to {out}" if out else ""
        print(f"\n{PROG}: interrupted{tail}", file=sys.stderr)
        # atomic_output turns SIGTERM into KeyboardInterrupt("signal 15")
        return 128 + signal.SIGTERM if str(exc) == f"signal {int(signal.SIGTERM)}" else 130
    finally:
        logger.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
