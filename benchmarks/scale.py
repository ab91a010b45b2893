"""Scale-out benchmark: sharded runs on 1 and 2 workers, peak memory per worker over 30 and 365
days, and the time for 100 M transactions.

Usage:
    python benchmarks/scale.py                 # the README table (several minutes)
    python benchmarks/scale.py --quick         # smaller sizes, to try the script
    python benchmarks/scale.py one --rows 10e6 --workers 2   # a single measurement (JSON)

Each measurement runs in a fresh process (clean peak-RSS figures) and writes Parquet to a
temporary directory that is removed afterwards. Besides wall time and rows/s it reports the
CPU the shards used per row (their processes, writer threads included) and how many cores the
machine kept busy on average, which bounds what a second worker can add. Not part of the test
suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS_PER_CUSTOMER_DAY = 1.06  # baseline scenario, measured (3.17 M rows / 100,000 x 30 days)


def _cpu_ticks() -> tuple[int, int]:
    """Busy and stolen CPU time of the whole machine so far (clock ticks, /proc/stat): steal is
    time the hypervisor gave our virtual cores to someone else."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq, steal


def one(rows: float, days: int, workers: int, shard_size: int, scenario: str) -> dict:
    """Run once in this process and return the measurements."""
    from fraudsim import load_scenario
    from fraudsim.api import run_to_directory

    customers = max(1000, round(rows / (ROWS_PER_CUSTOMER_DAY * days)))
    config = load_scenario(scenario).with_overrides(
        **{"population.customers": customers, "days": days, "population.shard_size": shard_size}
    )
    out = Path(tempfile.mkdtemp(prefix="fraudsim-scale-")) / config.name
    try:
        busy, steal = _cpu_ticks()
        started = time.perf_counter()
        dataset = run_to_directory(config, out, workers=workers)
        wall = time.perf_counter() - started
        busy_after, steal_after = _cpu_ticks()
        tick = os.sysconf("SC_CLK_TCK")
        # The largest peak RSS of any process that ran a shard (a worker, or this process).
        worker_peak = round(dataset.timings["worker_peak_rss_mib"])
        return {
            "customers": customers,
            "days": days,
            "workers": workers,
            "shards": -(-customers // shard_size),
            "rows": dataset.transaction_rows,
            "wall_seconds": round(wall, 2),
            "shards_wall_seconds": round(dataset.timings["shards_wall_seconds"], 2),
            "rows_per_second": round(dataset.transaction_rows / wall),
            "peak_rss_mib_driver": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "worker_peak_rss_mib": worker_peak,
            # CPU the shards used (their processes, writer threads included), per row, and
            # how many cores the machine kept busy on average (everything running).
            "shard_cpu_seconds": round(dataset.timings["cpu_seconds"], 2),
            "cpu_ns_per_row": round(
                dataset.timings["cpu_seconds"] / dataset.transaction_rows * 1e9
            ),
            "cores_busy": round((busy_after - busy) / tick / wall, 2),
            "steal_seconds": round((steal_after - steal) / tick, 2),
        }
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def _measure(
    rows: float, days: int, workers: int, shard_size: int, scenario: str, one_core: bool = False
) -> dict:
    # `one_core`: pinned to CPU 0 with taskset, so that "one worker" is one core (unpinned,
    # a single process also uses the second core for its Parquet writer thread).
    cmd = [
        *(["taskset", "-c", "0"] if one_core else []),
        sys.executable,
        __file__,
        "one",
        "--rows",
        str(rows),
        "--days",
        str(days),
        "--workers",
        str(workers),
        "--shard-size",
        str(shard_size),
        "--scenario",
        scenario,
    ]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), file=sys.stderr)
    return result


def _row(label: str, workers: str, r: dict) -> str:
    return (
        f"| {label} | {workers} | {r['rows']:,} | {r['wall_seconds']} | "
        f"{r['rows_per_second'] / 1e6:.2f} M/s | {r['cpu_ns_per_row']:,} | {r['cores_busy']} | "
        f"{r['worker_peak_rss_mib']} |"
    )


def table(quick: bool, scenario: str, repeat: int) -> None:
    shard = 100_000
    ten_m = 2e6 if quick else 10e6
    hundred_m = 10e6 if quick else 100e6
    print(
        "| run | workers | rows | wall s | rows/s | shard CPU ns/row | cores busy "
        "| peak RSS per worker, MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    # The three 10 M runs interleaved `repeat` times (this machine's speed drifts between
    # minutes); the median run of each is shown.
    modes = (("1, pinned to one core", 1, True), ("1", 1, False), ("2", 2, False))
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in modes}
    for _ in range(repeat):
        for label, workers, one_core in modes:
            runs[label].append(_measure(ten_m, 30, workers, shard, scenario, one_core))
    median = {
        label: sorted(rs, key=lambda r: r["rows_per_second"])[len(rs) // 2]
        for label, rs in runs.items()
    }
    for label, _, _ in modes:
        spread = sorted(r["rows_per_second"] / 1e6 for r in runs[label])
        print(
            _row(
                f"{ten_m / 1e6:.0f} M transactions (median of {repeat}: "
                f"{spread[0]:.2f}-{spread[-1]:.2f} M/s)",
                label,
                median[label],
            )
        )
    two = median["2"]["rows_per_second"]
    for label in ("1, pinned to one core", "1"):
        ratio = two / median[label]["rows_per_second"]
        print(f"| speed-up to 2 workers from {label} | | | | {ratio:.2f}x | | | |")
    # One worker keeps more than a core busy (its writer thread): two cores cannot give more
    # than this over it, however the work is spread.
    print(
        f"| ceiling on 2 cores: 2 / cores busy with 1 worker | | | | "
        f"{2 / median['1']['cores_busy']:.2f}x | | | |"
    )
    for days in (30, 365):
        rows = shard * ROWS_PER_CUSTOMER_DAY * days  # one full shard of customers
        r = _measure(rows if not quick else rows / 5, days, 1, shard, scenario)
        print(_row(f"one shard, {days} days", "1", r))
    # The same number of rows as many customers over a month, and as fewer over most of a
    # year (building customers costs about as much as a month of their traffic).
    for days, scale in ((30, 1.0), (250, 1.06)):  # fewer rows per customer-day over a year
        r = _measure(hundred_m * scale, days, 2, shard, scenario)
        label = (
            f"{hundred_m / 1e6:.0f} M transactions, {r['customers']:,} customers x {days} days "
            f"({r['shards']} shards)"
        )
        print(_row(label, "2", r))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="table", choices=["table", "one"])
    parser.add_argument("--rows", type=float, default=10e6)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--shard-size", type=int, default=100_000)
    parser.add_argument("--scenario", default="scenarios/baseline.toml")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of the 10 M set")
    args = parser.parse_args()
    if args.mode == "one":
        print(json.dumps(one(args.rows, args.days, args.workers, args.shard_size, args.scenario)))
    else:
        table(args.quick, args.scenario, args.repeat)


if __name__ == "__main__":
    main()
