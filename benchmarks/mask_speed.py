"""End-to-end speed of face masking with the defaults, against deface 1.5 on the same clip.

End to end = decode + detect + mask + encode (``vpfilters.av.transcode`` with the reference
settings of ``benchmarks/clips.py``: libx264 veryfast CRF 23 yuv420p) on the standard clips
(``clean_1080p``, ``noisy_720p`` by default). The spec is the default ``blur`` (targets=face,
mode=fast for video: CenterFace at 640 px on every 3rd frame, frames between covered from the two
nearest detections). Threads are set deliberately for the 2-core machine: onnxruntime intra-op
threads = ``--ort-threads`` (``VPF_THREADS``, default 2, no spinning), decoder and x264 threads =
``--codec-threads`` (default 2).

Each configuration is run ``--repeat`` times, alternating with the others, and the median is
reported (the machine is shared). A breakdown (decode only, decode + encode with fixed boxes,
detection alone on a 640 px frame) shows where the time goes.

deface runs **in the same run on the same clip** from its own virtual environment
(``--deface-venv`` or ``$VPF_PEER_VENV_DEFACE``; skipped with a note when absent), at its defaults
and with ``--replacewith solid``. deface is slow (about 2.6 FPS at 1080p), so it and our figure for
the ratio use the first ``--deface-frames`` frames of the clip (cut with stream copy); its time
includes its start-up (model load), as ours includes ours. deface's FPS without its start-up
(minus its time on a 2-frame cut) and the ratio against that are printed too.

Create deface's venv with::

    python3.12 -m venv /tmp/venv-deface && /tmp/venv-deface/bin/pip install deface==1.5.0 onnxruntime onnx

Usage::

    python benchmarks/mask_speed.py [--clips clean_1080p,noisy_720p] [--repeat 3]
                                    [--deface-venv DIR] [--deface-frames 75] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (REPO_ROOT, ensure_vpfilters_importable, format_machine,  # noqa: E402
                     format_table, machine_info, write_json)
from clips import REFERENCE_ENCODE, ensure_clips  # noqa: E402

ensure_vpfilters_importable()

DEFAULT_SPEC = "blur"


def ours(src: Path, dst: Path, spec: str, codec_threads: int, frames: int | None = None) -> float:
    """End-to-end FPS of vpfilters.av.transcode (wall clock around the whole call)."""
    from vpfilters.av import transcode

    t0 = time.perf_counter()
    s = transcode(src, dst, spec, codec=REFERENCE_ENCODE["codec"], crf=REFERENCE_ENCODE["crf"],
                  preset=REFERENCE_ENCODE["preset"], progress=False, threads=codec_threads,
                  max_frames=frames)
    secs = time.perf_counter() - t0
    if s["fail_closed"]:
        raise RuntimeError(f"{len(s['fail_closed'])} frames failed closed")
    return s["frames"] / secs


def decode_only(src: Path, threads: int, frames: int | None = None) -> float:
    import av

    t0 = time.perf_counter()
    n = 0
    with av.open(str(src)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        st.codec_context.thread_count = threads
        for _ in c.decode(st):
            n += 1
            if frames and n >= frames:
                break
    return n / (time.perf_counter() - t0)


def detect_ms(src: Path, spec_every: int = 3) -> float:
    """Median ms of one fast-mode detection step (640 px, colour conversion included)."""
    import av

    from vpfilters.hosts.pyav import frame_to_core
    from vpfilters.protect.mask import Blur

    with av.open(str(src)) as c:
        avf = next(c.decode(video=0))
    frame = frame_to_core(avf.reformat(format="yuv420p"), 0)[0]
    p = Blur()
    p.analyse(frame)
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        p.analyse(frame)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def cut(src: Path, frames: int, tmp: Path) -> Path:
    out = tmp / f"{src.stem}_{frames}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-frames:v", str(frames),
                    "-c", "copy", str(out)], check=True)
    return out


def deface_secs(venv: Path, src: Path, dst: Path, extra: list[str]) -> float:
    exe = venv / "bin" / "deface"
    t0 = time.perf_counter()
    r = subprocess.run([str(exe), str(src), "-o", str(dst), *extra], capture_output=True,
                       text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    secs = time.perf_counter() - t0
    if r.returncode:
        raise RuntimeError(f"deface failed: {r.stderr[-500:]}")
    return secs


def deface_fps(venv: Path, src: Path, dst: Path, frames: int, extra: list[str],
               startup: float = 0.0) -> tuple[float, float]:
    """deface's FPS on ``src`` (``frames`` frames): wall clock, and without its start-up
    (the time it takes on a 2-frame cut of the same clip: interpreter, model load, ffmpeg)."""
    secs = deface_secs(venv, src, dst, extra)
    return frames / secs, (frames - 2) / max(secs - startup, 1e-9)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", default="clean_1080p,noisy_720p")
    ap.add_argument("--spec", default=DEFAULT_SPEC)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--codec-threads", type=int, default=2)
    ap.add_argument("--ort-threads", type=int, default=None,
                    help="onnxruntime intra-op threads (default $VPF_THREADS or 2)")
    ap.add_argument("--deface-venv", type=Path,
                    default=os.environ.get("VPF_PEER_VENV_DEFACE") or None)
    ap.add_argument("--deface-frames", type=int, default=75)
    ap.add_argument("--no-breakdown", action="store_true")
    ap.add_argument("--json", type=Path,
                    default=REPO_ROOT / "benchmarks" / "results" / "mask_speed.json")
    args = ap.parse_args(argv)
    if args.ort_threads:
        os.environ["VPF_THREADS"] = str(args.ort_threads)
    info = machine_info()
    print(format_machine(info))
    names = [c for c in args.clips.split(",") if c]
    paths = ensure_clips(names)
    deface = args.deface_venv if args.deface_venv and (Path(args.deface_venv) / "bin" /
                                                       "deface").exists() else None
    if deface is None:
        print("note: deface skipped (no venv: give --deface-venv or $VPF_PEER_VENV_DEFACE; "
              "create it with python3.12 -m venv /tmp/venv-deface && /tmp/venv-deface/bin/pip "
              "install deface==1.5.0 onnxruntime onnx)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="vpf-mask-speed-") as td:
        tmp = Path(td)
        for name in names:
            src = paths[name]
            short = cut(src, args.deface_frames, tmp)
            runs: dict[str, list[float]] = {}
            for _ in range(args.repeat):  # alternate the configurations
                runs.setdefault("ours", []).append(
                    ours(src, tmp / "o.mp4", args.spec, args.codec_threads))
                runs.setdefault("ours_short", []).append(
                    ours(short, tmp / "os.mp4", args.spec, args.codec_threads))
                if not args.no_breakdown:
                    runs.setdefault("decode", []).append(decode_only(src, args.codec_threads))
                    runs.setdefault("decode+mask+encode (fixed box)", []).append(
                        ours(src, tmp / "b.mp4", "blur=box=800/300/900/420",
                             args.codec_threads))
            if deface is not None:
                two = cut(src, 2, tmp)
                startup = deface_secs(deface, two, tmp / "d2.mp4", [])
                for key, extra in (("deface", []), ("deface_solid", ["--replacewith", "solid"])):
                    raw, net = deface_fps(deface, short, tmp / "d.mp4", args.deface_frames,
                                          extra, startup)
                    runs[key] = [raw]
                    runs[key + "_net"] = [net]
            med = {k: statistics.median(v) for k, v in runs.items()}
            row = {"clip": name, "spec": args.spec, "fps": med["ours"],
                   "fps_runs": runs["ours"], f"fps_first{args.deface_frames}": med["ours_short"],
                   "deface_fps": med.get("deface"), "deface_solid_fps": med.get("deface_solid"),
                   "deface_fps_no_startup": med.get("deface_net"),
                   "deface_solid_fps_no_startup": med.get("deface_solid_net"),
                   "ratio": med["ours_short"] / med["deface"] if "deface" in med else None,
                   "ratio_vs_no_startup": (med["ours_short"] / med["deface_net"]
                                           if "deface_net" in med else None),
                   "ratio_solid": (med["ours_short"] / med["deface_solid"]
                                   if "deface_solid" in med else None)}
            if not args.no_breakdown:
                row["decode_fps"] = med["decode"]
                row["box_only_fps"] = med["decode+mask+encode (fixed box)"]
                row["detect_ms"] = detect_ms(src)
                row["detect_ms_per_frame"] = row["detect_ms"] / 3
            rows.append(row)
            each = ", ".join(f"{x:.1f}" for x in runs["ours"])
            print(f"  {name}: ours {row['fps']:.1f} FPS (runs {each})"
                  + (f", deface {row['deface_fps']:.2f} FPS, ratio {row['ratio']:.1f}x"
                     if row["ratio"] else ""), flush=True)
    cols = ["clip", "fps", f"fps_first{args.deface_frames}", "deface_fps", "ratio",
            "deface_fps_no_startup", "ratio_vs_no_startup", "deface_solid_fps", "ratio_solid",
            "decode_fps", "box_only_fps", "detect_ms"]
    print(format_table(rows, cols))
    print("bars: >= 25 FPS end-to-end (1080p clean, 720p noisy); >= 8x deface's FPS")
    out = write_json(args.json, {"machine": info, "codec_threads": args.codec_threads,
                                 "rows": rows})
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
