"""The main job on the bundled clip: anonymise the faces of ``examples/`` into ``out/demo.mp4``.

Run from the repository root as ``python -m vpfilters.demo`` (``make demo``). Runs
``examples/one-by-one-person-detection.mp4`` through the PyAV host
(:func:`vpfilters.av.transcode`) with the default blur spec (``blur``: faces, fast video mode:
CenterFace at 640 px on every 3rd frame, the frames between covered from the two nearest
detections), encodes libx264 CRF 23 preset veryfast, keeps the source's audio streams (the
bundled clip has none), and writes ``out/demo.mp4`` only when complete. Per-frame boxes and track
ids go to ``out/demo.json``. Prints one summary line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vpfilters.errors import InputError

CLIP_NAME = "one-by-one-person-detection.mp4"
DEFAULT_OUTPUT = Path("out") / "demo.mp4"
DEFAULT_SPEC = "blur"
ENCODE = {"codec": "libx264", "crf": 23, "preset": "veryfast"}


def find_clip() -> Path:
    """The bundled clip: ``examples/`` under the working directory, else beside the package."""
    candidates = [Path.cwd() / "examples" / CLIP_NAME,
                  Path(__file__).resolve().parents[1] / "examples" / CLIP_NAME]
    for c in candidates:
        if c.is_file():
            return c
    raise InputError("the demo clip was not found; run the demo from the repository root "
                     f"(looked in {', '.join(str(c.parent) for c in candidates)})", file=CLIP_NAME)


def run(src: Path, dst: Path, *, spec: str = DEFAULT_SPEC, max_frames: int | None = None,
        progress: bool = True, json_path: Path | None = None) -> dict:
    """Anonymise ``src`` into ``dst`` with ``spec``; returns the transcode summary plus
    ``frames_with_faces`` and ``boxes`` (when ``json_path`` is given)."""
    import json

    from vpfilters.av import transcode

    dst.parent.mkdir(parents=True, exist_ok=True)
    summary = transcode(src, dst, spec, progress=progress, max_frames=max_frames,
                        json_path=json_path, threads=2, **ENCODE)
    if json_path is not None and Path(json_path).is_file():
        frames = json.loads(Path(json_path).read_text())["frames"]
        boxes = [len(f.get("VPFBoxes", [])) // 4 for f in frames]
        summary["frames_with_faces"] = sum(1 for b in boxes if b)
        summary["boxes"] = sum(boxes)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpfilters.demo",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--input", type=Path, default=None,
                    help=f"video to process (default examples/{CLIP_NAME})")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                    help="output mp4 (default out/demo.mp4)")
    ap.add_argument("--spec", default=DEFAULT_SPEC, help="filter spec (default: blur, faces)")
    ap.add_argument("--frames", type=int, default=None, help="stop after N frames")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    src = args.input or find_clip()
    if not src.is_file():
        raise InputError("no such file", file=src)
    json_path = args.output.with_suffix(".json")
    s = run(src, args.output, spec=args.spec, max_frames=args.frames,
            progress=not args.no_progress, json_path=json_path)
    audio = ", ".join(s.get("audio") or []) or "none in the source"
    print(f"demo: {s['frames']} frames, {s['fps']:.1f} FPS, spec '{args.spec}', faces masked on "
          f"{s.get('frames_with_faces', '?')} frames ({s.get('boxes', '?')} boxes), "
          f"{len(s['fail_closed'])} frames failed closed, audio: {audio} -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
