"""Throughput and peak memory of one end-to-end run (simulate + write Parquet), one process.

Usage: python benchmarks/throughput.py [--customers 100000] [--days 30] [--scenario FILE]

Prints transactions/s end to end (simulation, frames, Parquet write with checksums and dataset
card) and the process's peak RSS. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from fraudsim import load_scenario
from fraudsim.api import run_to_directory
from fraudsim.world.model import World  # noqa: F401  (import Mesa before the clock starts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/baseline.toml")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the written run")
    args = parser.parse_args()
    config = load_scenario(args.scenario).with_overrides(
        **{"population.customers": args.customers, "days": args.days}
    )
    out = Path(tempfile.mkdtemp(prefix="fraudsim-bench-")) / config.name
    started = time.perf_counter()
    cpu_started = time.process_time()
    dataset = run_to_directory(config, out)
    cpu = time.process_time() - cpu_started
    finished = time.perf_counter()
    rows = dataset.transaction_rows
    total = finished - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scenario            {config.name}: {args.customers:,} customers x {args.days} days")
    print(f"transactions        {rows:,}")
    for key, value in dataset.timings.items():
        if key.endswith("_seconds"):
            print(f"  {key:<20}{value:6.2f} s")
    print(f"end to end          {total:.2f} s")
    print(f"CPU time            {cpu:.2f} s (both cores: {cpu / total:.2f} cores busy on average)")
    print(f"throughput          {rows / total:,.0f} transactions/s")
    print(f"peak RSS            {peak_mib:,.0f} MiB")
    if not args.keep:
        shutil.rmtree(out.parent, ignore_errors=True)
    else:
        print(f"kept                {out}")


if __name__ == "__main__":
    main()
