"""Throughput (cl. 4.3.2): warm-up, then the median of several timed runs, with the machine noted."""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class FPSResult:
    fps: float               # median frames per second
    runs: list[float]        # fps of each timed run
    frames: int              # frames per run
    threads: int | None
    machine: dict = field(default_factory=dict)


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": platform.platform()}


def measure_fps(run, frames: int, *, warmup: int = 1, repeat: int = 3,
                threads: int | None = None) -> FPSResult:
    """Time ``run()`` (which processes ``frames`` frames) ``repeat`` times after ``warmup`` runs."""
    for _ in range(warmup):
        run()
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        rates.append(frames / max(time.perf_counter() - t0, 1e-9))
    return FPSResult(statistics.median(rates), rates, frames, threads, machine_info())
