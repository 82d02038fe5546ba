"""The standard test clips of every vpfilters benchmark, and the reference encode settings.

Every clip starts from the first 300 frames of the Intel sample video
``intel_sample_videos/one-by-one-person-detection.mp4`` (768x432, 10 fps, H.264, CC BY 4.0),
scaled with bicubic to 1920x1080 or 1280x720 and played at 25 fps (the same 300 frames, retimed:
12 s). ``noisy_*`` variants add seeded Gaussian noise of sigma 3 code values before encoding.
All clips are encoded with :data:`REFERENCE_ENCODE`, the settings every end-to-end figure uses.

Clips are built on demand into a cache folder (``$VPF_CLIPS_DIR``, default ``benchmarks/clips/``,
git-ignored) and reused while their settings are unchanged::

    from clips import ensure_clips, clip_path, REFERENCE_ENCODE
    paths = ensure_clips(["clean_1080p"])        # {"clean_1080p": Path(...)}

Command line: ``python benchmarks/clips.py [--list] [--frames N] [--dir DIR] [--force] [names...]``.

Pipeline (one clip): ``ffmpeg`` decodes and scales the source to raw yuv420p on a pipe; Python adds
the noise (numpy, per frame, seeded by (seed, frame index)) on all three planes; a second
``ffmpeg`` encodes the raw frames with :data:`REFERENCE_ENCODE` at 25 fps. ffmpeg's own ``noise``
filter is uniform, not Gaussian, hence numpy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

try:
    from _common import REPO_ROOT, shared_data_dir
except ImportError:  # imported from elsewhere (tests, other tools): find the helper beside us
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import REPO_ROOT, shared_data_dir

#: Encoder settings of every end-to-end figure (clips, demo, host benchmarks).
REFERENCE_ENCODE = {"codec": "libx264", "preset": "veryfast", "crf": 23, "pix_fmt": "yuv420p"}

SOURCE = "intel_sample_videos/one-by-one-person-detection.mp4"  # relative to the shared data dir
SOURCE_FRAMES = 300
CLIP_FPS = 25
NOISE_SIGMA = 3.0
NOISE_SEED = 1102  # any fixed value; changing it changes every noisy clip

# The source is BT.601 limited range; scaling keeps the samples, so the clips say so too.
COLOR_TAGS = {"color_range": "tv", "colorspace": "smpte170m", "color_primaries": "smpte170m",
              "color_trc": "smpte170m"}


@dataclass(frozen=True)
class ClipSpec:
    """How one standard clip is made."""

    name: str
    width: int
    height: int
    noise_sigma: float = 0.0
    noise_seed: int = NOISE_SEED
    fps: int = CLIP_FPS
    frames: int = SOURCE_FRAMES
    source: str = SOURCE
    scale_flags: str = "bicubic"


CLIPS: dict[str, ClipSpec] = {
    s.name: s for s in (
        ClipSpec("clean_1080p", 1920, 1080),
        ClipSpec("noisy_1080p", 1920, 1080, noise_sigma=NOISE_SIGMA),
        ClipSpec("clean_720p", 1280, 720),
        ClipSpec("noisy_720p", 1280, 720, noise_sigma=NOISE_SIGMA),
    )
}


def reference_encode_args(settings: dict | None = None) -> list[str]:
    """:data:`REFERENCE_ENCODE` as ffmpeg command-line output options."""
    s = settings or REFERENCE_ENCODE
    return ["-c:v", s["codec"], "-preset", s["preset"], "-crf", str(s["crf"]),
            "-pix_fmt", s["pix_fmt"]]


def reference_encode_av(settings: dict | None = None) -> tuple[str, str, dict]:
    """:data:`REFERENCE_ENCODE` for PyAV: ``(codec, pix_fmt, options)`` for ``add_stream``."""
    s = settings or REFERENCE_ENCODE
    return s["codec"], s["pix_fmt"], {"preset": s["preset"], "crf": str(s["crf"])}


def clips_dir(path=None) -> Path:
    """The clip cache: ``path``, else ``$VPF_CLIPS_DIR``, else ``benchmarks/clips/``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("VPF_CLIPS_DIR")
    return Path(env) if env else REPO_ROOT / "benchmarks" / "clips"


def _spec(name: str, frames: int | None) -> ClipSpec:
    try:
        spec = CLIPS[name]
    except KeyError:
        raise ValueError(f"unknown clip {name!r}; known: {', '.join(CLIPS)}") from None
    if frames is not None:
        if not 1 <= int(frames) <= SOURCE_FRAMES:
            raise ValueError(f"frames must be in 1..{SOURCE_FRAMES}, got {frames}")
        spec = ClipSpec(**{**asdict(spec), "frames": int(frames)})
    return spec


def clip_path(name: str, *, frames: int | None = None, directory=None) -> Path:
    """Where clip ``name`` lives in the cache (it may not be built yet: see :func:`ensure_clips`).

    Shortened clips (``frames`` other than 300, for tests) get their own file name, so they never
    replace a standard clip.
    """
    spec = _spec(name, frames)
    suffix = "" if spec.frames == SOURCE_FRAMES else f"_{spec.frames}f"
    return clips_dir(directory) / f"{spec.name}{suffix}.mp4"


def _settings(spec: ClipSpec) -> dict:
    """Everything that determines a clip's content; a cached clip is reused only if it matches."""
    return {"clip": asdict(spec), "encode": dict(REFERENCE_ENCODE), "color": dict(COLOR_TAGS)}


def _manifest_path(clip: Path) -> Path:
    return clip.with_suffix(".json")


def is_current(name: str, *, frames: int | None = None, directory=None) -> bool:
    """True when the cached clip exists and was built with today's settings."""
    clip = clip_path(name, frames=frames, directory=directory)
    man = _manifest_path(clip)
    if not clip.is_file() or clip.stat().st_size == 0 or not man.is_file():
        return False
    try:
        return json.loads(man.read_text(encoding="utf-8")).get("settings") == _settings(
            _spec(name, frames))
    except (OSError, ValueError):
        return False


def add_noise(planes: np.ndarray, sigma: float, seed: int, index: int) -> np.ndarray:
    """Add Gaussian noise of ``sigma`` code values to a uint8 frame buffer (all planes), in place.

    The generator is seeded by ``(seed, index)``, so frame ``index`` gets the same noise whatever
    the clip length or the order frames are made in.
    """
    rng = np.random.default_rng([int(seed), int(index)])
    noise = rng.standard_normal(planes.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    noise += planes
    np.rint(noise, out=noise)
    np.clip(noise, 0, 255, out=noise)
    planes[...] = noise
    return planes


def _ffmpeg() -> str:
    ff = shutil.which("ffmpeg")
    if ff is None:
        raise RuntimeError("ffmpeg is not on PATH (Debian: apt-get install ffmpeg)")
    return ff


def _read_exact(stream, buf: memoryview) -> int:
    got = 0
    while got < len(buf):
        n = stream.readinto(buf[got:])
        if not n:
            break
        got += n
    return got


def build_clip(name: str, *, frames: int | None = None, directory=None, progress=None) -> Path:
    """Build one clip (always; :func:`ensure_clips` skips current ones). Returns its path.

    The mp4 and its manifest (``<clip>.json``: settings, ffmpeg version, build time) appear only
    when complete.
    """
    spec = _spec(name, frames)
    src = shared_data_dir() / spec.source
    if not src.is_file():
        raise FileNotFoundError(f"clip source {src} is missing (set VPF_SHARED_DATA to the shared "
                                "data folder)")
    out = clip_path(name, frames=frames, directory=directory)
    out.parent.mkdir(parents=True, exist_ok=True)
    ff = _ffmpeg()
    w, h = spec.width, spec.height
    frame_bytes = w * h * 3 // 2
    dec_cmd = [ff, "-nostdin", "-v", "error", "-i", str(src), "-map", "0:v:0",
               "-frames:v", str(spec.frames), "-vf", f"scale={w}:{h}:flags={spec.scale_flags}",
               "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".part.mp4", dir=out.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared like any build output
    color = [a for k, v in COLOR_TAGS.items() for a in (f"-{k}", v)]
    enc_cmd = [ff, "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
               "-s", f"{w}x{h}", "-framerate", str(spec.fps), "-i", "pipe:0",
               *reference_encode_args(), *color, "-an", "-map_metadata", "-1",
               "-movflags", "+faststart", "-f", "mp4", tmp]
    t0 = time.perf_counter()
    buf = np.empty(frame_bytes, np.uint8)
    view = memoryview(buf)
    n = 0
    with tempfile.TemporaryFile() as dec_err, tempfile.TemporaryFile() as enc_err:
        dec = subprocess.Popen(dec_cmd, stdout=subprocess.PIPE, stderr=dec_err)
        enc = subprocess.Popen(enc_cmd, stdin=subprocess.PIPE, stderr=enc_err)
        try:
            while n < spec.frames and _read_exact(dec.stdout, view) == frame_bytes:
                if spec.noise_sigma > 0:
                    add_noise(buf, spec.noise_sigma, spec.noise_seed, n)
                enc.stdin.write(view)
                n += 1
                if progress is not None:
                    progress(n, spec.frames)
            enc.stdin.close()
            dec.stdout.close()
            rc_enc, rc_dec = enc.wait(), dec.wait()
            if n != spec.frames or rc_enc or rc_dec:
                dec_err.seek(0)
                enc_err.seek(0)
                raise RuntimeError(
                    f"building clip {name}: got {n}/{spec.frames} frames, decoder rc {rc_dec}, "
                    f"encoder rc {rc_enc}\n{dec_err.read().decode(errors='replace')}"
                    f"{enc_err.read().decode(errors='replace')}")
            os.replace(tmp, out)
        finally:
            for p in (dec, enc):
                if p.poll() is None:
                    p.kill()
                    p.wait()
            if os.path.exists(tmp):
                os.unlink(tmp)
    seconds = time.perf_counter() - t0
    version = subprocess.run([ff, "-hide_banner", "-version"], capture_output=True,
                             text=True).stdout.splitlines()[0]
    manifest = {"settings": _settings(spec), "ffmpeg": version, "build_seconds": round(seconds, 2),
                "bytes": out.stat().st_size}
    man = _manifest_path(out)
    man_tmp = man.with_suffix(".json.part")
    man_tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(man_tmp, man)
    return out


def ensure_clips(names=None, *, frames: int | None = None, directory=None, force: bool = False,
                 verbose: bool = False) -> dict[str, Path]:
    """Build the clips ``names`` (all standard clips when None) unless current; return their paths."""
    names = list(CLIPS) if names is None else ([names] if isinstance(names, str) else list(names))
    for nm in names:
        _spec(nm, frames)  # reject unknown names before any work
    paths = {}
    for nm in names:
        if force or not is_current(nm, frames=frames, directory=directory):
            progress = None
            if verbose:
                from tqdm import tqdm
                bar = tqdm(total=_spec(nm, frames).frames, desc=nm, unit="f", leave=False)
                progress = lambda i, total, bar=bar: bar.update(1)  # noqa: E731
            t0 = time.perf_counter()
            try:
                path = build_clip(nm, frames=frames, directory=directory, progress=progress)
            finally:
                if verbose:
                    bar.close()
            if verbose:
                print(f"{nm}: built in {time.perf_counter() - t0:.1f} s, "
                      f"{path.stat().st_size / 1e6:.1f} MB -> {path}")
        elif verbose:
            print(f"{nm}: up to date -> {clip_path(nm, frames=frames, directory=directory)}")
        paths[nm] = clip_path(nm, frames=frames, directory=directory)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/clips.py",
                                 description="Build (if missing) and list the standard test clips.")
    ap.add_argument("names", nargs="*", help=f"clips to build (default all): {', '.join(CLIPS)}")
    ap.add_argument("--list", action="store_true", help="list the clips and their state, build nothing")
    ap.add_argument("--frames", type=int, default=None,
                    help=f"first N source frames only (default {SOURCE_FRAMES}; for quick tests)")
    ap.add_argument("--dir", default=None, help="cache folder (default $VPF_CLIPS_DIR or benchmarks/clips)")
    ap.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in CLIPS]
    if unknown:
        ap.error(f"unknown clip(s) {', '.join(unknown)}; known: {', '.join(CLIPS)}")
    names = args.names or list(CLIPS)
    if args.list:
        enc = " ".join(f"{k}={v}" for k, v in REFERENCE_ENCODE.items())
        print(f"reference encode: {enc}; source: {SOURCE} (first frames, retimed to {CLIP_FPS} fps)")
        for nm in names:
            s = _spec(nm, args.frames)
            state = "built" if is_current(nm, frames=args.frames, directory=args.dir) else "missing"
            print(f"{nm:12s} {s.width}x{s.height} {s.frames} frames @ {s.fps} fps, "
                  f"noise sigma {s.noise_sigma:g}: {state} "
                  f"({clip_path(nm, frames=args.frames, directory=args.dir)})")
        return 0
    t0 = time.perf_counter()
    paths = ensure_clips(names, frames=args.frames, directory=args.dir, force=args.force,
                         verbose=True)
    print(f"clips: {len(paths)} ready in {time.perf_counter() - t0:.1f} s -> "
          f"{clips_dir(args.dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
