"""Kernel demo on the bundled clip: blur a fixed central region and check the Haar round trip.

Run from the repository root as ``python -m vpfilters.demo`` (``make demo``). Decodes
``examples/one-by-one-person-detection.mp4`` with PyAV, blurs a fixed central region of every plane
in place with :func:`vpfilters.kernels.mask_blur` (Gaussian, feathered), checks that a one-level
Haar forward + inverse gives every plane back bit for bit, and encodes ``out/demo.mp4`` (libx264,
CRF 23, preset veryfast, the input's timestamps). The output appears only when complete.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vpfilters.errors import InputError, OutputError, ProtectionError
from vpfilters.kernels import haar_forward, haar_inverse, mask_blur, select_backend

CLIP_NAME = "one-by-one-person-detection.mp4"
DEFAULT_OUTPUT = Path("out") / "demo.mp4"
REGION = (0.3, 0.1, 0.7, 0.9)  # x1, y1, x2, y2 as fractions of the frame: where people stand
STRENGTH = 8.0                 # Gaussian sigma, luma pixels
FEATHER = 16.0                 # soft edge outside the region, luma pixels
ENCODE = {"codec": "libx264", "pix_fmt": "yuv420p", "options": {"preset": "veryfast", "crf": "23"}}


def find_clip() -> Path:
    """The bundled clip: ``examples/`` under the working directory, else beside the package."""
    candidates = [Path.cwd() / "examples" / CLIP_NAME,
                  Path(__file__).resolve().parents[1] / "examples" / CLIP_NAME]
    for c in candidates:
        if c.is_file():
            return c
    raise InputError("the demo clip was not found; run the demo from the repository root "
                     f"(looked in {', '.join(str(c.parent) for c in candidates)})", file=CLIP_NAME)


def plane_views(frame) -> list[np.ndarray]:
    """Writable (H, W) uint8 views of a yuv420p frame's planes (rows are padded to line_size)."""
    views = []
    for p in frame.planes:
        buf = np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)
        views.append(buf[:, :p.width])
    return views


def process(frame, index: int, boxes: np.ndarray, backend: str | None) -> None:
    """Check the Haar round trip on each plane, then blur the region in place."""
    for name, plane, sub in zip("YUV", plane_views(frame), ((0, 0), (1, 1), (1, 1))):
        back = haar_inverse(haar_forward(plane, 1, backend=backend), backend=backend)
        if not np.array_equal(back, plane):
            raise ProtectionError(f"Haar round trip is not lossless on plane {name}", frame=index)
        mask_blur(plane, boxes, mode="gaussian", strength=STRENGTH, feather=FEATHER,
                  subsampling=sub, out=plane, backend=backend)


def run(src: Path, dst: Path, *, max_frames: int | None = None, backend: str | None = None,
        progress: bool = True) -> tuple[int, float]:
    """Process ``src`` into ``dst``; return (frames, seconds)."""
    import av
    from tqdm import tqdm

    dst.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(dst.parent, os.W_OK):
        raise OutputError(f"the output directory {dst.parent} is not writable", file=dst)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=".part.mp4", dir=dst.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the result is an ordinary output file
    n = 0
    t0 = time.perf_counter()
    try:
        with av.open(str(src)) as inp, av.open(tmp, "w", format="mp4") as out:
            ist = inp.streams.video[0]
            ist.thread_type = "AUTO"
            w, h = ist.codec_context.width, ist.codec_context.height
            x1, y1, x2, y2 = REGION
            boxes = np.array([[x1 * w, y1 * h, x2 * w, y2 * h]])
            ost = out.add_stream(ENCODE["codec"], rate=ist.average_rate or ist.guessed_rate,
                                 options=dict(ENCODE["options"]))
            ost.width, ost.height, ost.pix_fmt = w, h, ENCODE["pix_fmt"]
            ost.time_base = ist.time_base
            for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
                try:  # keep the input's colour description (BT.601 for the bundled clip)
                    setattr(ost.codec_context, attr, getattr(ist.codec_context, attr))
                except (AttributeError, ValueError, TypeError):
                    pass
            total = ist.frames or None
            if max_frames:
                total = min(total, max_frames) if total else max_frames
            bar = tqdm(total=total, unit="frame", desc=f"demo ({backend or 'auto'} kernels)",
                       disable=not progress)
            try:
                for frame in inp.decode(ist):
                    if max_frames and n >= max_frames:
                        break
                    if frame.format.name != "yuv420p":
                        pts, tb = frame.pts, frame.time_base
                        frame = frame.reformat(format="yuv420p")
                        frame.pts, frame.time_base = pts, tb
                    frame.make_writable()  # decoded frames share the decoder's buffers
                    process(frame, n, boxes, backend)
                    frame.pict_type = 0  # let the encoder choose frame types
                    for pkt in ost.encode(frame):
                        out.mux(pkt)
                    n += 1
                    bar.update(1)
                for pkt in ost.encode():
                    out.mux(pkt)
            finally:
                bar.close()
        if n == 0:
            raise InputError("no video frames were decoded", file=src)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return n, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpfilters.demo", description=__doc__.split("\n")[0])
    ap.add_argument("--input", type=Path, default=None, help=f"video to process (default examples/{CLIP_NAME})")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output mp4 (default out/demo.mp4)")
    ap.add_argument("--frames", type=int, default=None, help="stop after N frames")
    ap.add_argument("--backend", default=None, help="kernel backend: numpy, native or cupy (default automatic)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    src = args.input or find_clip()
    if not src.is_file():
        raise InputError("no such file", file=src)
    backend = select_backend(args.backend)
    n, secs = run(src, args.output, max_frames=args.frames, backend=backend,
                  progress=not args.no_progress)
    print(f"demo: {n} frames, {n / secs:.1f} FPS -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
