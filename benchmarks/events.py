"""Event-stream benchmark: FPS end to end, colour-step time, sparsity, size, round trip, privacy.

Sections (each prints a table; everything goes to ``benchmarks/results/events.json``):

``e2e``
    ``vpfilters.av.transcode(clip, events.mp4, "events=colors=...")`` on the standard clips
    (decode + flow + colour + x264 encode with :data:`clips.REFERENCE_ENCODE`, 2 codec threads,
    1 OpenCV thread): FPS (wall clock, and 2 / CPU-seconds per frame, which does not depend on
    what else the machine runs), mean sparsity (share of lit pixels of the output) and the size
    of the event video against the clip itself (which was encoded with the same settings). On
    clean_1080p also ``block=0`` (per-pixel colour) and ``block=16``, for the size trade-off.
``kernel``
    Time of the colour step per frame: ``flow_to_color`` (static pixels masked in the kernel) at
    flow resolution; the default block path (block flow, colour, write planes); the per-pixel
    path with bilinear up-sampling of the codes (``upsample=color``) or of the flow
    (``upsample=flow``), on each available backend; the flow step (DIS) alone.
``roundtrip``
    Munsell (and the other systems): the event frames are decoded back with
    :func:`vpfilters.protect.events.decode_events` before the codec (the protector's YUV output)
    and after H.264 CRF 23 (the e2e video), and the decoded direction is compared with the flow
    the protector coloured (:meth:`Events.coloured_flow`, on pixels that move and decode as
    moving, away from the edges of the moving area): median and 90th-percentile angle error in
    degrees, and the share of moving pixels that decode as black; ``median_deg_vs_pixel_flow``
    compares with the per-pixel flow instead (what block averaging loses included).
``privacy``
    Faces found by :mod:`vpfilters.detect` (fast mode) in the source and in the event video, on the
    shared clips with faces (``intel_sample_videos/preview/*.gif``).

``stills``
    ``docs/events_<system>.png``: one event frame of clean_720p (480 px wide) with the system's
    colour wheel as legend (direction around, speed outwards), for the README.

Usage: ``python benchmarks/events.py [--frames N] [--sections e2e,kernel,roundtrip,privacy,stills]
[--colors munsell,...] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (REPO_ROOT, ensure_vpfilters_importable, format_machine, format_table,
                     machine_info, measure, shared_data_dir, write_json)
from clips import REFERENCE_ENCODE, ensure_clips

ensure_vpfilters_importable()

import av
import cv2

from vpfilters.core import FrameContext, StreamInfo, register
from vpfilters.hosts.pyav import frame_to_core, transcode
from vpfilters.kernels import available_backends, flow_to_color
from vpfilters.protect import _colorsystems as cs
from vpfilters.protect.events import (
    MOVING_MIN,
    Events,
    decode_events,
    write_blocks,
    write_colors,
)

register(Events)  # works before the entry point is in pyproject.toml

#: Settings shown beside the default on the clip of the size bar: the per-pixel picture (no
#: blocks: what the protector made before blocks) and smaller blocks, for the size trade-off.
EXTRA = (("munsell block=0", "events=colors=munsell:block=0"),
         ("munsell block=16", "events=colors=munsell:block=16"))
CLIPS = ("clean_1080p", "noisy_720p", "noisy_1080p", "clean_720p")
FACE_CLIPS = ("preview/face-demographics-walking.gif",
              "preview/head-pose-face-detection-female-and-male.gif", "preview/classroom.gif")


def _decoded_frames(path, limit=None):
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if limit is not None and i >= limit:
                return
            yield frame_to_core(f, i)[0].copy()


# ------------------------------------------------------------------------------------ e2e


def run_e2e(clips: dict, colors_list, frames, outdir: Path) -> list[dict]:
    rows = []
    for name, path in clips.items():
        variants = [(c, f"events=colors={c}") for c in colors_list]
        if "munsell" in colors_list:
            variants += EXTRA
        for colors, spec in variants:
            if colors != "munsell" and name != "clean_1080p":
                continue  # the other systems once, on the clip the size bar is about
            tag = colors.replace(" ", "_")
            dst = outdir / f"events_{name}_{tag}.mp4"
            jp = outdir / f"events_{name}_{tag}.json"
            cpu0 = _cpu_seconds()
            r = transcode(path, dst, spec, codec=REFERENCE_ENCODE["codec"],
                          crf=REFERENCE_ENCODE["crf"], preset=REFERENCE_ENCODE["preset"],
                          threads=2, progress=False, json_path=jp, max_frames=frames)
            recs = json.loads(jp.read_text())
            recs = recs.get("frames", recs) if isinstance(recs, dict) else recs
            sp = [x.get("props", x).get("VPFEventSparsity") for x in recs if isinstance(x, dict)]
            sp = [s for s in sp if s is not None]
            cpu = (_cpu_seconds() - cpu0) / max(r["frames"], 1)
            src_bytes = path.stat().st_size
            if frames:
                src_bytes = _reencoded_size(path, frames, outdir)
            rows.append({"clip": name, "colors": colors, "frames": r["frames"], "fps": r["fps"],
                         "cpu_ms_per_frame": cpu * 1e3, "fps_2_idle_cores": 2.0 / cpu,
                         "load_avg": os.getloadavg()[0], "pix_fmt": r["pix_fmt"], "sparsity": float(np.mean(sp)) if sp else None,
                         "event_kB": dst.stat().st_size / 1e3, "source_kB": src_bytes / 1e3,
                         "size_ratio": dst.stat().st_size / src_bytes, "video": str(dst)})
            print(f"  {name} {colors}: {r['fps']:.1f} fps", flush=True)
    return rows


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (decoder, encoder, OpenCV), user + system."""
    t = os.times()
    return t.user + t.system


def _reencoded_size(path, frames, outdir) -> int:
    """Size of the first ``frames`` of the clip re-encoded with the reference settings."""
    dst = outdir / f"source_{path.stem}_{frames}f.mp4"
    if not dst.exists():
        transcode(path, dst, "fill=box=0/0/1/1:color=black", codec=REFERENCE_ENCODE["codec"],
                  crf=REFERENCE_ENCODE["crf"], preset=REFERENCE_ENCODE["preset"], threads=2,
                  progress=False, max_frames=frames)
    return dst.stat().st_size


# ------------------------------------------------------------------------------------ kernel


def run_kernel(clip: Path, repeat: int) -> list[dict]:
    frames = list(_decoded_frames(clip, 62))
    ev = Events()
    ev.open(StreamInfo(frames[0].width, frames[0].height, frames[0].format))
    n = 61
    ctx = FrameContext(n, lambda m: frames[m], ev.window)
    flow = ev.motion(frames[n], ctx)
    grid, block = ev.block_flow(frames[n], ctx)
    lut = cs.code_table("munsell", "yuv", frames[n].matrix, frames[n].full_range)
    rows = []
    a, b = ev.small_luma(frames[n - 1]), ev.small_luma(frames[n])
    t = measure(lambda: ev.flow_source(a, b), repeat=repeat)
    rows.append({"step": f"DIS {ev.opts['preset']} flow {a.shape[1]}x{a.shape[0]}", "backend": "opencv",
                 "median_ms": t.median_ms})
    t = measure(lambda: ev.motion(frames[n], FrameContext(n, lambda m: frames[m], ev.window)) if
                ev._flows.clear() is None else None, repeat=repeat)  # two pairs (persist)
    rows.append({"step": "flow + mask, 2 pairs uncached", "backend": "opencv", "median_ms": t.median_ms})
    t = measure(lambda: ev.block_flow(frames[n], FrameContext(n, lambda m: frames[m], ev.window)),
                repeat=repeat)
    rows.append({"step": "block flow (pairs cached)", "backend": "numpy", "median_ms": t.median_ms})
    for backend in available_backends():
        if backend == "cupy":
            continue
        os.environ["VPF_BACKEND"] = backend
        out = frames[n].copy()
        t = measure(lambda b=backend: flow_to_color(flow, lut, 24.0, min_mag=MOVING_MIN,
                                                    backend=b), repeat=repeat)
        rows.append({"step": f"flow_to_color {flow.shape[1]}x{flow.shape[0]} (static masked)",
                     "backend": backend, "median_ms": t.median_ms})
        t = measure(lambda o=out: write_blocks(o, grid, block, lut, 24.0), repeat=repeat)
        rows.append({"step": f"colour {grid.shape[1]}x{grid.shape[0]} blocks of {block} + write "
                     "planes (default)", "backend": backend, "median_ms": t.median_ms})
        for up in ("color", "flow"):
            t = measure(lambda up=up, o=out: write_colors(o, flow, lut, 24.0, up), repeat=repeat,
                        budget_s=5)
            rows.append({"step": f"colour + write planes, block=0, upsample={up}",
                         "backend": backend, "median_ms": t.median_ms})
    os.environ.pop("VPF_BACKEND", None)
    return rows


# ------------------------------------------------------------------------------------ round trip


def _angle_errors(truth_flow, frame, colors, moving):
    ang, spd = decode_events(frame, colors)
    tu, tv = truth_flow[..., 0], truth_flow[..., 1]
    true_ang = np.arctan2(tv, tu) % (2 * np.pi)
    dec = moving & (spd > 0)
    err = np.abs(((ang[dec] - true_ang[dec]) + np.pi) % (2 * np.pi) - np.pi)
    return np.degrees(err), float(np.mean(~(spd[moving] > 0))) if moving.any() else 0.0


def run_roundtrip(clip: Path, video_for: dict, colors_list, frames: int, **opts) -> list[dict]:
    """Decode each event frame, before and after the codec, against the protector's flow.

    The truth is the flow each pixel was coloured with (:meth:`Events.coloured_flow`: the block's
    mean flow by default); ``median_deg_vs_pixel_flow`` compares the decoded direction with the
    per-pixel flow instead (the reduced flow up-sampled), i.e. it includes what block averaging
    loses.
    """
    rows = []
    src = list(_decoded_frames(clip, frames))
    for colors in colors_list:
        ev = Events(colors=colors, **opts)
        ev.open(StreamInfo(src[0].width, src[0].height, src[0].format))
        coded = list(_decoded_frames(video_for[colors], frames)) if colors in video_for else None
        before, after, black_b, black_a, vs_pixel = [], [], [], [], []
        for n in range(1, len(src)):
            ctx = FrameContext(n, lambda m: src[m], ev.window)
            truth = ev.coloured_flow(src[n], ctx)
            out = ev.process(src[n].copy(), ctx)
            h, w = out.height, out.width
            moving = ((truth[..., 0] != 0) | (truth[..., 1] != 0)).astype(np.uint8)
            # score pixels inside the moving area, away from its border (blended by up-sampling,
            # or by the codec's 4:2:0 chroma)
            moving = cv2.erode(moving, np.ones((5, 5) if ev.opts["block"] != 0 else (9, 9),
                                               np.uint8)).astype(bool)
            if not moving.any():
                continue
            e, blk = _angle_errors(truth, out, colors, moving)
            before.append(e)
            black_b.append(blk)
            flow = ev.motion(src[n], ctx)
            pix = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
            both = moving & ((pix[..., 0] != 0) | (pix[..., 1] != 0))
            if both.any():
                vs_pixel.append(_angle_errors(pix, out, colors, both)[0])
            if coded is not None and n < len(coded):
                e, blk = _angle_errors(truth, coded[n], colors, moving)
                after.append(e)
                black_a.append(blk)
        b = np.concatenate(before) if before else np.zeros(0)
        a = np.concatenate(after) if after else np.zeros(0)
        px = np.concatenate(vs_pixel) if vs_pixel else np.zeros(0)
        rows.append({"colors": colors, "frames": len(before), "pixels": int(b.size),
                     "median_deg_before": float(np.median(b)) if b.size else None,
                     "median_deg_vs_pixel_flow": float(np.median(px)) if px.size else None,
                     "p90_deg_before": float(np.percentile(b, 90)) if b.size else None,
                     "median_deg_h264": float(np.median(a)) if a.size else None,
                     "p90_deg_h264": float(np.percentile(a, 90)) if a.size else None,
                     "black_share_h264": float(np.mean(black_a)) if black_a else None})
        print(f"  round trip {colors}: done", flush=True)
    return rows


# ------------------------------------------------------------------------------------ privacy


def run_privacy(outdir: Path, frames: int, every: int) -> list[dict]:
    try:
        from vpfilters.detect import detect
    except ImportError as exc:
        print(f"  privacy: vpfilters.detect unavailable ({exc})")
        return []
    rows = []
    for rel in FACE_CLIPS:
        src = shared_data_dir() / "intel_sample_videos" / rel
        if not src.is_file():
            continue
        dst = outdir / f"events_{Path(rel).stem}.mp4"
        transcode(src, dst, "events", codec="libx264", crf=23, preset="veryfast", threads=2,
                  progress=False, max_frames=frames)
        counts = []
        for path in (src, dst):
            n_faces = 0
            for i, fr in enumerate(_decoded_frames(path, frames)):
                if i % every == 0:
                    n_faces += len(detect(fr, "face", mode="fast"))
            counts.append(n_faces)
        rows.append({"clip": Path(rel).name, "faces_source": counts[0], "faces_events": counts[1],
                     "share": counts[1] / counts[0] if counts[0] else None})
        print(f"  privacy {Path(rel).name}: {counts}", flush=True)
    return rows


# ------------------------------------------------------------------------------------ stills


def write_stills(clip: Path, colors_list, index: int = 250, width: int = 480) -> list[str]:
    """docs/events_<system>.png: one event frame of ``clip`` with the system's wheel as legend."""
    from PIL import Image

    frames = list(_decoded_frames(clip, index + 1))[index - 2:]
    paths = []
    for colors in colors_list:
        ev = Events(colors=colors)
        ev.open(StreamInfo(frames[0].width, frames[0].height, frames[0].format))
        out = ev.process(frames[2].copy(),
                         FrameContext(index, lambda m: frames[m - index + 2], ev.window))
        y = out.planes[0]
        u, v = (cv2.resize(p, (out.width, out.height), interpolation=cv2.INTER_NEAREST)
                for p in out.planes[1:])
        rgb = _yuv_to_rgb(y, u, v, out)
        h = round(out.height * width / out.width)
        pic = cv2.resize(rgb, (width, h), interpolation=cv2.INTER_AREA)
        leg = 96
        pic[h - leg - 6:h - 6, width - leg - 6:width - 6] = np.maximum(
            pic[h - leg - 6:h - 6, width - leg - 6:width - 6], _wheel(colors, leg))
        path = REPO_ROOT / "docs" / f"events_{colors}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pic).save(path, optimize=True)
        paths.append(str(path))
    return paths


def _wheel(colors, size):
    from vpfilters.protect.events import color_wheel

    return color_wheel(colors, size)


def _yuv_to_rgb(y, u, v, frame):
    kr, kb = cs._KR_KB[frame.matrix]
    y, u, v = (p.astype(np.float32) for p in (y, u, v))
    if frame.full_range:
        yn, cb, cr = y / 255, (u - 128) / 255, (v - 128) / 255
    else:
        yn, cb, cr = (y - 16) / 219, (u - 128) / 224, (v - 128) / 224
    rgb = cs._ycbcr_to_rgb(yn, cb, cr, kr, kb)
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------ main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=None, help="frames per clip (default all 300)")
    ap.add_argument("--sections", default="e2e,kernel,roundtrip,privacy,stills")
    ap.add_argument("--colors", default=",".join(cs.SYSTEMS))
    ap.add_argument("--clips", default=",".join(CLIPS))
    ap.add_argument("--roundtrip-frames", type=int, default=100,
                    help="frames of the round-trip section (default 100)")
    ap.add_argument("--privacy-every", type=int, default=5, help="detect on every k-th frame")
    ap.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "events.json"))
    args = ap.parse_args(argv)
    sections = args.sections.split(",")
    colors_list = args.colors.split(",")
    cv2.setNumThreads(1)
    info = machine_info()
    print(format_machine(info))
    clips = ensure_clips(args.clips.split(","))
    result = {"machine": info, "encode": REFERENCE_ENCODE, "frames": args.frames}
    outdir = Path(tempfile.mkdtemp(prefix="vpf-events-"))
    t0 = time.perf_counter()
    if "e2e" in sections:
        rows = run_e2e(clips, colors_list, args.frames, outdir)
        result["e2e"] = rows
        print("\nEnd to end (PyAV decode + events + libx264 CRF 23 veryfast; size vs the source at "
              "equal settings)")
        print(format_table(rows, ["clip", "colors", "frames", "fps", "cpu_ms_per_frame",
                                  "fps_2_idle_cores", "load_avg", "pix_fmt", "sparsity",
                                  "event_kB", "source_kB", "size_ratio"]))
        print("fps: wall clock as measured; fps_2_idle_cores = 2 / CPU seconds per frame, the "
              "rate two idle cores would give if all work ran in parallel (an upper bound; a "
              "shared machine's wall-clock rate is a lower bound)")
    if "kernel" in sections:
        rows = run_kernel(clips.get("clean_1080p") or next(iter(clips.values())), 30)
        result["kernel"] = rows
        print("\nColour step on a 1080p frame (ms per frame)")
        print(format_table(rows, ["step", "backend", "median_ms"]))
    if "roundtrip" in sections:
        clip = "clean_1080p" if "clean_1080p" in clips else next(iter(clips))
        videos = {r["colors"]: Path(r["video"]) for r in result.get("e2e", [])
                  if r["clip"] == clip}
        rows = run_roundtrip(clips[clip], videos, colors_list,
                             min(args.frames or 300, args.roundtrip_frames))
        if "munsell" in colors_list:  # the block choice (with the videos of the e2e variants)
            for label, opts in (("munsell block=0", {"block": 0}),
                                ("munsell block=16", {"block": 16}),
                                ("munsell block=0, upsample=flow", {"block": 0, "upsample": "flow"})):
                vids = {"munsell": videos[label]} if label in videos else {}
                extra = run_roundtrip(clips[clip], vids, ["munsell"],
                                      min(args.frames or 300, args.roundtrip_frames), **opts)
                for r in extra:
                    r["colors"] = label
                rows += extra
        result["roundtrip"] = rows
        print(f"\nRound trip on {clip}: decoded direction vs the protector's flow (degrees, "
              "moving pixels)")
        print(format_table(rows, ["colors", "frames", "pixels", "median_deg_before",
                                  "p90_deg_before", "median_deg_h264", "p90_deg_h264",
                                  "black_share_h264", "median_deg_vs_pixel_flow"]))
    if "privacy" in sections:
        rows = run_privacy(outdir, args.frames or 300, args.privacy_every)
        result["privacy"] = rows
        if rows:
            print("\nPrivacy: faces found (fast mode) in the source and in the event video")
            print(format_table(rows, ["clip", "faces_source", "faces_events", "share"]))
    if "stills" in sections:
        clip = clips.get("clean_720p") or next(iter(clips.values()))
        result["stills"] = write_stills(clip, colors_list)
        print("\nstills: " + ", ".join(result["stills"]))
    p = write_json(args.out, result)
    print(f"\nevents benchmark: {time.perf_counter() - t0:.0f} s, results -> {p}, videos in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
