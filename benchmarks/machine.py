"""How well this machine runs two processes at once: a cache-resident job (sorting 200,000
floats) and a memory-bound one (adding 160 MB arrays), in one and in two processes.

Usage: python benchmarks/machine.py

The scale-out benchmark's speed-up from one worker to two cannot beat the second figure's
ratio for the memory-bound parts of a shard. Not part of the test suite.
"""

from __future__ import annotations

import time
from multiprocessing import Pool

import numpy as np

SECONDS = 4.0


def _sort(_: int) -> int:
    rng = np.random.default_rng(1)
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < SECONDS:
        rng.random(200_000).sort()
        n += 1
    return n


def _add(_: int) -> int:
    a, b = np.ones(20_000_000), np.ones(20_000_000)
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < SECONDS:
        np.add(a, b, out=a)
        n += 1
    return n


def main() -> None:
    for name, job in (("cache-resident sort", _sort), ("memory-bound add (160 MB)", _add)):
        done = {}
        for processes in (1, 2):
            with Pool(processes) as pool:
                done[processes] = sum(pool.map(job, range(processes)))
        print(
            f"{name:<28} 1 process {done[1]:>5}  2 processes {done[2]:>5}  "
            f"ratio {done[2] / done[1]:.2f}x"
        )


if __name__ == "__main__":
    main()
