"""Host throughput: every host protecting the standard 1080p clip, against a plain transcode.

Each host decodes ``clean_1080p`` (300 frames, see clips.py), applies a light protector (``fill`` on a
fixed box) and encodes with the reference settings (libx264 veryfast CRF 23 yuv420p). Baselines are
plain transcodes with the same settings: the ffmpeg CLI, and PyAV decode + encode. Every row is the
wall-clock time of the whole process (start-up included, as a user waits for it); runs alternate
between hosts and each figure is the median of ``--repeat`` runs (default 3).

Each host is compared with the plain transcode that encodes the same way: hosts that hand frames to
the ffmpeg CLI (vspipe | ffmpeg, the ffmpeg-python host) with ``plain ffmpeg``; hosts that encode in
Python through PyAV (VapourSynth's Python API, the PyAV host, the CLI) with ``plain PyAV``. A host
passes at >= 0.90 of its baseline's FPS. Hosts not installed yet are listed as skipped.

Floors (``floor: ...`` rows, no pass/fail): each host's own pipeline with no vpfilters in it:
bestsource into ``vspipe | ffmpeg``, bestsource into the same PyAV encode loop, and ``ffmpeg |
ffmpeg`` over a bare raw pipe with no Python between. A host's ``of_floor`` (its FPS over its
floor's) is what vpfilters adds; the floor's own ratio is what the pipeline costs on this machine.

Threads are set, not left to each library (two cores: oversubscription halves throughput):
x264 ``threads`` (frame threading in both the CLI and PyAV), H.264 decoder threads (ffmpeg
``-threads`` before ``-i``, PyAV ``thread_count``, bestsource ``threads``) and VapourSynth's
``core.num_threads``; all default to the usable CPU count and are reported.

    python benchmarks/hosts.py                       # 300 frames, 3 alternating runs per host
    python benchmarks/hosts.py --quick               # 30 frames, 1 run: smoke test
    python benchmarks/hosts.py --frames 100 --json benchmarks/results/hosts.json
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ensure_vpfilters_importable,
    format_machine,
    format_table,
    machine_info,
    write_json,
)
from clips import (  # noqa: E402
    REFERENCE_ENCODE,
    SOURCE_FRAMES,
    ensure_clips,
    reference_encode_args,
    reference_encode_av,
)

ensure_vpfilters_importable()

CLIP = "clean_1080p"
LIGHT_SPEC = "fill=box=480/270/960/640"  # a fixed box, 480x370 luma px, black
PASS_RATIO = 0.90

# name -> (what it runs, baseline it is compared with, floor: the same pipeline without vpfilters)
HOSTS = {
    "plain ffmpeg": ("ffmpeg CLI decode + encode, no protection", None, None),
    "plain PyAV": ("PyAV decode + encode, no protection", None, None),
    "vapoursynth vspipe": ("bestsource -> vpfilters.vapoursynth.protect -> vspipe y4m | ffmpeg",
                           "plain ffmpeg", "floor: vspipe | ffmpeg"),
    "vapoursynth API": ("bestsource -> vpfilters.vapoursynth.protect -> PyAV encode", "plain PyAV",
                        "floor: VapourSynth API"),
    "PyAV host": ("vpfilters.av.transcode", "plain PyAV", None),
    "ffmpeg-python host": ("vpfilters.ffmpeg.run", "plain ffmpeg", "floor: ffmpeg | ffmpeg"),
    "CLI": ("vpf protect", "plain PyAV", None),
    # Floors: each host's own pipeline with no vpfilters in it (and no Python between the
    # processes), so that a host's figure splits into what the pipeline costs on this machine
    # and what vpfilters adds. Not hosts: they have no pass/fail.
    "floor: vspipe | ffmpeg": ("bestsource -> vspipe y4m | ffmpeg, no vpfilters", "plain ffmpeg",
                               None),
    "floor: VapourSynth API": ("bestsource -> PyAV encode, no vpfilters", "plain PyAV", None),
    "floor: ffmpeg | ffmpeg": ("ffmpeg decode -> rawvideo pipe -> ffmpeg encode, no Python",
                               "plain ffmpeg", None),
}


def _usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# ------------------------------------------------------------------------------------ children
# Hosts with a Python API run in a fresh interpreter (`hosts.py --child NAME ...`), so that no host
# inherits another's thread pools, caches or VapourSynth core; each prints one JSON line of facts.


def _child_plain_pyav(a) -> dict:
    import av

    codec, pix_fmt, opts = reference_encode_av()
    with av.open(a.src) as inp, av.open(a.dst, "w") as out:
        ist = inp.streams.video[0]
        ist.thread_type = "AUTO"
        ist.codec_context.thread_count = a.decoder_threads
        ost = out.add_stream(codec, rate=ist.average_rate, options=opts)
        ost.width, ost.height, ost.pix_fmt = ist.codec_context.width, ist.codec_context.height, pix_fmt
        ost.codec_context.thread_type = "AUTO"  # PyAV's default (SLICE) would make x264 slice-thread
        ost.codec_context.thread_count = a.x264_threads
        tb = Fraction(1, 1) / ist.average_rate
        n = 0
        for f in inp.decode(ist):
            f.pts, f.time_base = n, tb  # constant frame rate, numbered like the other rows
            out.mux(ost.encode(f))
            n += 1
        out.mux(ost.encode(None))
    return {"frames_in": n}


def _vs_clip(a):
    import vapoursynth as vs

    core = vs.core
    core.num_threads = a.vs_threads
    return core.bs.VideoSource(source=a.src, threads=a.decoder_threads, cachepath=a.cache)


def _child_vs_index(a) -> dict:
    clip = _vs_clip(a)
    return {"frames_in": clip.num_frames}


def _child_vs_api(a) -> dict:
    import av
    import numpy as np

    clip, facts = _vs_clip(a), {}
    if a.spec != "-":  # "-": the floor, no vpfilters imported
        from vpfilters.vapoursynth import has_plugin, protect

        clip, facts = protect(clip, a.spec), {"core.vpf": has_plugin()}
    codec, pix_fmt, opts = reference_encode_av()
    with av.open(a.dst, "w") as out:
        ost = out.add_stream(codec, rate=Fraction(clip.fps_num, clip.fps_den), options=opts)
        ost.width, ost.height, ost.pix_fmt = clip.width, clip.height, pix_fmt
        ost.codec_context.thread_type = "AUTO"
        ost.codec_context.thread_count = a.x264_threads
        tb = Fraction(clip.fps_den, clip.fps_num)
        for n, f in enumerate(clip.frames(prefetch=a.vs_threads * 2)):
            vf = av.VideoFrame(clip.width, clip.height, "yuv420p")
            for i, plane in enumerate(vf.planes):  # one copy: VapourSynth plane -> encoder frame
                dst = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
                dst[:, :plane.width] = np.asarray(f[i])
            vf.pts, vf.time_base = n, tb
            out.mux(ost.encode(vf))
        out.mux(ost.encode(None))
    return {"frames_in": clip.num_frames, **facts}


def _kwargs_for(func, names: dict) -> dict:
    """The keyword arguments of ``names`` (first accepted spelling wins) that ``func`` takes."""
    params = inspect.signature(func).parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    out = {}
    for spellings, value in names.items():
        for s in spellings:
            if s in params:
                out[s] = value
                break
        else:
            if var_kw:
                out[spellings[-1]] = value
    return out


def _child_pyav_host(a) -> dict:
    from vpfilters import av as host

    s = REFERENCE_ENCODE
    kw = _kwargs_for(host.transcode, {("codec",): s["codec"], ("crf",): s["crf"],
                                      ("preset",): s["preset"], ("pix_fmt",): s["pix_fmt"],
                                      ("threads",): a.x264_threads})
    host.transcode(a.src, a.dst, a.spec, **kw)
    return {"kwargs": kw}


def _child_ffmpeg_host(a) -> dict:
    from vpfilters import ffmpeg as host

    s = REFERENCE_ENCODE
    kw = _kwargs_for(host.run, {("codec", "vcodec"): s["codec"], ("crf",): s["crf"],
                                ("preset",): s["preset"], ("pix_fmt",): s["pix_fmt"],
                                ("threads",): a.x264_threads})
    host.run(a.src, a.dst, a.spec, **kw)
    return {"kwargs": kw}


CHILDREN = {"plain PyAV": _child_plain_pyav, "vapoursynth API": _child_vs_api,
            "floor: VapourSynth API": _child_vs_api,
            "PyAV host": _child_pyav_host, "ffmpeg-python host": _child_ffmpeg_host,
            "vs index": _child_vs_index}


def child_main(argv) -> int:
    ap = argparse.ArgumentParser()
    for k in ("--child", "--src", "--dst", "--spec", "--cache"):
        ap.add_argument(k)
    for k in ("--x264-threads", "--decoder-threads", "--vs-threads"):
        ap.add_argument(k, type=int)
    a = ap.parse_args(argv)
    info = CHILDREN[a.child](a)
    print(json.dumps(info))
    return 0


# ------------------------------------------------------------------------------------ parent


class Bench:
    def __init__(self, args, src: Path, work: Path):
        self.a = args
        self.src = src
        self.work = work
        self.cache = work / "bscache"
        self.ffmpeg = shutil.which("ffmpeg")
        bindir = Path(sys.executable).parent
        self.vspipe = shutil.which("vspipe", path=str(bindir)) or shutil.which("vspipe")
        self.vpf = shutil.which("vpf", path=str(bindir))

    def _child_cmd(self, name: str, dst: Path) -> list[str]:
        a = self.a
        spec = "-" if name.startswith("floor:") else a.spec
        return [sys.executable, str(Path(__file__).resolve()), "--child", name, "--src", str(self.src),
                "--dst", str(dst), "--spec", spec, "--cache", str(self.cache),
                "--x264-threads", str(a.x264_threads), "--decoder-threads", str(a.decoder_threads),
                "--vs-threads", str(a.vs_threads)]

    def _encode_args(self) -> list[str]:
        return [*reference_encode_args(), "-threads", str(self.a.x264_threads)]

    def _geometry(self) -> tuple[int, int, str]:
        """(width, height, frame rate) of the source, for the raw floor's encoder."""
        import av

        with av.open(str(self.src)) as c:
            st = c.streams.video[0]
            return st.codec_context.width, st.codec_context.height, str(st.average_rate)

    def skip_reason(self, name: str) -> str | None:
        """None when ``name`` can run here, else why not."""
        def missing(mod):
            try:
                __import__(mod)
                return None
            except ImportError as exc:
                return f"{mod} not importable ({exc})"
        if (name in ("plain ffmpeg", "vapoursynth vspipe", "ffmpeg-python host")
                or "ffmpeg" in name.partition("floor:")[2]) and not self.ffmpeg:
            return "ffmpeg not on PATH"
        if name.startswith("vapoursynth") or name.startswith("floor: v"):
            r = missing("vapoursynth") or missing("vpfilters.vapoursynth")
            if r:
                return r
            import vapoursynth as vs
            if not hasattr(vs.core, "bs"):
                return "vapoursynth-bestsource not installed"
            if "vspipe" in name and not self.vspipe:
                return "vspipe not found"
        if name == "PyAV host":
            return missing("vpfilters.av")
        if name == "ffmpeg-python host":
            return missing("vpfilters.ffmpeg")
        if name == "CLI" and not self.vpf:
            return missing("vpfilters.cli")
        return None

    def prepare(self, names) -> None:
        """Untimed: build bestsource's index once, as a user would before processing."""
        if any(n.startswith("vapoursynth") or n.startswith("floor: v") for n in names):
            subprocess.run(self._child_cmd("vs index", self.work / "none"), check=True,
                           capture_output=True)

    def run_once(self, name: str) -> tuple[float, dict]:
        """Run host ``name`` once; (wall seconds, facts), output checked for its frame count."""
        a = self.a
        dst = self.work / f"{name.replace(' ', '_')}.mp4"
        if dst.exists():
            dst.unlink()
        facts: dict = {}
        t0 = time.perf_counter()
        if name == "plain ffmpeg":
            _check(subprocess.run([self.ffmpeg, "-nostdin", "-v", "error", "-threads",
                                   str(a.decoder_threads), "-i", str(self.src), "-map", "0:v:0",
                                   "-an", *self._encode_args(), "-y", str(dst)],
                                  capture_output=True), name)
        elif name == "floor: ffmpeg | ffmpeg":
            w, h, rate = self._geometry()
            _pipe_into_ffmpeg(
                [self.ffmpeg, "-nostdin", "-v", "error", "-threads", str(a.decoder_threads),
                 "-i", str(self.src), "-map", "0:v:0", "-an", "-f", "rawvideo",
                 "-pix_fmt", "yuv420p", "-"],
                [self.ffmpeg, "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                 "-s", f"{w}x{h}", "-framerate", rate, "-i", "-", *self._encode_args(),
                 "-y", str(dst)], name)
        elif name in ("vapoursynth vspipe", "floor: vspipe | ffmpeg"):
            script = self.work / "protect.vpy"
            script.write_text(VPY_SCRIPT)
            spec = "-" if name.startswith("floor:") else a.spec
            _pipe_into_ffmpeg(
                [self.vspipe, "-c", "y4m", "-a", f"src={self.src}", "-a", f"spec={spec}",
                 "-a", f"cache={self.cache}", "-a", f"threads={a.vs_threads}",
                 "-a", f"decoder_threads={a.decoder_threads}", str(script), "-"],
                [self.ffmpeg, "-nostdin", "-v", "error", "-f", "yuv4mpegpipe", "-i", "-",
                 *self._encode_args(), "-y", str(dst)], name)
        elif name == "CLI":
            s = REFERENCE_ENCODE
            cmd = [self.vpf] if self.vpf else [sys.executable, "-m", "vpfilters.cli"]
            _check(subprocess.run([*cmd, "protect", str(self.src), str(dst), "--filter", a.spec,
                                   "--codec", s["codec"], "--crf", str(s["crf"]),
                                   "--preset", s["preset"], "--threads", str(a.x264_threads),
                                   "--quiet"], capture_output=True), name)
        else:
            r = subprocess.run(self._child_cmd(name, dst), capture_output=True)
            _check(r, name)
            facts = json.loads(r.stdout.decode().strip().splitlines()[-1])
        seconds = time.perf_counter() - t0
        facts["frames_out"] = _count_frames(dst)
        return seconds, facts


# The vspipe row's script: examples/protect.vpy plus explicit decoder threads (spec "-": the
# floor, no vpfilters imported).
VPY_SCRIPT = '''
import vapoursynth as vs

def arg(name):
    v = globals()[name]
    return v.decode() if isinstance(v, bytes) else v

core = vs.core
core.num_threads = int(arg("threads"))
clip = core.bs.VideoSource(source=arg("src"), threads=int(arg("decoder_threads")),
                           cachepath=arg("cache"))
if arg("spec") != "-":
    from vpfilters.vapoursynth import protect
    clip = protect(clip, arg("spec"))
clip.set_output()
'''


def _pipe_into_ffmpeg(producer: list[str], encoder: list[str], name: str) -> None:
    """``producer | encoder`` through an OS pipe of the default size (as a shell makes it)."""
    pipe = subprocess.Popen(producer, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    enc = subprocess.run(encoder, stdin=pipe.stdout, capture_output=True)
    pipe.stdout.close()
    err = pipe.stderr.read()
    rc = pipe.wait()
    _check(subprocess.CompletedProcess(pipe.args, rc, b"", err), name)
    _check(enc, name)


def _check(r: subprocess.CompletedProcess, name: str) -> None:
    if r.returncode != 0:
        err = (r.stderr or b"").decode(errors="replace").strip()[-2000:]
        raise RuntimeError(f"{name} failed (exit {r.returncode}): {err}")


def _count_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.frames or sum(1 for _ in c.demux(s) if _.size)


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def run(args) -> dict:
    load_before = _load()
    if load_before is not None and load_before > 0.5 * _usable_cpus():
        print(f"warning: load average {load_before} on {_usable_cpus()} CPUs before the run: other "
              "processes compete with the hosts, so the figures will be noisy", file=sys.stderr)
    frames = None if args.frames == SOURCE_FRAMES else args.frames
    src = ensure_clips([CLIP], frames=frames, verbose=True)[CLIP]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="vpf-hosts-") as tmp:
        work = Path(tmp)
        local = work / src.name  # bestsource writes beside/for its input: use a private copy
        shutil.copyfile(src, local)
        bench = Bench(args, local, work)
        names = [n for n in HOSTS if not args.hosts or n in args.hosts]
        active = []
        for n in names:
            why = bench.skip_reason(n)
            if why:
                results[n] = {"host": n, "skipped": why}
                print(f"{n}: skipped ({why})", file=sys.stderr)
            else:
                active.append(n)
        bench.prepare(active)
        for rep in range(args.repeat):
            for n in active:  # alternate: one run of each host per round
                if results.get(n, {}).get("error"):
                    continue
                try:
                    sec, facts = bench.run_once(n)
                except Exception as exc:  # reported in the table, the other hosts go on
                    results[n] = {"host": n, "error": str(exc)}
                    print(f"{n}: FAILED: {exc}", file=sys.stderr)
                    continue
                r = results.setdefault(n, {"host": n, "seconds": [], "facts": facts})
                r["seconds"].append(round(sec, 3))
                fps = facts["frames_out"] / sec
                print(f"round {rep + 1}/{args.repeat} {n:20s} {fps:7.1f} fps "
                      f"({facts['frames_out']} frames, {sec:.2f} s)", file=sys.stderr)
    expected = args.frames
    rows = []
    for n in names:
        r = results[n]
        row = {"host": n, "via": HOSTS[n][0], "baseline": HOSTS[n][1], "floor": HOSTS[n][2]}
        if "seconds" in r:
            med = statistics.median(r["seconds"])
            row.update(frames=r["facts"]["frames_out"], seconds=med,
                       fps=round(r["facts"]["frames_out"] / med, 2),
                       runs_fps=[round(r["facts"]["frames_out"] / s, 2) for s in r["seconds"]],
                       facts={k: v for k, v in r["facts"].items() if k != "frames_out"})
        else:
            row["skipped" if "skipped" in r else "error"] = r.get("skipped") or r.get("error")
        rows.append(row)
    by = {r["host"]: r for r in rows}
    for r in rows:
        base = by.get(r["baseline"]) if r["baseline"] else None
        if "fps" not in r:
            r["result"] = "skipped" if "skipped" in r else "ERROR"
        elif r["frames"] != expected:
            r["result"] = f"FAIL ({r['frames']}/{expected} frames)"
        elif r["baseline"] is None:
            r["result"] = "baseline"
        elif base is None or "fps" not in base:
            r["result"] = "no baseline"
        else:
            r["ratio"] = round(r["fps"] / base["fps"], 3)
            if r["host"].startswith("floor:"):
                r["result"] = "floor"
            else:
                r["result"] = "PASS" if r["ratio"] >= PASS_RATIO else "FAIL"
            floor = by.get(r["floor"]) if r["floor"] else None
            if floor is not None and "fps" in floor:
                r["of_floor"] = round(r["fps"] / floor["fps"], 3)
    return {
        "benchmark": "hosts", "clip": CLIP, "frames": expected, "spec": args.spec,
        "encode": dict(REFERENCE_ENCODE), "repeat": args.repeat, "pass_ratio": PASS_RATIO,
        "threads": {"x264": args.x264_threads, "h264_decoder": args.decoder_threads,
                    "vapoursynth_core": args.vs_threads, "usable_cpus": _usable_cpus()},
        "load_average_1min": {"before": load_before, "after": _load()},
        "machine": machine_info(), "results": rows,
    }


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--child" in argv:
        return child_main(argv)
    ap = argparse.ArgumentParser(prog="python benchmarks/hosts.py",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--frames", type=int, default=None,
                    help=f"first N frames of the clip (default {SOURCE_FRAMES}, quick 30)")
    ap.add_argument("--quick", action="store_true", help="30 frames, 1 run: a smoke test")
    ap.add_argument("--repeat", type=int, default=None, help="alternating runs per host (default 3)")
    ap.add_argument("--spec", default=LIGHT_SPEC, help=f"protector spec (default {LIGHT_SPEC})")
    ap.add_argument("--hosts", default=None, help=f"comma list of: {', '.join(HOSTS)}")
    cpus = _usable_cpus()
    ap.add_argument("--x264-threads", type=int, default=cpus, help=f"default {cpus}")
    ap.add_argument("--decoder-threads", type=int, default=cpus, help=f"default {cpus}")
    ap.add_argument("--vs-threads", type=int, default=cpus, help=f"VapourSynth core (default {cpus})")
    args = ap.parse_args(argv)
    args.frames = args.frames or (30 if args.quick else SOURCE_FRAMES)
    if not 1 <= args.frames <= SOURCE_FRAMES:
        ap.error(f"--frames must be in 1..{SOURCE_FRAMES}")
    args.repeat = args.repeat or (1 if args.quick else 3)
    if args.hosts:
        args.hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
        bad = [h for h in args.hosts if h not in HOSTS]
        if bad:
            ap.error(f"unknown host(s) {', '.join(bad)}; known: {', '.join(HOSTS)}")
    for k in ("x264_threads", "decoder_threads", "vs_threads"):
        if getattr(args, k) < 1:
            ap.error(f"--{k.replace('_', '-')} must be >= 1")
    t0 = time.perf_counter()
    report = run(args)
    th = report["threads"]
    print(format_machine(report["machine"]))
    print(f"clip {CLIP}, {args.frames} frames, spec {args.spec!r}, encode "
          f"{' '.join(f'{k}={v}' for k, v in REFERENCE_ENCODE.items())}; threads: x264 {th['x264']}, "
          f"H.264 decoder {th['h264_decoder']}, VapourSynth core {th['vapoursynth_core']} "
          f"({th['usable_cpus']} CPUs); median of {args.repeat} alternating run(s), whole-process "
          f"wall time; load average {report['load_average_1min']['before']} before, "
          f"{report['load_average_1min']['after']} after")
    rows = [{**r, "fps": r.get("fps"), "ratio": r.get("ratio"), "of_floor": r.get("of_floor"),
             "baseline": r["baseline"] or "-"} for r in report["results"]]
    print(format_table(rows, ["host", "fps", "baseline", "ratio", "result", "of_floor"],
                       {"ratio": f"ratio (>= {PASS_RATIO:.2f})",
                        "of_floor": "of its floor (vpfilters' share)"}))
    for r in report["results"]:
        if r.get("facts"):
            print(f"  {r['host']}: {json.dumps(r['facts'])}")
        if r.get("skipped") or r.get("error"):
            print(f"  {r['host']}: {r.get('skipped') or r.get('error')}")
    if args.json:
        print(f"hosts: {len(rows)} rows -> {write_json(args.json, report)}")
    done = [r for r in report["results"]
            if r.get("ratio") is not None and not r["host"].startswith("floor:")]
    print(f"hosts: {len(done)} hosts compared, {sum(r['result'] == 'PASS' for r in done)} PASS, "
          f"{args.frames} frames each, in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
