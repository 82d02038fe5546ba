"""The T/AI 110.2 compliance report: run a filter spec over a video or an image set, measure the
standard's metrics clause by clause, and write Markdown, HTML and JSON with plots.

What the picture metrics mean for masking (cl. 6.2)
    Whole-frame PSNR and SSIM of the protected against the original luma fall *by design* under
    masking: the regions are destroyed on purpose, so these figures mostly say how much of the
    picture the protection consumed. The usability the standard asks for (cl. 4.2.2) is about
    the rest of the picture, so the report also gives PSNR and SSIM *outside* the protected
    regions (the ``VPFBoxes`` each frame carries). A box mask without feathering leaves the
    outside untouched (infinite PSNR, SSIM 1); lower values reveal feathering, padding or a
    protector that changes pixels it should not. SSIM's outside figure averages only the 7x7
    windows that do not touch a region.

Numbers are stored rounded to 6 significant digits; the HTML and Markdown tables print exactly
those numbers, so a table cell parsed as a float equals the JSON value. Infinite PSNR is the
string ``"inf"`` in JSON (JSON has no infinity).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from vpfilters.errors import FormatError, InputError, OutputError, ParameterError, VpfError
from vpfilters.metrics.coverage import boxes_mask
from vpfilters.metrics.fps import machine_info, measure_fps
from vpfilters.metrics.quality import _box_mean, _pair, bpp, peak_value, psnr, ssim_map

__all__ = ["THRESHOLDS", "evaluate", "evaluate_images", "evaluate_video", "input_sha256",
           "outside_quality", "render_html", "render_markdown", "ssim_map", "versions",
           "write_report"]

#: (metric, comparison, threshold, clause) of T/AI 110.2 cl. 4.3.2 and 5
THRESHOLDS = {
    "fps": (">=", 25.0, "4.3.2"),
    "ssim": (">=", 0.50, "5"),
    "psnr": (">=", 30.0, "5"),
    "kid_x100": ("<", 8.0, "5"),
    "map": (">=", 0.25, "5"),
}

#: protector name -> (technique, clause of the standard)
TECHNIQUES = {
    "blur": ("masking", "6.2"), "pixelate": ("masking", "6.2"), "fill": ("masking", "6.2"),
    "segment": ("masking", "6.2"), "replace": ("replacement", "6.1"),
    "hide": ("information hiding", "6.3"), "fewshot": ("few-shot detection", "6.4"),
    "rescale": ("image scaling", "6.5"), "events": ("event stream", "7.3"),
}

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}

MASKING_NOTE = (
    "For masking, whole-frame PSNR/SSIM fall by design (the regions are destroyed on purpose); "
    "usability (cl. 4.2.2) is judged on the picture outside the protected regions (VPFBoxes). "
    "A box mask without feathering leaves the outside untouched (PSNR inf, SSIM 1); SSIM outside "
    "averages only the 7x7 windows that touch no region.")


# ------------------------------------------------------------------------------------ numbers


def _r(v):
    """Round for storage: 6 significant digits; inf -> "inf"; nan -> None."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(f"{v:.6g}")


def _fmt(v) -> str:
    """How a stored value prints in a table (float(cell) == the JSON value)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _mean_finite(values) -> float | None:
    v = np.asarray([x for x in values if x is not None], np.float64)
    if v.size == 0:
        return None
    fin = v[np.isfinite(v)]
    return float(fin.mean()) if fin.size else float(v[0])


# ------------------------------------------------------------------------------------ metrics


def outside_quality(reference, test, boxes, *, bits: int | None = None, with_ssim: bool = True,
                    win_size: int = 7) -> dict:
    """PSNR and SSIM of a luma plane, whole and outside ``boxes`` ((N, 4) or flat x1,y1,x2,y2).

    Outside PSNR uses the pixels no box covers (``floor(x1)..ceil(x2)``); outside SSIM the
    windows that touch no box. A value is None when nothing lies outside.
    """
    a, b = _pair(reference, test, "outside_quality")
    if a.ndim != 2:
        raise FormatError(f"outside_quality: expected a 2-D luma plane, got shape {a.shape}",
                          parameter="images")
    h, w = a.shape
    inside = boxes_mask(np.asarray(boxes, np.float64).reshape(-1, 4), w, h)
    peak = peak_value(a.dtype, bits)
    out = {"psnr": psnr(a, b, data_range=peak), "outside_fraction": float(1 - inside.mean())}
    if inside.all():
        out["psnr_outside"] = None
    elif not inside.any():
        out["psnr_outside"] = out["psnr"]
    else:
        out["psnr_outside"] = psnr(a[~inside], b[~inside], data_range=peak)
    if with_ssim:
        m = ssim_map(a, b, win_size=win_size, data_range=peak)
        out["ssim"] = float(m.mean())
        # a window is outside when its win x win block holds no box pixel
        touched = _box_mean(inside.astype(np.float64), win_size) > 0
        out["ssim_outside"] = float(m[~touched].mean()) if (~touched).any() else None
    return out


def input_sha256(path) -> str:
    """sha256 of a file; for a folder, of the sorted ``relative path, sha256`` lines of its files."""
    p = Path(path)

    def one(f: Path) -> str:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    if p.is_file():
        return one(p)
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            h.update(f"{f.relative_to(p).as_posix()}\0{one(f)}\n".encode())
        return h.hexdigest()
    raise InputError("input not found", file=path)


def versions() -> dict:
    from importlib import metadata

    import vpfilters

    out = {"vpfilters": vpfilters.__version__, "python": platform.python_version(),
           "numpy": np.__version__}
    for dist in ("av", "onnxruntime", "onnx", "matplotlib", "opencv-python-headless", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        from vpfilters.kernels import _backend

        out["kernel_backend"] = str(getattr(_backend, "current", lambda: None)() or
                                    os.environ.get("VPF_BACKEND", "auto"))
    except Exception:  # the backend probe is informative only
        out["kernel_backend"] = os.environ.get("VPF_BACKEND", "auto")
    return out


# ------------------------------------------------------------------------------------ clauses


def _technique(pipeline) -> tuple[str, str]:
    names = [p.name for p in pipeline.protectors]
    for n in names:
        if n in TECHNIQUES:
            return TECHNIQUES[n]
    return ("unknown", "")


def _row(clause, metric, value, unit, key=None, *, applies=True, input="", settings="",
         note="", threshold=None, op=None) -> dict:
    if key is not None:
        op, threshold, _ = THRESHOLDS[key]
    if value is None or isinstance(value, str) and value not in ("inf",):
        result = "n/a"
    elif threshold is None:
        result = "info"
    else:
        v = math.inf if value == "inf" else float(value)
        ok = v >= threshold if op == ">=" else v < threshold
        result = ("pass" if ok else "fail") if applies else (
            "info (" + ("meets" if ok else "below") + " reference)")
    thr = None if threshold is None else f"{op} {threshold:g}{(' ' + unit) if unit else ''}"
    return {"clause": clause, "metric": metric, "value": _r(value) if value != "inf" else "inf",
            "unit": unit, "threshold": thr, "result": result, "input": input,
            "settings": settings, "note": note}


def _quality_rows(rep: dict, tech: tuple[str, str], source: str) -> list[dict]:
    q = rep["metrics"]["quality"]
    name, tclause = tech
    cl5 = "5" + (f", {tclause}" if tclause else "")
    ssim_set = q["ssim_settings"]
    is_mask = name == "masking"
    rows = [
        _row(cl5, "SSIM, luma, whole frame (mean)", q["ssim_mean"], "", "ssim",
             applies=name != "event stream", input=source, settings=ssim_set,
             note="falls by design under masking" if is_mask else ""),
        _row(cl5, "SSIM, luma, outside protected regions (mean)", q["ssim_outside_mean"], "",
             input=source, settings=ssim_set, note="usability of the unprotected picture"),
        _row(cl5 if name == "information hiding" else "5 (reference: 6.3)",
             "PSNR, luma, whole frame (mean of frames)", q["psnr_mean"], "dB", "psnr",
             applies=name == "information hiding", input=source, settings=q["psnr_settings"],
             note="" if name == "information hiding" else "threshold is information hiding's"),
        _row("5", "PSNR, luma, outside protected regions (mean of finite frames)",
             q["psnr_outside_mean"], "dB", input=source, settings=q["psnr_settings"],
             note=f"{q['psnr_outside_inf_frames']} frame(s) identical outside (inf dB)"),
    ]
    return rows


# ------------------------------------------------------------------------------------ running


def _pipeline(spec, on_error):
    from vpfilters.core import build

    return build(spec, on_error=on_error)


def _spec_targets(spec) -> list[str]:
    from vpfilters.core import parse_spec

    out = []
    for f in parse_spec(spec) if isinstance(spec, str) else []:
        t = f.options.get("targets")
        if t:
            out += [x for x in str(t).split("+") if x]
    return list(dict.fromkeys(out))


def _quality_summary(per: dict, stride: int, n_ssim: int, win: int = 7) -> dict:
    ps = per["psnr"]
    po = per["psnr_outside"]
    return {
        "frames": len(ps),
        "psnr_mean": _r(_mean_finite(ps)), "psnr_min": _r(min(ps) if ps else None),
        "psnr_inf_frames": int(sum(1 for x in ps if x == math.inf)),
        "psnr_outside_mean": _r(_mean_finite(po)),
        "psnr_outside_min": _r(min((x for x in po if x is not None), default=None)),
        "psnr_outside_inf_frames": int(sum(1 for x in po if x == math.inf)),
        "ssim_mean": _r(_mean_finite([x for x in per["ssim"] if x is not None])),
        "ssim_min": _r(min((x for x in per["ssim"] if x is not None), default=None)),
        "ssim_outside_mean": _r(_mean_finite([x for x in per["ssim_outside"] if x is not None])),
        "ssim_frames": n_ssim, "ssim_stride": stride,
        "psnr_settings": "luma, peak 2^bits-1, every frame",
        "ssim_settings": (f"luma, {win}x{win} uniform window, K1=0.01, K2=0.03 (skimage "
                          f"conventions), one frame in {stride} ({n_ssim} frames)"
                          if stride > 1 else
                          f"luma, {win}x{win} uniform window, K1=0.01, K2=0.03 (skimage "
                          f"conventions), every frame"),
    }


def _fps_run(pipeline, cores, info, num_frames=None):
    from vpfilters.hosts.pyav import _run_pipeline

    def run():
        # Reopen for every run: protectors cache per-stream work (detections on grid frames),
        # and a run that found the previous run's cache would time nothing but the masking.
        pipeline.open(info)
        for _ in _run_pipeline(pipeline, ((f.copy(), None) for f in cores), num_frames):
            pass
    return run


def _measure(pipeline, cores, info_kw, warmup, repeat, threads, label) -> dict:
    from vpfilters.core import StreamInfo

    f0 = cores[0]
    info = StreamInfo(f0.width, f0.height, f0.format, **info_kw)
    res = measure_fps(_fps_run(pipeline, cores, info, len(cores)), len(cores), warmup=warmup,
                      repeat=repeat, threads=threads)
    return {"resolution": label, "width": f0.width, "height": f0.height, "fps": _r(res.fps),
            "runs": [_r(x) for x in res.runs], "frames": res.frames}


def _threads(threads) -> dict:
    from vpfilters.detect._onnx import default_threads

    return {"requested": threads, "detector_threads": threads or default_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "VPF_THREADS": os.environ.get("VPF_THREADS"), "cpu_count": os.cpu_count()}


def _kid(orig_rgb, prot_rgb, extractor, subsets: int = 50) -> dict:
    from vpfilters.metrics.kid import kid_from_features

    if len(orig_rgb) < 2:
        raise FormatError(f"kid: need at least 2 pictures, got {len(orig_rgb)}",
                          parameter="kid_frames")
    fr, ff = np.asarray(extractor(orig_rgb)), np.asarray(extractor(prot_rgb))
    size = min(len(fr), len(ff), 1000)
    # with fewer pictures than a subset, every subset would be the whole sample: compute it once
    subsets = subsets if max(len(fr), len(ff)) > size else 1
    res = kid_from_features(fr, ff, subsets=subsets, subset_size=size,
                            extractor=getattr(extractor, "name", type(extractor).__name__),
                            indicative=not getattr(extractor, "is_inception", False))
    return {"kid_x100": _r(res.x100), "std_x100": _r(100 * res.std), "subsets": res.subsets,
            "subset_size": res.subset_size, "pictures": len(fr), "extractor": res.extractor,
            "indicative": res.indicative}


def _open_video(path):
    import av

    try:
        c = av.open(str(path))
    except Exception as e:  # av raises its own error classes for bad/missing files
        raise InputError(f"cannot open video: {e}", file=path) from None
    if not c.streams.video:
        c.close()
        raise InputError("no video stream", file=path)
    return c


def _parse_resolution(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ParameterError(f"resolution must be WIDTHxHEIGHT, got {text!r}",
                             parameter="resolutions") from None
    if w < 8 or h < 8 or w % 2 or h % 2:
        raise ParameterError(f"resolution {text!r} must be even and at least 8x8",
                             parameter="resolutions")
    return w, h


def evaluate_video(path, spec, *, max_frames: int | None = 300, ssim_frames: int = 100,
                   fps_frames: int = 30, fps_warmup: int = 1, fps_repeat: int = 3,
                   resolutions=(), kid: bool | None = None, extractor=None, kid_frames: int = 40,
                   on_error: str = "protect", threads: int | None = None,
                   progress: bool = False) -> dict:
    """Run ``spec`` over a video and measure FPS, per-frame PSNR/SSIM (whole and outside the
    protected regions) and, when asked, KID. Returns the report dictionary.

    ``max_frames`` bounds the frames evaluated (None or 0: all); SSIM is computed on at most
    ``ssim_frames`` evenly spaced frames; FPS is the median of ``fps_repeat`` runs of the
    protector over the first ``fps_frames`` decoded frames after ``fps_warmup`` runs, at the
    native size and at each of ``resolutions`` (``"WxH"``).
    """
    from vpfilters.core import StreamInfo
    from vpfilters.detect._onnx import frame_to_rgb
    from vpfilters.hosts.pyav import _run_pipeline, frame_to_core

    t_start = time.perf_counter()
    res_list = [_parse_resolution(r) for r in resolutions]
    pipeline = _pipeline(spec, on_error)
    tech = _technique(pipeline)
    if kid is None:
        kid = tech[0] == "replacement"
    container = _open_video(path)
    vs = container.streams.video[0]
    vs.thread_type = "AUTO"
    fps_in = float(vs.average_rate) if vs.average_rate else None
    known = int(vs.frames or 0)
    limit = max_frames or None
    n_est = min(x for x in (known or None, limit, 10 ** 9) if x)
    n_est = n_est if n_est < 10 ** 9 else 1000
    stride = max(1, math.ceil(n_est / max(1, ssim_frames)))
    kid_stride = max(1, math.ceil(n_est / max(2, kid_frames)))
    per = {"index": [], "psnr": [], "psnr_outside": [], "ssim": [], "ssim_outside": [],
           "boxes": []}
    sample_av, sample, kid_orig, kid_prot, bpp_frames = [], [], [], [], []
    opened = {}
    t_pass = [0.0]

    def cores():
        import av

        frames = container.decode(vs)
        i = 0
        while limit is None or i < limit:
            try:
                avf = next(frames)
            except StopIteration:
                return
            except av.error.FFmpegError as e:  # corrupt data mid-stream: say where
                raise InputError(f"decoding failed: {e}", file=path, frame=i) from None
            core = frame_to_core(avf, i)[0]
            if not opened:
                pipeline.open(StreamInfo(core.width, core.height, core.format, fps_in,
                                         known or None, str(path)))
                opened["fmt"] = core.format
            if len(sample) < fps_frames:
                sample.append(core.copy())
                if res_list:
                    sample_av.append(avf)
            orig_rgb = frame_to_rgb(core) if kid and i % kid_stride == 0 else None
            yield core, (core.planes[0].copy(), orig_rgb)
            i += 1

    from tqdm import tqdm

    bar = tqdm(total=limit or known or None, disable=not progress, unit="frame", desc="eval",
               leave=False, file=sys.stderr, mininterval=0.5)
    failed = []
    check_hidden = _hidden_data_checker(pipeline)
    extracted = []
    restorer = _restore_checker(pipeline)
    kept = []  # (protected frame, original luma) for the authorised-restore check (cl. 6.5)
    try:
        t0 = time.perf_counter()
        for out, (y0, orig_rgb), _copied in _run_pipeline(pipeline, cores(), None):
            i = out.index
            boxes = np.asarray(out.props.get("VPFBoxes", []), np.float64).reshape(-1, 4)
            if out.props.get("VPFFailClosed"):
                failed.append(i)
            if out.planes[0].shape != y0.shape:
                raise FormatError(f"the spec changes the frame size ({y0.shape} -> "
                                  f"{out.planes[0].shape}); PSNR/SSIM need equal sizes",
                                  frame=i, parameter="spec")
            q = outside_quality(y0, out.planes[0], boxes, bits=out.bits,
                                with_ssim=i % stride == 0)
            per["index"].append(i)
            per["psnr"].append(q["psnr"])
            per["psnr_outside"].append(q["psnr_outside"])
            per["ssim"].append(q.get("ssim"))
            per["ssim_outside"].append(q.get("ssim_outside"))
            per["boxes"].append(len(boxes))
            bpp_frames.append(_frame_bpp(out))
            if check_hidden is not None and i % stride == 0:
                extracted.append(check_hidden(out))
            if restorer is not None and i % stride == 0 and len(kept) < RESTORE_CHECK_FRAMES:
                kept.append((out.copy(), y0))
            if orig_rgb is not None:
                kid_orig.append(orig_rgb)
                kid_prot.append(frame_to_rgb(out))
            bar.update(1)
        t_pass[0] = time.perf_counter() - t0
    finally:
        bar.close()
        container.close()
    if not per["index"]:
        raise InputError("the video has no frames to evaluate", file=path)

    if extracted:
        rep_extract = {"frames": len(extracted), "complete": int(sum(extracted)),
                       "share": _r(sum(extracted) / len(extracted))}
    else:
        rep_extract = None

    info_kw = {"fps": fps_in, "source": str(path)}
    fps_rows = [_measure(pipeline, sample, info_kw, fps_warmup, fps_repeat, threads,
                         f"{sample[0].width}x{sample[0].height} (native)")]
    for w, h in res_list:
        scaled = [frame_to_core(a.reformat(width=w, height=h), k)[0]
                  for k, a in enumerate(sample_av)]
        fps_rows.append(_measure(pipeline, scaled, info_kw, fps_warmup, fps_repeat, threads,
                                 f"{w}x{h}"))
    pipeline.close()  # also writes the last restore records
    if restorer is not None and kept:
        rep_restore = restorer(kept)
    else:
        rep_restore = None

    kid_res = None
    if kid:
        if extractor is None:
            from vpfilters.metrics.features import default_extractor

            extractor = default_extractor(threads=threads)
        kid_res = _kid(kid_orig, kid_prot, extractor)

    source = f"{Path(path).name} ({per['index'][-1] + 1} frames)"
    n_ssim = sum(1 for x in per["ssim"] if x is not None)
    rep = _base(path, "video", spec, pipeline, tech, threads)
    rep["input"].update({"width": sample[0].width, "height": sample[0].height,
                         "format": sample[0].format, "fps": _r(fps_in),
                         "frames_in_stream": known or None, "frames_evaluated": len(per["index"])})
    rep["settings"].update({"max_frames": limit, "ssim_frames": ssim_frames,
                            "fps_frames": len(sample), "fps_warmup": fps_warmup,
                            "fps_repeat": fps_repeat, "resolutions": list(resolutions),
                            "kid": bool(kid), "kid_frames": len(kid_orig)})
    rep["metrics"]["fps"] = {"per_resolution": fps_rows,
                             "definition": f"protector throughput: median of {fps_repeat} runs "
                                           f"over {len(sample)} decoded frames after {fps_warmup} "
                                           "warm-up run(s); decoding and encoding excluded",
                             "pass_seconds": _r(t_pass[0]),
                             "pass_fps_with_metrics": _r(len(per["index"]) / max(t_pass[0], 1e-9))}
    rep["metrics"]["quality"] = _quality_summary(per, stride, n_ssim)
    rep["metrics"]["fail_closed_frames"] = failed
    _add_bpp(rep, bpp_frames)
    if rep_extract is not None:
        rep["metrics"]["extraction"] = rep_extract
    if rep_restore is not None:
        rep["metrics"]["restore"] = rep_restore
    if kid_res:
        rep["metrics"]["kid"] = kid_res
    rep["per_frame"] = {k: [_r(x) for x in v] for k, v in per.items()}
    if limit and known and known > limit:
        rep["notes"].append(f"Only the first {limit} of {known} frames were evaluated "
                            "(--max-frames; 0 evaluates all).")
    if stride > 1:
        rep["notes"].append(f"SSIM was computed on one frame in {stride} ({n_ssim} frames) to "
                            "bound the run time; PSNR on every frame.")
    _finish(rep, source, tech, fps_rows, kid_res, t_start)
    return rep


def _hidden_data_checker(pipeline):
    """For a spec with ``hide``: a function telling whether a protected frame gives the payload
    back exactly through hide's own reader (cl. 6.3, "extracted completely"); else None."""
    hides = [p for p in pipeline.protectors if p.name == "hide"]
    if not hides:
        return None
    p = hides[-1]
    from vpfilters.protect.hide import extract_frame

    want = p.opts["payload"]
    want = want.encode() if isinstance(want, str) else bytes(want)

    def check(frame) -> bool:
        try:
            got = extract_frame(frame, key=p.opts["key"], mode=p.opts["mode"],
                                seed=p.opts["seed"], strength=p.opts["strength"])
        except VpfError:
            return False
        return got.payload == want
    return check


#: at most this many frames are kept for the authorised-restore check
RESTORE_CHECK_FRAMES = 20


def _restore_checker(pipeline):
    """For a spec that is ``rescale`` with ``restore=exact`` alone: a function restoring kept
    protected frames from the encrypted restore data and comparing them with the originals."""
    ps = pipeline.protectors
    if len(ps) != 1 or ps[0].name != "rescale" or ps[0].opts.get("restore") != "exact":
        return None
    p = ps[0]

    def check(kept) -> dict:
        from vpfilters.protect import _restore_data as rd
        from vpfilters.protect.rescale import restore_frame

        reader = rd.RestoreReader(p.opts["data"], p._key)
        try:
            decompress = rd.compressor(reader.header["compression"])[1]
            exact, values = 0, []
            for frame, y0 in kept:
                back = restore_frame(frame, reader.get(frame.index), reader.header, decompress)
                exact += bool(np.array_equal(back.planes[0], y0))
                values.append(psnr(y0, back.planes[0], bits=frame.bits))
        finally:
            reader.close()
        return {"frames": len(kept), "exact": exact, "exact_share": _r(exact / len(kept)),
                "psnr_min": "inf" if min(values) == math.inf else _r(min(values))}
    return check


def _frame_bpp(frame) -> float | None:
    """Capacity of one frame when its protector reports ``VPFPayloadBits`` (hiding)."""
    bits = frame.props.get("VPFPayloadBits")
    return None if bits is None else bpp(int(bits), frame.width, frame.height)


def _add_bpp(rep: dict, values: list) -> None:
    v = [x for x in values if x is not None]
    if v:
        rep["metrics"]["bpp"] = {"mean": _r(float(np.mean(v))), "min": _r(min(v)),
                                 "frames": len(v)}


def _base(path, kind, spec, pipeline, tech, threads) -> dict:
    return {
        "tool": "vpf eval", "standard": "T/AI 110.2",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "input": {"path": str(Path(path).resolve()), "kind": kind,
                  "sha256": input_sha256(path)},
        "spec": pipeline.spec or str(spec),
        "technique": {"name": tech[0], "clause": tech[1]},
        "settings": {"on_error": pipeline.on_error},
        "reproducibility": {"versions": versions(), "machine": machine_info(),
                            "threads": _threads(threads), "command": list(sys.argv)},
        "metrics": {}, "clauses": [], "notes": [], "plots": {},
    }


def _finish(rep, source, tech, fps_rows, kid_res, t_start) -> None:
    m = rep["machine_line"] = (f"{rep['reproducibility']['machine'].get('cpu')}, "
                               f"{rep['reproducibility']['machine'].get('cores')} cores")
    native = fps_rows[0]
    fps_set = (f"{native['frames']} frames x {len(native['runs'])} runs, median, protectors on "
               f"decoded frames (no decode or encode); "
               f"threads {rep['reproducibility']['threads']['detector_threads']}; {m}")
    rows = [_row("4.3.2", f"FPS at {r['resolution']}", r["fps"], "FPS", "fps", input=source,
                 settings=fps_set) for r in fps_rows]
    if "quality" in rep["metrics"]:
        rows += _quality_rows(rep, tech, source)
    tcl = "5" + (f", {tech[1]}" if tech[1] else "")  # clause 5 and the technique's own
    if "ap" in rep["metrics"]:
        ap = rep["metrics"]["ap"]
        for t, a in ap.get("per_target", {}).items():
            rows.append(_row(tcl, f"AP@0.5 (VOC all-point), {t}", a["ap"], "", input=source,
                             settings=a["settings"]))
        if ap.get("map") is not None:
            rows.append(_row(tcl, "mAP@0.5 over targets", ap["map"], "", "map", input=source,
                             settings="mean of the targets' AP"))
        elif ap.get("hook"):
            rows.append(_row(tcl, "mAP@0.5", None, "", "map", input=source, note=ap["hook"]))
    if "bpp" in rep["metrics"]:
        b = rep["metrics"]["bpp"]
        rows.append(_row(tcl, "capacity (BPP, mean)", b["mean"], "bit/pixel", input=source,
                         settings=f"VPFPayloadBits / luma pixels over {b['frames']} frames",
                         note="higher is better; no threshold"))
    if "extraction" in rep["metrics"]:
        x = rep["metrics"]["extraction"]
        rows.append(_row("6.3", "hidden data extracted completely (share of frames)",
                         x["share"], "", input=source, threshold=1.0, op=">=",
                         settings=f"hide's own reader on {x['frames']} protected frames in "
                                  f"memory (before any codec); payload bytes compared",
                         note="the standard asks for complete extraction"))
    if "restore" in rep["metrics"]:
        x = rep["metrics"]["restore"]
        rows.append(_row("4.3.1, 6.5", "authorised exact restore: luma bit-exact (share of frames)",
                         x["exact_share"], "", input=source, threshold=1.0, op=">=",
                         settings=f"restore data decrypted with the key, {x['frames']} frames "
                                  f"in memory (before any codec)",
                         note=f"luma PSNR of the restored frames: min {x['psnr_min']} dB"))
    if kid_res:
        ind = kid_res["indicative"]
        r = _row(tcl, "KID x100 (original vs protected)", kid_res["kid_x100"], "", "kid_x100",
                 applies=tech[0] == "replacement" and not ind, input=source,
                 settings=f"{kid_res['extractor']}; {kid_res['subsets']} subsets of "
                          f"{kid_res['subset_size']}",
                 note="indicative: not Inception-v3 features" if ind else "")
        rows.append(r)
    if "meta_tasks" in rep["metrics"]:
        mt = rep["metrics"]["meta_tasks"]
        rows.append(_row("5, 6.4", f"meta-task mAP@0.5, {mt['n_way']}-way {mt['k_shot']}-shot",
                         mt["mean_map"], "", "map", input=source,
                         settings=f"{mt['episodes']} episodes, 95 % CI "
                                  f"[{_fmt(mt['ci95'][0])}, {_fmt(mt['ci95'][1])}]; "
                                  f"{mt['detector']}"))
    rep["clauses"] = rows
    if tech[0] == "masking":
        rep["notes"].insert(0, MASKING_NOTE)
    if rep["metrics"].get("fail_closed_frames"):
        rep["notes"].append(f"{len(rep['metrics']['fail_closed_frames'])} frame(s) failed closed "
                            "(wholly hidden): see metrics.fail_closed_frames.")
    rep["elapsed_seconds"] = _r(time.perf_counter() - t_start)


def _decode_image(path: Path):
    import av

    from vpfilters.hosts.pyav import frame_to_core

    try:
        with av.open(str(path)) as c:
            avf = next(c.decode(video=0))
    except Exception as e:  # av's own error classes, StopIteration for an empty file
        raise InputError(f"cannot decode picture: {type(e).__name__}: {e}", file=path) from None
    return frame_to_core(avf, 0)[0], avf


def evaluate_images(folder, spec, *, max_images: int | None = None, targets=None,
                    min_score: float = 0.01, fps_frames: int = 30, fps_warmup: int = 1,
                    fps_repeat: int = 3, kid: bool | None = None, extractor=None,
                    on_error: str = "protect", threads: int | None = None,
                    meta_tasks: tuple[int, int, int] | None = None,
                    progress: bool = False) -> dict:
    """Run ``spec`` over a folder of pictures (an annotated set when it has ``gt_boxes.json``):
    PSNR/SSIM per picture, FPS, and, on an annotated set, AP@0.5 of the detector of each
    target (``targets`` or the spec's ``targets=``) with its precision-recall curve."""
    from vpfilters.core import StreamInfo
    from vpfilters.detect._onnx import frame_to_rgb

    t_start = time.perf_counter()
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", file=folder)
    annotated = (folder / "gt_boxes.json").is_file()
    dataset = None
    if annotated:
        from vpfilters.metrics.fewshot import AnnotatedSet

        dataset = AnnotatedSet.load(folder, max_images)
        files = [folder / f for f in dataset.files]
    else:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        files = files[:max_images] if max_images else files
    if not files:
        raise InputError("no pictures found", file=folder)
    pipeline = _pipeline(spec, on_error)
    tech = _technique(pipeline)
    if kid is None:
        kid = tech[0] == "replacement"
    per = {"index": [], "psnr": [], "psnr_outside": [], "ssim": [], "ssim_outside": [],
           "boxes": []}
    sample, kid_orig, kid_prot, failed, bpp_frames = [], [], [], [], []
    from tqdm import tqdm

    for k, f in enumerate(tqdm(files, disable=not progress, desc="eval", leave=False,
                               file=sys.stderr)):
        core, _ = _decode_image(f)
        core.index = k
        if len(sample) < fps_frames:
            sample.append(core.copy())
        y0 = core.planes[0].copy()
        orig_rgb = frame_to_rgb(core) if kid else None
        pipeline.open(StreamInfo(core.width, core.height, core.format, None, 1, str(f),
                                 still=True))
        out = pipeline.process(core)
        if out.props.get("VPFFailClosed"):
            failed.append(k)
        boxes = np.asarray(out.props.get("VPFBoxes", []), np.float64).reshape(-1, 4)
        q = outside_quality(y0, out.planes[0], boxes, bits=out.bits,
                            with_ssim=min(y0.shape) >= 7)
        per["index"].append(k)
        for key in ("psnr", "psnr_outside", "ssim", "ssim_outside"):
            per[key].append(q.get(key))
        per["boxes"].append(len(boxes))
        bpp_frames.append(_frame_bpp(out))
        if kid:
            kid_orig.append(orig_rgb)
            kid_prot.append(frame_to_rgb(out))

    # FPS over pictures of varying size: run each through a freshly opened pipeline
    from vpfilters.core import FrameContext

    def run():
        for fr in sample:
            pipeline.open(StreamInfo(fr.width, fr.height, fr.format, None, 1, None, still=True))
            pipeline.process(fr.copy(), FrameContext(0))

    r = measure_fps(run, len(sample), warmup=fps_warmup, repeat=fps_repeat, threads=threads)
    sizes = sorted(fr.width * fr.height for fr in sample)
    med = sample[[fr.width * fr.height for fr in sample].index(sizes[len(sizes) // 2])]
    fps_rows = [{"resolution": f"pictures (median {med.width}x{med.height})", "width": med.width,
                 "height": med.height, "fps": _r(r.fps), "runs": [_r(x) for x in r.runs],
                 "frames": r.frames}]
    pipeline.close()

    rep = _base(folder, "annotated image set" if annotated else "image folder", spec, pipeline,
                tech, threads)
    rep["input"].update({"pictures": len(files)})
    rep["settings"].update({"max_images": max_images, "min_score": min_score,
                            "fps_frames": len(sample), "fps_warmup": fps_warmup,
                            "fps_repeat": fps_repeat, "kid": bool(kid)})
    rep["metrics"]["fps"] = {"per_resolution": fps_rows,
                             "definition": f"pictures per second through the protector: median "
                                           f"of {fps_repeat} runs over {len(sample)} decoded "
                                           f"pictures after {fps_warmup} warm-up run(s)"}
    n_ssim = sum(1 for x in per["ssim"] if x is not None)
    rep["metrics"]["quality"] = _quality_summary(per, 1, n_ssim)
    rep["metrics"]["fail_closed_frames"] = failed
    _add_bpp(rep, bpp_frames)
    rep["per_frame"] = {k: [_r(x) for x in v] for k, v in per.items()}
    source = f"{folder.name} ({len(files)} pictures)"
    if annotated:
        rep["metrics"]["ap"] = _detector_ap(dataset, spec, targets, min_score, threads)
        if meta_tasks:
            n, k, e = meta_tasks
            from vpfilters.metrics.fewshot import YoloxEpisodeDetector, meta_task_map

            mt = meta_task_map(dataset, YoloxEpisodeDetector(threads=threads), n, k, episodes=e)
            d = mt.as_dict()
            rep["metrics"]["meta_tasks"] = {**d, "mean_map": _r(d["mean_map"]),
                                            "ci95": [_r(x) for x in d["ci95"]],
                                            "episode_maps": [_r(x) for x in d["episode_maps"]]}
    kid_res = _kid(kid_orig, kid_prot, extractor or _default_extractor(threads)) if kid else None
    if kid_res:
        rep["metrics"]["kid"] = kid_res
    _finish(rep, source, tech, fps_rows, kid_res, t_start)
    return rep


def _default_extractor(threads):
    from vpfilters.metrics.features import default_extractor

    return default_extractor(threads=threads)


def _detector_ap(dataset, spec, targets, min_score, threads) -> dict:
    """AP@0.5 of each target's detector on the annotated set (hook when there is none)."""
    targets = list(targets or []) or _spec_targets(spec)
    if not targets:
        return {"hook": "the spec names no detection targets (targets=...); pass --targets "
                        "to score a detector", "per_target": {}, "map": None}
    try:
        from vpfilters.detect import get_detector, parse_targets
    except ImportError:  # pragma: no cover - detection not installed
        return {"hook": "vpfilters.detect is not available", "per_target": {}, "map": None}
    from vpfilters.metrics.ap import average_precision

    parse_targets(targets)
    all_labels = {str(x) for lab in dataset.labels for x in lab}
    out = {}
    rgb_cache = {}
    for t in targets:
        det = get_detector(t, threads=threads) if threads else get_detector(t)
        use_all = t not in all_labels
        if use_all and len(targets) > 1:
            out[t] = {"ap": None, "settings": f"no ground truth labelled {t!r}",
                      "n_gt": 0, "n_det": 0}
            continue
        dets, gts, ign = [], [], []
        t0 = time.perf_counter()
        for i in range(len(dataset)):
            if i not in rgb_cache:
                rgb_cache[i] = dataset.rgb(i)
            d = det(rgb_cache[i], threshold=min_score)
            dets.append(d.as_array() if len(d) else np.zeros((0, 5)))
            g, ig = dataset.gt(i, None if use_all else t)
            gts.append(g)
            ign.append(ig)
        secs = time.perf_counter() - t0
        res = average_precision(dets, gts, ignore=ign, matching="voc",
                                interpolation="all-point")
        op = float(getattr(det, "threshold", 0.5))
        p_op, r_op = res.precision_at(op)
        keep = np.unique(np.linspace(0, max(len(res.recall) - 1, 0), 400).astype(int)) \
            if len(res.recall) else np.zeros(0, int)
        out[t] = {"ap": _r(res.ap), "n_gt": res.n_gt, "n_det": res.n_det,
                  "operating_threshold": _r(op), "precision_at_threshold": _r(p_op),
                  "recall_at_threshold": _r(r_op), "max_recall": _r(res.max_recall),
                  "detector": repr(det), "seconds": _r(secs),
                  "ground_truth": "all boxes" if use_all else f"boxes labelled {t!r}",
                  "settings": (f"{type(det).__name__}, scores >= {min_score:g}, IoU 0.5, VOC "
                               f"matching, {'all boxes' if use_all else repr(t) + ' boxes'} "
                               "as ground truth, crowd ignored"),
                  "curve": {"recall": [_r(x) for x in res.recall[keep]],
                            "precision": [_r(x) for x in res.precision[keep]]}}
    aps = [v["ap"] for v in out.values() if isinstance(v.get("ap"), float)]
    return {"per_target": out, "map": _r(float(np.mean(aps))) if aps else None}


def evaluate(path, spec, **kw) -> dict:
    """:func:`evaluate_video` for a file, :func:`evaluate_images` for a folder."""
    p = Path(path)
    if p.is_dir():
        keep = {"max_images", "targets", "min_score", "fps_frames", "fps_warmup", "fps_repeat",
                "kid", "extractor", "on_error", "threads", "meta_tasks", "progress"}
        return evaluate_images(p, spec, **{k: v for k, v in kw.items() if k in keep})
    if not p.is_file():
        raise InputError("input not found", file=path)
    keep = {"max_frames", "ssim_frames", "fps_frames", "fps_warmup", "fps_repeat",
            "resolutions", "kid", "extractor", "kid_frames", "on_error", "threads", "progress"}
    return evaluate_video(p, spec, **{k: v for k, v in kw.items() if k in keep})


# ------------------------------------------------------------------------------------ output

CLAUSE_COLUMNS = ("clause", "metric", "value", "unit", "threshold", "result", "input", "settings",
                  "note")


def _plots(rep: dict, out: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    made = {}
    fps = rep["metrics"].get("fps", {}).get("per_resolution", [])
    if fps:
        fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(fps) + 2), 3.2))
        labels = [r["resolution"] for r in fps]
        ax.bar(range(len(fps)), [r["fps"] for r in fps], color="#4c72b0")
        ax.set_xticks(range(len(fps)), labels, fontsize=8)
        ax.axhline(25, color="#c44e52", ls="--", label="25 FPS (cl. 4.3.2)")
        ax.set_ylabel("frames per second")
        ax.set_title("Protector throughput per resolution")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "fps.png", dpi=100)
        plt.close(fig)
        made["fps"] = "fps.png"
    pf = rep.get("per_frame")
    if pf and pf["index"]:
        def arr(key):
            return np.array([np.nan if v is None else (np.inf if v == "inf" else v)
                             for v in pf[key]], np.float64)
        idx = np.asarray(pf["index"])
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
        ps, po = arr("psnr"), arr("psnr_outside")
        a1.plot(idx, np.where(np.isinf(ps), np.nan, ps), lw=1, label="whole frame")
        n_inf = int(np.isinf(po).sum())
        a1.plot(idx, np.where(np.isinf(po), np.nan, po), lw=1,
                label="outside regions" + (f" ({n_inf} frames identical: inf)" if n_inf else ""))
        a1.axhline(30, color="#c44e52", ls="--", lw=1, label="30 dB (cl. 5, hiding)")
        a1.set_ylabel("PSNR luma (dB)")
        a1.legend(fontsize=8)
        ss, so = arr("ssim"), arr("ssim_outside")
        ok = ~np.isnan(ss)
        a2.plot(idx[ok], ss[ok], ".-", lw=1, ms=3, label="whole frame")
        ok2 = ~np.isnan(so)
        a2.plot(idx[ok2], so[ok2], ".-", lw=1, ms=3, label="outside regions")
        a2.axhline(0.5, color="#c44e52", ls="--", lw=1, label="0.50 (cl. 5)")
        a2.set_ylabel("SSIM luma")
        a2.set_xlabel("frame" if rep["input"]["kind"] == "video" else "picture")
        a2.set_ylim(min(0.0, np.nanmin(ss) if ok.any() else 0), 1.02)
        a2.legend(fontsize=8)
        fig.suptitle("Protected vs original, per frame")
        fig.tight_layout()
        fig.savefig(out / "quality.png", dpi=100)
        plt.close(fig)
        made["quality"] = "quality.png"
    ap = rep["metrics"].get("ap", {}).get("per_target", {})
    curves = {t: a for t, a in ap.items() if a.get("curve") and a["curve"]["recall"]}
    if curves:
        fig, ax = plt.subplots(figsize=(5, 4))
        for t, a in curves.items():
            ax.plot(a["curve"]["recall"], a["curve"]["precision"],
                    label=f"{t}: AP@0.5 = {a['ap']:.3f}")
            if a.get("recall_at_threshold") is not None:
                ax.plot([a["recall_at_threshold"]], [a["precision_at_threshold"]], "o",
                        label=f"{t} at score {a['operating_threshold']:g}")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title("Precision-recall (IoU 0.5)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "pr_curve.png", dpi=100)
        plt.close(fig)
        made["pr_curve"] = "pr_curve.png"
    return made


def _tables(rep: dict) -> list[tuple[str, str, list[str], list[list]]]:
    """(id, title, header, rows) of every table; the HTML and Markdown print the same cells."""
    t = [("clauses", "Clauses of T/AI 110.2", list(CLAUSE_COLUMNS),
          [[c[k] for k in CLAUSE_COLUMNS] for c in rep["clauses"]])]
    fps = rep["metrics"].get("fps", {}).get("per_resolution", [])
    if fps:
        t.append(("fps", "Throughput", ["resolution", "fps", "runs", "frames"],
                  [[r["resolution"], r["fps"], ", ".join(_fmt(x) for x in r["runs"]),
                    r["frames"]] for r in fps]))
    q = rep["metrics"].get("quality")
    if q:
        keys = [k for k in q if not k.endswith("settings")]
        t.append(("quality", "Picture quality (protected vs original luma)", ["measure", "value"],
                  [[k, q[k]] for k in keys]))
    ap = rep["metrics"].get("ap")
    if ap and ap.get("per_target"):
        cols = ["target", "ap", "n_gt", "n_det", "operating_threshold", "precision_at_threshold",
                "recall_at_threshold", "max_recall", "ground_truth"]
        t.append(("ap", "Detection (annotated set)", cols,
                  [[tg] + [a.get(c) for c in cols[1:]] for tg, a in ap["per_target"].items()]))
    if rep["metrics"].get("kid"):
        k = rep["metrics"]["kid"]
        t.append(("kid", "KID", ["measure", "value"], [[x, k[x]] for x in k]))
    if rep["metrics"].get("meta_tasks"):
        m = rep["metrics"]["meta_tasks"]
        t.append(("meta_tasks", "Meta-tasks (few-shot)", ["measure", "value"],
                  [[x, m[x] if not isinstance(m[x], list) else
                    ", ".join(_fmt(v) if not isinstance(v, list) else "+".join(v)
                              for v in m[x])] for x in m]))
    r = rep["reproducibility"]
    repro = [["input sha256", rep["input"]["sha256"]], ["spec", rep["spec"]]]
    repro += [[f"version: {k}", v] for k, v in r["versions"].items()]
    repro += [[f"machine: {k}", v] for k, v in r["machine"].items()]
    repro += [[f"threads: {k}", v] for k, v in r["threads"].items()]
    repro += [["settings: " + k, v if not isinstance(v, list) else ", ".join(map(str, v))]
              for k, v in rep["settings"].items()]
    t.append(("reproducibility", "Reproducibility", ["item", "value"], repro))
    pf = rep.get("per_frame")
    if pf and pf["index"]:
        cols = ["index", "psnr", "psnr_outside", "ssim", "ssim_outside", "boxes"]
        t.append(("per_frame", "Per frame", cols,
                  [[pf[c][i] for c in cols] for i in range(len(pf["index"]))]))
    return t


def _summary_line(rep) -> str:
    res = [c["result"] for c in rep["clauses"]]
    return (f"{sum(r == 'pass' for r in res)} pass, {sum(r == 'fail' for r in res)} fail, "
            f"{sum(r.startswith('info') for r in res)} informative, "
            f"{sum(r == 'n/a' for r in res)} not measured")


def render_markdown(rep: dict) -> str:
    def esc(v):
        return _fmt(v).replace("|", "\\|").replace("\n", " ")

    tech, inp = rep["technique"], rep["input"]
    version = rep["reproducibility"]["versions"]["vpfilters"]
    clause = f", cl. {tech['clause']}" if tech["clause"] else ""
    lines = [f"# T/AI 110.2 compliance report: {Path(inp['path']).name}", "",
             f"- spec: `{rep['spec']}` (technique: {tech['name']}{clause})",
             f"- input: `{inp['path']}` ({inp['kind']}), sha256 `{inp['sha256']}`",
             (f"- created {rep['created']} by vpfilters {version} in "
              f"{_fmt(rep['elapsed_seconds'])} s; {rep['machine_line']}"),
             f"- result: {_summary_line(rep)}", ""]
    if rep["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in rep["notes"]] + [""]
    for tid, title, header, rows in _tables(rep):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
        lines.append("")
        if tid == "clauses":
            for key, alt in (("fps", "FPS per resolution"), ("quality", "PSNR/SSIM per frame"),
                             ("pr_curve", "precision-recall")):
                if key in rep["plots"]:
                    lines += [f"![{alt}]({rep['plots'][key]})", ""]
    return "\n".join(lines)


def render_html(rep: dict, images: dict | None = None) -> str:
    """The report as one HTML page; ``images`` maps plot file names to PNG bytes (embedded)."""
    e = html.escape
    title = f"T/AI 110.2 compliance report: {Path(rep['input']['path']).name}"
    style = ("body{font-family:sans-serif;margin:1.5em;max-width:80em}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
             "td,th{border:1px solid #bbb;padding:2px 6px;font-size:0.9em;text-align:left}"
             "td.pass{background:#d9f2d9}td.fail{background:#f7d4d4}img{max-width:100%}")
    inp = rep["input"]
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{e(title)}</title>", f"<style>{style}</style>", "</head>", "<body>",
           f"<h1>{e(title)}</h1>", "<ul>",
           f"<li>spec: <code>{e(rep['spec'])}</code> (technique: {e(rep['technique']['name'])})</li>",
           (f"<li>input: <code>{e(inp['path'])}</code> ({e(inp['kind'])}), "
            f"sha256 <code>{e(inp['sha256'])}</code></li>"),
           (f"<li>created {e(rep['created'])}; {e(rep['machine_line'])}; "
            f"{e(_fmt(rep['elapsed_seconds']))} s</li>"),
           f"<li>result: {e(_summary_line(rep))}</li>", "</ul>"]
    if rep["notes"]:
        out += ["<h2>Notes</h2>", "<ul>"] + [f"<li>{e(n)}</li>" for n in rep["notes"]] + ["</ul>"]
    for tid, ttl, header, rows in _tables(rep):
        out += [f"<h2>{e(ttl)}</h2>", f'<table id="{tid}">',
                "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead>",
                "<tbody>"]
        for row in rows:
            cells = []
            for h, c in zip(header, row):
                cls = f' class="{c}"' if h == "result" and c in ("pass", "fail") else ""
                cells.append(f"<td{cls}>{e(_fmt(c))}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out += ["</tbody>", "</table>"]
        if tid == "clauses":
            for key in ("fps", "quality", "pr_curve"):
                name = rep["plots"].get(key)
                if not name:
                    continue
                data = (images or {}).get(name)
                src = ("data:image/png;base64," + base64.b64encode(data).decode("ascii")
                       if data else name)
                out.append(f'<p><a href="{e(name)}"><img src="{src}" alt="{e(key)} plot"></a></p>')
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def write_report(rep: dict, out_dir, *, plots: bool = True) -> dict:
    """Write ``report.json``, ``report.md``, ``report.html`` and the PNG plots into ``out_dir``."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        rep["plots"] = {}
        if plots:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                rep["notes"].append("matplotlib is not installed: the report has no plots "
                                    "(pip install matplotlib).")
            else:
                rep["plots"] = _plots(rep, out)
        images = {n: (out / n).read_bytes() for n in rep["plots"].values()}
        (out / "report.json").write_text(json.dumps(rep, indent=1, allow_nan=False) + "\n",
                                         encoding="utf-8")
        (out / "report.md").write_text(render_markdown(rep), encoding="utf-8")
        (out / "report.html").write_text(render_html(rep, images), encoding="utf-8")
    except OSError as e:
        raise OutputError(f"cannot write the report: {e}", file=out) from None
    return {"json": str(out / "report.json"), "md": str(out / "report.md"),
            "html": str(out / "report.html"),
            "plots": [str(out / n) for n in rep["plots"].values()]}
