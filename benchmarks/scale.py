"""Scale-out benchmark: sharded runs on 1 and 2 workers, peak memory per worker over 30 and 365
days, and the time for 100 M transactions.

Usage:
    python benchmarks/scale.py                 # the README table (several minutes)
    python benchmarks/scale.py --quick         # smaller sizes, to try the script
    python benchmarks/scale.py one --rows 10e6 --workers 2   # a single measurement (JSON)

Each measurement runs in a fresh process (clean peak-RSS figures) and writes Parquet to a
temporary directory that is removed afterwards. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS_PER_CUSTOMER_DAY = 1.06  # baseline scenario, measured (3.17 M rows / 100,000 x 30 days)


def one(rows: float, days: int, workers: int, shard_size: int, scenario: str) -> dict:
    """Run once in this process and return the measurements."""
    from fraudsim import load_scenario
    from fraudsim.dataset import run_to_directory

    customers = max(1000, round(rows / (ROWS_PER_CUSTOMER_DAY * days)))
    config = load_scenario(scenario).with_overrides(
        **{"population.customers": customers, "days": days, "population.shard_size": shard_size}
    )
    out = Path(tempfile.mkdtemp(prefix="fraudsim-scale-")) / config.name
    try:
        started = time.perf_counter()
        dataset = run_to_directory(config, out, workers=workers)
        wall = time.perf_counter() - started
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


def table(quick: bool, scenario: str) -> None:
    shard = 100_000
    ten_m = 2e6 if quick else 10e6
    hundred_m = 10e6 if quick else 100e6
    print("| measurement | workers | rows | wall s | rows/s | peak RSS per worker, MiB |")
    print("|---|---|---|---|---|---|")
    speed = {}
    for label, workers, one_core in (
        ("1 (one core)", 1, True),
        ("1", 1, False),
        ("2", 2, False),
    ):
        r = _measure(ten_m, 30, workers, shard, scenario, one_core)
        speed[label] = r["rows_per_second"]
        engine = r["rows"] / r["shards_wall_seconds"]
        print(
            f"| {ten_m / 1e6:.0f} M transactions | {label} | {r['rows']:,} | "
            f"{r['wall_seconds']} (shards {r['shards_wall_seconds']}) | "
            f"{r['rows_per_second']:,} (shards {engine:,.0f}) | {r['worker_peak_rss_mib']} |"
        )
    for base in ("1 (one core)", "1"):
        print(f"| speed-up {base} -> 2 workers | | | | {speed['2'] / speed[base]:.2f}x | |")
    for days in (30, 365):
        rows = shard * ROWS_PER_CUSTOMER_DAY * days  # one full shard of customers
        r = _measure(rows if not quick else rows / 5, days, 1, shard, scenario)
        print(
            f"| one shard, {days} days | 1 | {r['rows']:,} | {r['wall_seconds']} | "
            f"{r['rows_per_second']:,} | {r['worker_peak_rss_mib']} |"
        )
    # The same number of rows as many customers over a month, and as fewer over most of a
    # year (building customers costs about as much as a month of their traffic).
    for days, scale in ((30, 1.0), (250, 1.06)):  # fewer rows per customer-day over a year
        r = _measure(hundred_m * scale, days, 2, shard, scenario)
        print(
            f"| {hundred_m / 1e6:.0f} M transactions, {r['customers']:,} customers x {days} days "
            f"({r['shards']} shards) | 2 | {r['rows']:,} | {r['wall_seconds']} "
            f"(shards {r['shards_wall_seconds']}) | {r['rows_per_second']:,} | "
            f"{r['worker_peak_rss_mib']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="table", choices=["table", "one"])
    parser.add_argument("--rows", type=float, default=10e6)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--shard-size", type=int, default=100_000)
    parser.add_argument("--scenario", default="scenarios/baseline.toml")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.mode == "one":
        print(json.dumps(one(args.rows, args.days, args.workers, args.shard_size, args.scenario)))
    else:
        table(args.quick, args.scenario)


if __name__ == "__main__":
    main()
