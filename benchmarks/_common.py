"""Helpers shared by the benchmark scripts: paths, timing, machine description, tables and JSON."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The shared data folder: ``$VPF_SHARED_DATA``, else ``<repo>/../shared/data``."""
    env = os.environ.get("VPF_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def ensure_vpfilters_importable() -> None:
    """Make ``import vpfilters`` work from a plain checkout.

    An installed vpfilters (with its built native module) wins; the checkout is only appended as
    a fallback, so it never shadows an installed package.
    """
    try:
        import vpfilters  # noqa: F401
    except ImportError:
        sys.path.append(str(REPO_ROOT))


# ------------------------------------------------------------------------------------ timing


@dataclass
class Timing:
    """Wall-clock statistics of one benchmarked call, in milliseconds."""

    median_ms: float
    min_ms: float
    runs: int


def measure(fn, *, warmup: int = 3, repeat: int = 30, budget_s: float | None = None,
            sync=None) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then time up to ``repeat`` calls; return the median.

    ``budget_s`` caps the timed phase (at least 3 runs are always made), so a slow reference
    backend does not stretch a run to minutes. ``sync`` (e.g. a CUDA stream synchronise) is called
    after each call inside the timed region, so asynchronous backends are timed to completion.
    """
    for _ in range(max(0, warmup)):
        fn()
        if sync is not None:
            sync()
    times = []
    start = time.perf_counter()
    for i in range(max(1, repeat)):
        t0 = time.perf_counter_ns()
        fn()
        if sync is not None:
            sync()
        times.append((time.perf_counter_ns() - t0) / 1e6)
        if budget_s is not None and i >= 2 and time.perf_counter() - start > budget_s:
            break
    return Timing(statistics.median(times), min(times), len(times))


# ------------------------------------------------------------------------------------ machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """What a reader needs to compare two result files: CPU, cores, library versions, thread env."""
    import numpy as np

    info = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "thread_env": {k: os.environ[k] for k in ("VPF_THREADS", "VPF_BACKEND", "OMP_NUM_THREADS")
                       if k in os.environ},
    }
    try:
        from vpfilters.kernels import available_backends
        info["vpfilters_backends"] = available_backends()
    except Exception as exc:  # reported, not fatal: the description must never stop a benchmark
        info["vpfilters_backends"] = f"unavailable ({exc})"
    ff = shutil.which("ffmpeg")
    if ff:
        try:
            out = subprocess.run([ff, "-hide_banner", "-version"], capture_output=True, text=True,
                                 timeout=10).stdout
            info["ffmpeg"] = out.splitlines()[0] if out else "unknown"
        except (OSError, subprocess.SubprocessError):
            info["ffmpeg"] = "unknown"
    return info


def format_machine(info: dict) -> str:
    env = " ".join(f"{k}={v}" for k, v in info.get("thread_env", {}).items()) or "-"
    backends = info.get("vpfilters_backends")
    if isinstance(backends, list):
        backends = ",".join(backends)
    return (f"machine: {info['cpu']} | {info['usable_cpus']}/{info['logical_cpus']} CPUs usable | "
            f"Python {info['python']} numpy {info['numpy']} | backends {backends} | env {env}")


# ------------------------------------------------------------------------------------ output


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def format_table(rows: list[dict], columns: list[str], headers: dict | None = None) -> str:
    """Plain aligned text table; numbers right-aligned, missing values shown as ``-``."""
    headers = headers or {}
    head = [headers.get(c, c) for c in columns]
    body = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows)
               for c in columns]

    def line(cells):
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric)).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    out.extend(line(b) for b in body)
    return "\n".join(out)


def write_json(path, data) -> Path:
    """Write ``data`` as indented JSON; the file appears only when complete."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p
