"""`vpf eval`: the T/AI 110.2 compliance report of a filter spec on a video or an image set."""

from __future__ import annotations

import sys


def _meta(text: str) -> tuple[int, int, int]:
    try:
        n, k, e = (int(x) for x in text.lower().replace("x", ",").split(","))
    except ValueError:
        raise ValueError(f"expected N,K,EPISODES (e.g. 5,1,20), got {text!r}") from None
    if min(n, k, e) < 1:
        raise ValueError("N, K and EPISODES must be >= 1")
    return n, k, e


def register(subparsers, commands: dict) -> None:
    p = subparsers.add_parser(
        "eval", help="measure a filter spec against T/AI 110.2 and write a compliance report",
        description="Run the filter SPEC over INPUT (a video, a folder of pictures, or an "
        "annotated set with gt_boxes.json) and write report.md, report.html, report.json and "
        "PNG plots into REPORT_DIR: FPS (cl. 4.3.2), PSNR and SSIM of the protected vs the "
        "original luma, whole and outside the protected regions, AP@0.5 of the spec's detectors "
        "on an annotated set, and KID when asked.")
    p.add_argument("input", metavar="INPUT", help="video file, folder of pictures or annotated set")
    p.add_argument("--filter", "-f", dest="spec", required=True, metavar="SPEC",
                   help="filter spec, e.g. 'blur=box=10/10/200/120'")
    p.add_argument("--out", "-o", dest="out", required=True, metavar="REPORT_DIR",
                   help="folder for the report (created)")
    p.add_argument("--max-frames", type=int, default=300, metavar="N",
                   help="evaluate the first N frames of a video (default 300; 0 = all)")
    p.add_argument("--ssim-frames", type=int, default=100, metavar="N",
                   help="compute SSIM on at most N evenly spaced frames (default 100)")
    p.add_argument("--max-images", type=int, default=None, metavar="N",
                   help="evaluate the first N pictures of a folder")
    p.add_argument("--fps-frames", type=int, default=30, metavar="N",
                   help="frames per timed FPS run (default 30)")
    p.add_argument("--fps-repeat", type=int, default=3, metavar="N",
                   help="timed FPS runs; the median is reported (default 3)")
    p.add_argument("--fps-warmup", type=int, default=1, metavar="N",
                   help="untimed warm-up runs (default 1)")
    p.add_argument("--resolutions", default="", metavar="WxH[,WxH...]",
                   help="also time the protector at these sizes (video), e.g. 1280x720,1920x1080")
    p.add_argument("--targets", default=None, metavar="T[+T...]",
                   help="detection targets to score on an annotated set (default: the spec's "
                   "targets= option)")
    p.add_argument("--min-score", type=float, default=0.01,
                   help="lowest detection score kept for AP (default 0.01)")
    p.add_argument("--meta-tasks", type=_meta, default=None, metavar="N,K,EPISODES",
                   help="on an annotated set: N-way K-shot meta-task mAP with a 95%% interval "
                   "(YOLOX-nano baseline)")
    kid = p.add_mutually_exclusive_group()
    kid.add_argument("--kid", dest="kid", action="store_true", default=None,
                     help="compute KID between original and protected frames (default: only "
                     "for replacement specs)")
    kid.add_argument("--no-kid", dest="kid", action="store_false")
    p.add_argument("--inception-weights", default=None, metavar="PATH",
                   help="torchvision Inception-v3 weights (.pth) for KID; without it KID uses "
                   "the bundled YOLOX-nano backbone and is marked indicative")
    p.add_argument("--kid-frames", type=int, default=40, metavar="N",
                   help="frames sampled for KID (default 40)")
    p.add_argument("--threads", type=int, default=None, help="detector threads")
    p.add_argument("--on-error", choices=("protect", "stop"), default="protect")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 3 when an applicable clause fails")
    commands["eval"] = run


def run(args) -> int:
    from vpfilters.errors import ParameterError
    from vpfilters.metrics.report import evaluate, write_report

    extractor = None
    if args.inception_weights:
        from vpfilters.metrics.features import inception_v3_features

        extractor = inception_v3_features(args.inception_weights, threads=args.threads)
        if args.kid is None:
            args.kid = True
    for name in ("max_frames", "ssim_frames", "fps_frames", "fps_repeat", "kid_frames"):
        v = getattr(args, name)
        if v is not None and v < (0 if name == "max_frames" else 1):
            raise ParameterError(f"--{name.replace('_', '-')} must be "
                                 f"{'>= 0' if name == 'max_frames' else '>= 1'}, got {v}",
                                 parameter=name)
    rep = evaluate(
        args.input, args.spec, max_frames=args.max_frames or None, ssim_frames=args.ssim_frames,
        max_images=args.max_images, fps_frames=args.fps_frames, fps_repeat=args.fps_repeat,
        fps_warmup=args.fps_warmup,
        resolutions=[r for r in args.resolutions.split(",") if r.strip()],
        targets=args.targets.split("+") if args.targets else None, min_score=args.min_score,
        meta_tasks=args.meta_tasks, kid=args.kid, extractor=extractor, kid_frames=args.kid_frames,
        on_error=args.on_error, threads=args.threads, progress=not args.no_progress)
    paths = write_report(rep, args.out)
    fps = rep["metrics"]["fps"]["per_resolution"][0]["fps"]
    res = [c["result"] for c in rep["clauses"]]
    n = rep["input"].get("frames_evaluated", rep["input"].get("pictures"))
    print(f"vpf eval: {n} frames, {fps} FPS, {res.count('pass')} pass / {res.count('fail')} fail "
          f"in {rep['elapsed_seconds']} s -> {paths['html']}", file=sys.stdout)
    return 3 if args.strict and "fail" in res else 0
