"""The ULB Fraud Detection Handbook's baseline on a fraudsim run, next to the published figures.

Usage: python benchmarks/handbook.py [RUN_DIR] [--scenario FILE --customers N --days D
       --target-share S --out DIR]

With RUN_DIR, evaluates that run; otherwise simulates the scenario first (default:
scenarios/realistic_month.toml at its own size). Prints the Markdown table the README shows:
ROC AUC, average precision and card precision@100 of logistic regression, a random forest and
gradient boosting on the run's online card purchases (7 days train, 7 days delay, 7 days test).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fraudsim import load_scenario
from fraudsim.api import run_to_directory
from fraudsim.evaluate.handbook import handbook_baseline, markdown_table, online_purchases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path)
    parser.add_argument("--scenario", default="scenarios/realistic_month.toml")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--target-share", type=float, help="override [fraud] target_share")
    parser.add_argument("--out", type=Path, default=Path("outputs/handbook"))
    args = parser.parse_args()
    run_dir = args.run_dir
    if run_dir is None:
        config = load_scenario(args.scenario).with_overrides(
            **{
                "population.customers": args.customers,
                "days": args.days,
                "fraud.target_share": args.target_share,
            }
        )
        started = time.perf_counter()
        run_to_directory(config, args.out)
        print(f"simulated {config.name} into {args.out} in {time.perf_counter() - started:.1f} s")
        run_dir = args.out
    purchases = online_purchases(run_dir)
    print(
        f"{purchases.height:,} online card purchases, "
        f"{purchases['is_fraud'].mean():.4%} fraud; evaluating..."
    )
    result = handbook_baseline(run_dir)
    print(
        f"train from {result.train_start}: {result.rows['train']:,} rows "
        f"({result.fraud_share['train']:.3%} fraud), test {result.rows['test']:,} rows "
        f"({result.fraud_share['test']:.3%} fraud)\n"
    )
    print(markdown_table(result, run_dir.name))


if __name__ == "__main__":
    main()
