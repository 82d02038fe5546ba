"""Invertible rescaling benchmark: restore quality per mode, bicubic peer, H.264 effect, privacy, FPS.

Parts (all by default; pick with --parts):

* ``stills``: Set5 + Set14 (mod-crop 8), x2 and x4, RGB PSNR / SSIM of the restored picture for
  exact (Haar + encrypted details), learned (IRN-style, fixed zero latent and sampled latent) and
  bicubic down-then-up, with the LR picture rounded to 8 bits and also after an H.264 round trip
  (libx264 CRF 18 and 23, yuv420p) between down and up.
* ``video``: the standard clip ``clean_1080p``: end-to-end FPS of ``rescale`` frame mode with the
  encrypted restore data written (reference encode, sidecar), PSNR of exact restore after CRF 18,
  and bit-exactness through FFV1 with the restore data embedded in the MKV (one file). One short
  untimed run comes first, so that no row pays the process's one-time start-up (imports, first
  encoder set-up); each row records the load average it ran under.
* ``privacy``: share of the faces of ``face_mask_detection`` that the face detector finds before
  and still finds after x4 (and x8) region rescaling with the protector's defaults (detections
  capped at REGION_BLOCKS LL samples across) and at the literal factor (``blocks=0``);
  ``--privacy-pads`` / ``--privacy-blocks`` add rows for other margins and caps.

``PYTHONPATH=. python benchmarks/rescale.py [--parts stills,video,privacy] [--frames N]``
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
from _common import (REPO_ROOT, ensure_vpfilters_importable, format_machine, format_table,  # noqa: E402
                     machine_info, shared_data_dir, write_json)

ensure_vpfilters_importable()


# ------------------------------------------------------------------------------------ stills


def load_set5_set14() -> list[tuple[str, np.ndarray]]:
    from PIL import Image

    root = shared_data_dir() / "set5_set14"
    out = []
    for sub in ("Set5", "Set14"):
        for p in sorted((root / sub).glob("*.png")):
            im = np.asarray(Image.open(p).convert("RGB"))
            h, w = im.shape[0] // 8 * 8, im.shape[1] // 8 * 8
            out.append((f"{sub}/{p.stem}", np.ascontiguousarray(im[:h, :w])))
    return out


def h264_roundtrip(rgb: np.ndarray, crf: float) -> np.ndarray:
    """One picture through libx264 (yuv420p, veryfast, given CRF) and back to RGB."""
    import av

    h, w = rgb.shape[:2]
    pad = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.mkv")
        with av.open(path, "w") as out:
            st = out.add_stream("libx264", rate=25)
            st.width, st.height, st.pix_fmt = pad.shape[1], pad.shape[0], "yuv420p"
            st.options = {"crf": f"{crf:g}", "preset": "veryfast"}
            cc = st.codec_context
            cc.color_range, cc.colorspace = 2, 1
            f = av.VideoFrame.from_ndarray(pad, "rgb24").reformat(
                format="yuv420p", dst_colorspace="itu709", dst_color_range=2)
            f.color_range, f.colorspace = 2, 1
            for pkt in st.encode(f):
                out.mux(pkt)
            for pkt in st.encode(None):
                out.mux(pkt)
        with av.open(path) as c:
            for f in c.decode(video=0):
                back = f.reformat(format="rgb24", src_colorspace="itu709", src_color_range=2)
                return back.to_ndarray()[:h, :w]
    raise RuntimeError("h264 round trip produced no frame")


def bicubic(rgb, factor, crf=None):
    from PIL import Image

    h, w = rgb.shape[:2]
    lr = np.asarray(Image.fromarray(rgb).resize((w // factor, h // factor), Image.BICUBIC))
    if crf is not None:
        lr = h264_roundtrip(lr, crf)
    return np.asarray(Image.fromarray(lr).resize((w, h), Image.BICUBIC))


def exact_haar(rgb, factor, crf=None):
    """Exact mode on a picture: per channel Haar LL (stored) + the kept details."""
    from vpfilters.protect.rescale import downscale_plane, inverse_plane

    h, w = rgb.shape[:2]
    lls, dets = [], []
    for c in range(3):
        ll, det = downscale_plane(np.ascontiguousarray(rgb[..., c]), factor, (h, w))
        lls.append(ll)
        dets.append(det)
    lr = np.stack(lls, -1)
    if crf is not None:
        lr = h264_roundtrip(lr, crf)
    return np.stack([inverse_plane(lr[..., c], dets[c], 8, (h, w)) for c in range(3)], -1)


def learned(model, rgb, crf=None, latent="zero", seed=0):
    from vpfilters.protect import irn

    lr = irn.downscale(model, rgb)
    if crf is not None:
        lr = h264_roundtrip(lr, crf)
    return irn.upscale(model, lr, rgb.shape[:2], latent=latent, seed=seed), lr


def run_stills(factors, crfs=(18, 23)) -> list[dict]:
    import torch

    from vpfilters.metrics.quality import psnr, ssim
    from vpfilters.protect import irn

    torch.set_num_threads(2)
    images = load_set5_set14()
    rows = []
    for f in factors:
        model = irn.load_bundled(f, "cpu")
        acc: dict[tuple, list] = {}

        def add(key, ref, out):
            acc.setdefault(key, []).append((psnr(ref, out), ssim(ref, out, channel_axis=-1)))

        lr_fid = []
        for name, im in images:
            for crf in (None, *crfs):
                add(("bicubic", crf), im, bicubic(im, f, crf))
                add(("exact", crf), im, exact_haar(im, f, crf))
                out, lr = learned(model, im, crf, "zero")
                add(("learned, z=0", crf), im, out)
                if crf is None:
                    from PIL import Image

                    ref_lr = np.asarray(Image.fromarray(im).resize(
                        (im.shape[1] // f, im.shape[0] // f), Image.BICUBIC))
                    lr_fid.append(psnr(ref_lr, lr))
                    for seed in range(3):
                        out_s, _ = learned(model, im, None, "sample", seed)
                        add(("learned, z~N", None), im, out_s)
        for (mode, crf), vals in acc.items():
            v = np.array(vals)
            p = v[:, 0]
            rows.append({"factor": f"x{f}", "mode": mode, "lr": "8-bit" if crf is None else
                         f"H.264 CRF {crf}", "psnr": float(np.mean(np.minimum(p, 99.0))),
                         "ssim": float(v[:, 1].mean()), "n": len(vals)})
        rows.append({"factor": f"x{f}", "mode": "learned LR vs bicubic LR", "lr": "8-bit",
                     "psnr": float(np.mean(lr_fid)), "ssim": None, "n": len(lr_fid)})
    return rows


# ------------------------------------------------------------------------------------ video


def run_video(factors, frames: int | None) -> list[dict]:
    import av

    from clips import REFERENCE_ENCODE, ensure_clips
    from vpfilters.core import register
    from vpfilters.hosts.pyav import frame_to_core, transcode
    from vpfilters.protect._restore_data import generate_key
    from vpfilters.protect.rescale import Rescale, restore_video

    register(Rescale)
    src = ensure_clips(["clean_1080p"])["clean_1080p"]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        key = Path(d) / "k.key"
        generate_key(key)
        transcode(src, f"{d}/warm.mp4", f"rescale=factor={factors[0]}:restore=exact:key={key}:"
                  f"data={d}/warm.vpfr", codec=REFERENCE_ENCODE["codec"],
                  crf=REFERENCE_ENCODE["crf"], preset=REFERENCE_ENCODE["preset"], progress=False,
                  max_frames=5)  # untimed warm-up
        for f in factors:
            for size in ("same", "small"):
                spec = f"rescale=factor={f}:restore=exact:key={key}:data={d}/ref.vpfr:size={size}"
                s = transcode(src, f"{d}/ref.mp4", spec, codec=REFERENCE_ENCODE["codec"],
                              crf=REFERENCE_ENCODE["crf"], preset=REFERENCE_ENCODE["preset"],
                              progress=False, max_frames=frames)
                row = {"factor": f"x{f}", "size": size, "fps": s["fps"], "frames": s["frames"],
                       "load": round(os.getloadavg()[0], 2),
                       "vpfr_mb_per_frame": os.path.getsize(f"{d}/ref.vpfr") / s["frames"] / 1e6,
                       "video_mb": os.path.getsize(f"{d}/ref.mp4") / 1e6}
                for codec, crf in (("libx264", 18), ("ffv1", 0)):
                    # FFV1: no data= -> the restore data goes into p.mkv (an attachment)
                    data = f"{d}/p.vpfr" if codec != "ffv1" else None
                    spec = (f"rescale=factor={f}:restore=exact:key={key}:size={size}"
                            + (f":data={data}" if data else ""))
                    transcode(src, f"{d}/p.mkv", spec, codec=codec, crf=crf, preset="veryfast",
                              progress=False, max_frames=frames)
                    stats = {"exact": 0, "n": 0, "se": np.zeros(3), "count": np.zeros(3)}
                    orig = av.open(str(src))
                    gen = orig.decode(video=0)

                    def cmp(i, fr, gen=gen, stats=stats):
                        o = frame_to_core(next(gen), i)[0]
                        same = True
                        for k, (a, b) in enumerate(zip(fr.planes, o.planes)):
                            diff = a.astype(np.int32) - b
                            stats["se"][k] += float((diff * diff).sum())
                            stats["count"][k] += diff.size
                            same &= not diff.any()
                        stats["exact"] += same
                        stats["n"] += 1

                    t0 = time.monotonic()
                    restore_video(f"{d}/p.mkv", f"{d}/r.mkv", key, data,
                                  progress=False, on_frame=cmp)
                    rt = time.monotonic() - t0
                    orig.close()
                    mse_y = stats["se"][0] / stats["count"][0]
                    mse = stats["se"].sum() / stats["count"].sum()
                    if codec == "ffv1":
                        row["ffv1_bit_exact"] = f"{stats['exact']}/{stats['n']}"
                        row["ffv1_restore_data"] = "embedded in the MKV"
                    else:
                        row["crf18_psnr_y"] = 10 * np.log10(255 ** 2 / max(mse_y, 1e-12))
                        row["crf18_psnr_yuv"] = 10 * np.log10(255 ** 2 / max(mse, 1e-12))
                        row["restore_fps"] = stats["n"] / rt
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


# ------------------------------------------------------------------------------------ privacy


def run_privacy(limit: int | None, factors=(4, 8), variants=((None, None), (None, 0))
                ) -> list[dict]:
    """``variants``: (pad, blocks) pairs to test (None: the protector's default, i.e. margin
    DETECTION_MARGIN and blocks REGION_BLOCKS for detections; blocks 0: the literal factor)."""
    from PIL import Image

    from vpfilters.core import Frame
    from vpfilters.detect import detect
    from vpfilters.metrics.ap import box_iou
    from vpfilters.protect.rescale import DETECTION_MARGIN, REGION_BLOCKS, Rescale

    def matched(gt, det):
        if not len(det) or not len(gt):
            return np.zeros(len(gt), bool)
        return box_iou(gt, det).max(1) >= 0.5

    root = shared_data_dir() / "face_mask_detection"
    gt = json.loads((root / "gt_boxes.json").read_text())["images"][:limit]
    total, before_n = 0, 0
    variants = [(f, p, b) for p, b in variants for f in factors]
    after_n = dict.fromkeys(variants, 0)
    for it in gt:
        rgb = np.asarray(Image.open(root / it["file"]).convert("RGB"))
        boxes = np.asarray(it["boxes"], float).reshape(-1, 4)
        total += len(boxes)
        mb = matched(boxes, detect(rgb, "face").boxes)
        before_n += int(mb.sum())
        for v in variants:
            f, p, b = v
            frame = Frame([np.ascontiguousarray(rgb[..., c]) for c in range(3)], "rgbp")
            opts = ({} if p is None else {"pad": p}) | ({} if b is None else {"blocks": b})
            out = Rescale(factor=f, region="targets", targets=["face"], **opts).process(frame, None)
            ma = matched(boxes, detect(np.stack(out.planes, -1), "face").boxes)
            after_n[v] += int((mb & ma).sum())
    return [{"factor": f"x{f}", "pad": DETECTION_MARGIN if p is None else p,
             "blocks": REGION_BLOCKS if b is None else b, "default": p is None and b is None, "faces": total, "found_before": before_n,
             "found_after": after_n[(f, p, b)],
             "share_after": after_n[(f, p, b)] / max(before_n, 1)}
            for f, p, b in variants]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="stills,video,privacy")
    ap.add_argument("--factors", default="2,4")
    ap.add_argument("--frames", type=int, default=None, help="video frames (default: all 300)")
    ap.add_argument("--privacy-images", type=int, default=None)
    ap.add_argument("--privacy-pads", default="",
                    help="extra region margins to test besides the default, e.g. 0.2,0.8")
    ap.add_argument("--privacy-blocks", default="",
                    help="extra rows with rescale's blocks=N (at most N samples across a region)")
    ap.add_argument("--json", default=str(REPO_ROOT / "benchmarks" / "results" / "rescale.json"))
    args = ap.parse_args(argv)
    factors = [int(x) for x in args.factors.split(",")]
    parts = args.parts.split(",")
    info = machine_info()
    print(format_machine(info))
    result = {"machine": info}
    if "stills" in parts:
        rows = run_stills(factors)
        result["stills"] = rows
        print("\nSet5 + Set14 (RGB, mod-crop 8): restored PSNR (dB) / SSIM")
        print(format_table(rows, ["factor", "mode", "lr", "psnr", "ssim", "n"]))
    if "video" in parts:
        rows = run_video(factors, args.frames)
        result["video"] = rows
        print("\nclean_1080p, frame mode, exact restore data written (AES-GCM sidecar)")
        print(format_table(rows, ["factor", "size", "frames", "fps", "load", "vpfr_mb_per_frame",
                                  "video_mb", "ffv1_bit_exact", "crf18_psnr_y",
                                  "crf18_psnr_yuv", "restore_fps"]))
    if "privacy" in parts:
        variants = ([(None, None), (None, 0)]
                    + [(float(x), 0) for x in args.privacy_pads.split(",") if x]
                    + [(None, int(x)) for x in args.privacy_blocks.split(",") if x])
        rows = run_privacy(args.privacy_images, variants=variants)
        result["privacy"] = rows
        print("\nface_mask_detection: faces found before / after region rescaling (same size)")
        print(format_table(rows, ["factor", "pad", "blocks", "default", "faces", "found_before",
                                  "found_after", "share_after"]))
    write_json(args.json, result)
    print(f"rescale benchmark -> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
