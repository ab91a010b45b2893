"""Rounds of detector versus fraudsters: a detector in the bank, fraudsters that adapt to it.

Design: **one continuing world per arm, split into round periods of `days` days**. Round 0 runs
without a detector; at its end the detector is fitted on round 0 with the labels the bank knows
by then (`reported_at` at or before the end of round 0). Rounds 1..N run with the detector in
the bank (world.agents.live_detector: batched scoring, blocks, honest customers unblocked after
review). At each round boundary the detector is swapped: a *fixed* arm keeps the round-0 model,
a *retrained* arm refits on the last `train_window_days` days with what the bank has learnt by
then - reported labels plus the frauds its own alerts confirmed. A continuing world rather than
separate worlds per round because adaptation lives in the typologies (their `evasion`) and in
running episodes; it then carries over between rounds as it would in a bank, with nothing to
copy between worlds. A round is the fraudsters' campaign: at its end each typology learns from
the share of its episodes the detector stopped in it (`LiveDetector.end_campaign`), so round 1
meets naive fraud and later rounds meet fraud that learnt from the rounds before.

Alerting: at a `threshold`, or with a `budget` (default) calibrated into a threshold at each fit
- the score that gives `budget` alerts a day on the detector's latest training days. The bank
keeps that operating point until it refits; a fixed daily top-k instead would make recall follow
each day's fraud volume rather than the detector's skill.

Arms: adaptive versus non-adaptive fraudsters (`fraud.adaptive`), fixed versus retrained
detector. The four worlds share the seed, so round 0 is the same in the arms of one adaptive
setting (and their round-0 model is fitted once).

Per round (amounts in major units): `recall` (fraudulent entity-days - a card, else an account,
with fraud rows that day and not blocked already when scored - that the detector alerted on
that day, at its threshold or budget),
`pr_auc` (the live scores of the round's rows against `is_fraud`), `fraud_loss` (accepted fraud
debits of victims), `friction` (legit rows declined because of a detector block, over legit
rows), `alerts`, `false_alert_share`, `threshold` (in force in the round), `stopped_share` and
`evasion` (per typology: the share of its episodes the detector stopped in the round, and what
the fraudsters had learnt at the round's end).
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from fraudsim.config.scenario import (
    DetectorConfig,
    ScenarioConfig,
    load_scenario,
    validate_scenario,
)
from fraudsim.core.errors import ConfigError, OutputError
from fraudsim.core.files import json_safe as _clean
from fraudsim.core.files import write_text_atomic as _atomic_write
from fraudsim.detection.detectors import Detector, load_detector
from fraudsim.detection.metrics import pr_auc
from fraudsim.evaluate import html
from fraudsim.evaluate.figures import plt, png
from fraudsim.world.agents.live_detector import LiveDetector, epoch_of
from fraudsim.world.model import World
from fraudsim.world.tables import transactions_frame

DEFAULT_CUSTOMERS = 3_000
DEFAULT_DAYS = 7
DEFAULT_BUDGET = 20
DEFAULT_TYPOLOGIES = (
    "card_testing.v1",
    "stolen_card.v1",
    "cnp_stolen_credentials.v1",
    "account_takeover.v1",
)
"""The built-in rounds scenario: the card and account typologies that learn from detectors."""


def default_scenario(seed: int = 11) -> ScenarioConfig:
    """The scenario `run_rounds` uses without one: `DEFAULT_TYPOLOGIES`, 3% fraud rows."""
    return validate_scenario(
        {
            "name": "rounds",
            "seed": seed,
            "fraud": {"target_share": 0.03},
            "typologies": [{"name": name} for name in DEFAULT_TYPOLOGIES],
        },
        "default rounds scenario",
    )


def run_rounds(
    detector: str | Detector = "gbm",
    scenario: str | Path | ScenarioConfig | None = None,
    rounds: int = 4,
    customers: int | None = DEFAULT_CUSTOMERS,
    days: int = DEFAULT_DAYS,
    train_days: int | None = None,
    adaptive: bool | None = None,
    retrain: bool | None = None,
    budget: int | None = DEFAULT_BUDGET,
    threshold: float | None = None,
    batch: str = "day",
    window_days: int = 7,
    train_window_days: int = 28,
    calibrate: bool = True,
) -> dict[str, Any]:
    """Simulate detector rounds (see the module docstring) and return the per-round figures.

    Args:
        detector: `rules`, `gbm`, `package.module:factory`, or an unfitted detector object
            (copied before each fit).
        scenario: Scenario file or config (default: `default_scenario()`); its
            `[bank.detector]`, if any, is replaced.
        rounds: Rounds with the detector (after round 0), >= 1.
        customers: Population override (None keeps the scenario's).
        days: Days per round with the detector.
        train_days: Days of round 0 (default `2 * days`: card frauds are reported after a
            median 7 days, so a short round 0 leaves the first model few labels).
        adaptive: Fraudsters adapt (True), do not (False), or both arms (None).
        retrain: Retrain at each round boundary (True), keep the round-0 model (False), or both.
        budget: Entities alerted per day; or `threshold`: alert at this score (give one).
        calibrate: With a budget, alert at the score that gives `budget` alerts a day on the
            last `days` days of the detector's training data, set at each fit (the bank's
            operating point), rather than on each day's `budget` highest: a fixed daily top-k
            makes recall follow the fraud volume of the day, not the detector's skill.
        batch: Score per `day` or per `hour`.
        window_days: Days of history the live features see.
        train_window_days: Days the retrained detector learns from.

    Returns:
        `{"detector", "scenario", "rounds", "days", "customers", "budget", "threshold",
        "arms": [{"adaptive", "retrain", "rounds": [{"round", "recall", ...}]}], "seconds"}`.

    Raises:
        ConfigError: One line, on a bad detector, scenario or setting.
    """
    started = time.perf_counter()
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f"rounds must be a positive integer (got {rounds!r})")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"days (per round) must be a positive integer (got {days!r})")
    train_days = 2 * days if train_days is None else train_days
    if isinstance(train_days, bool) or not isinstance(train_days, int) or train_days < 1:
        raise ConfigError(f"train_days must be a positive integer (got {train_days!r})")
    live = _live_config(detector, budget, threshold, batch, window_days, days)
    config = _base_config(scenario, customers, train_days + days * rounds)
    bounds = [0, *range(train_days, train_days + days * rounds + 1, days)]
    template = load_detector(detector) if isinstance(detector, str) else detector
    adaptive_arms = [True, False] if adaptive is None else [bool(adaptive)]
    retrain_arms = [False, True] if retrain is None else [bool(retrain)]
    arms = []
    for adapt in adaptive_arms:
        first: dict[str, Any] = {}  # round-0 model, shared by this setting's arms
        for again in retrain_arms:
            arm_config = config.with_overrides(**{"fraud.adaptive": adapt})
            figures = _run_arm(
                arm_config, template, live, bounds, again, train_window_days, first, calibrate
            )
            arms.append({"adaptive": adapt, "retrain": again, "rounds": figures})
    return _clean(
        {
            "detector": detector if isinstance(detector, str) else type(detector).__name__,
            "scenario": config.name,
            "rounds": rounds,
            "days": days,
            "train_days": train_days,
            "customers": config.population.customers,
            "budget": live.budget,
            "threshold": live.threshold,
            "batch": live.batch,
            "calibrated": bool(calibrate and live.budget),
            "arms": arms,
            "seconds": time.perf_counter() - started,
        }
    )


def _live_config(
    detector: str | Detector,
    budget: int | None,
    threshold: float | None,
    batch: str,
    window_days: int,
    days: int,
) -> DetectorConfig:
    if threshold is not None:
        budget = None
    name = detector if isinstance(detector, str) else "object"
    if not isinstance(detector, str) and not all(
        callable(getattr(detector, m, None)) for m in ("fit", "score")
    ):
        raise ConfigError(f"detector {type(detector).__name__} lacks fit/score methods")
    data = {
        "name": name,
        "budget": budget,
        "threshold": threshold,
        "batch": batch,
        "window_days": window_days,
        "train_days": days,
    }
    return validate_scenario(
        {"name": "rounds", "bank": {"detector": data}}, "rounds [bank.detector]"
    ).bank.detector  # type: ignore[return-value]


def _base_config(
    scenario: str | Path | ScenarioConfig | None, customers: int | None, total_days: int
) -> ScenarioConfig:
    if scenario is None:
        config = default_scenario()
    elif isinstance(scenario, ScenarioConfig):
        config = scenario
    else:
        config = load_scenario(scenario)
    data = config.model_dump()
    data["bank"]["detector"] = None  # the rounds put their own detector in the bank
    config = validate_scenario(data, f"scenario {config.name!r}")
    return config.with_overrides(**{"population.customers": customers, "days": total_days})


def _run_arm(
    config: ScenarioConfig,
    template: Detector,
    live: DetectorConfig,
    bounds: list[int],
    retrain: bool,
    train_window_days: int,
    first: dict[str, Any],
    calibrate: bool,
) -> list[dict[str, Any]]:
    """One continuing world: round r runs days `bounds[r]` to `bounds[r + 1]`; round 0 without
    the detector."""
    rounds = len(bounds) - 2

    world = World(config)
    world.bank.attach_detector(live, fit=False)  # the rounds decide when to fit
    detector = world.bank.detector
    assert detector is not None
    detector.campaign_days = None  # a round is the fraudsters' campaign
    frames: deque[pl.DataFrame] = deque(maxlen=train_window_days)
    end_evasion: dict[int, dict[str, float]] = {}
    stopped: dict[int, dict[str, float]] = {}
    cuts: dict[int, float | None] = {}  # the threshold in force in each round
    days = bounds[-1] - bounds[-2]

    def put(model: Detector, cut: float | None) -> None:
        detector.swap(model)
        if cut is not None:
            detector.config = live.model_copy(update={"threshold": cut, "budget": None})

    def boundary(day: int, rows: dict[str, np.ndarray]) -> None:
        frames.append(transactions_frame(world, rows))
        if day + 1 not in bounds:
            return
        r = bounds.index(day + 1) - 1  # the round that just ended
        stopped[r] = detector.end_campaign((day + 1) * 86_400)
        end_evasion[r] = {t.name: round(t.evasion, 4) for t in world.fraud.typologies}
        if r == rounds:
            return  # the last round: nothing follows it
        if r == 0 and "model" in first:
            put(first["model"], first["cut"])
        elif r == 0 or retrain:
            known = _as_known(pl.concat(frames), detector)
            model = _fit(template, known, config.name, r)
            cut = None
            if calibrate and live.budget:
                cut = _operating_threshold(model, known, detector, live.budget, days)
            first.setdefault("model", model)
            first.setdefault("cut", cut)
            put(model, cut)
        cuts[r + 1] = detector.config.threshold

    world.day_callbacks.append(boundary)
    world.run()
    out = []
    for r in range(rounds + 1):
        lo, hi = bounds[r], bounds[r + 1]
        stats = [detector.stats[d] for d in range(lo, hi)]
        figures = _round_figures(r, stats, world, lo, hi, end_evasion[r])
        shares = {k: round(v, 4) for k, v in stopped[r].items()}
        out.append({**figures, "threshold": cuts.get(r), "stopped_share": shares})
    return out


def _fit(template: Detector, frame: pl.DataFrame, scenario: str, r: int) -> Detector:
    model = copy.deepcopy(template)
    try:
        with threadpool_limits(limits=1):  # see LiveDetector._score
            fitted = model.fit(frame)
    except ConfigError as exc:
        raise ConfigError(
            f"rounds on {scenario!r}: fitting after round {r}: {exc}; use more customers or days"
        ) from None
    return fitted if fitted is not None else model


def _operating_threshold(
    model: Detector, frame: pl.DataFrame, detector: LiveDetector, budget: int, days: int
) -> float:
    """The score at which `model` alerts on `budget` entities a day (an entity-day scores its
    highest row) over the last `days` days of its training `frame`."""
    with threadpool_limits(limits=1):
        score = np.asarray(model.score(frame), dtype=np.float64)
    epoch = frame["timestamp"].dt.epoch("s").to_numpy()
    day = (epoch - epoch.min()) // 86_400
    last = day >= day.max() - days + 1
    kind, idx = detector.entities(frame)
    per = (
        pl.DataFrame({"day": day[last], "kind": kind[last], "idx": idx[last], "s": score[last]})
        .group_by("day", "kind", "idx")
        .agg(pl.col("s").max())
    )
    top = np.sort(per["s"].to_numpy())[::-1]
    k = min(budget * int(np.unique(day[last]).size), top.size)
    return float(top[k - 1]) if k else float("inf")


def _as_known(frame: pl.DataFrame, detector: LiveDetector) -> pl.DataFrame:
    """The training frame with the frauds the detector's alerts confirmed counted as reported
    from their confirmation (what the bank has learnt besides customers' reports)."""
    if not detector.confirmed:
        return frame
    kind, idx = detector.entities(frame)
    confirmed = {key: epoch_of(detector.world, t) for key, t in detector.confirmed.items()}
    epoch = frame["timestamp"].dt.epoch("s").to_numpy()
    known = np.full(frame.height, -1, np.int64)
    for i in np.flatnonzero(frame["is_fraud"].fill_null(False).to_numpy()).tolist():
        at = confirmed.get((int(kind[i]), int(idx[i])), -1)
        if at > epoch[i]:
            known[i] = at
    learnt = pl.from_epoch(pl.Series(known), time_unit="s").dt.replace_time_zone("UTC")
    learnt = learnt.dt.convert_time_zone(frame.schema["reported_at"].time_zone)  # type: ignore[attr-defined]
    learnt = learnt.cast(frame.schema["reported_at"])
    earlier = pl.Series(known >= 0) & (
        frame["reported_at"].is_null() | (frame["reported_at"] > learnt)
    ).fill_null(False)
    return frame.with_columns(
        reported_at=pl.when(earlier).then(learnt).otherwise(pl.col("reported_at"))
    )


def _round_figures(
    r: int, stats: list[Any], world: Any, first_day: int, end_day: int, evasion: dict[str, float]
) -> dict[str, Any]:
    fraud_days = sum(s.fraud_entity_days for s in stats)
    caught = sum(s.caught_entity_days for s in stats)
    alerts = sum(s.alerts for s in stats)
    legit = sum(s.legit_rows for s in stats)
    scores = [x for s in stats for x in s.scores]
    labels = [x for s in stats for x in s.labels]
    live = any(s.live for s in stats)
    y = np.concatenate(labels) if labels else np.zeros(0, bool)
    lo, hi = first_day * 86_400, end_day * 86_400
    episodes = [ep for ep in world.fraud.episodes if ep.is_fraud and lo <= ep.start < hi]
    return {
        "round": r,
        "detector": live,
        "recall": caught / fraud_days if live and fraud_days else None,
        "pr_auc": pr_auc(y, np.concatenate(scores)) if live and y.any() else None,
        "fraud_loss": sum(s.fraud_loss for s in stats),
        "friction": sum(s.legit_declined_by_detector for s in stats) / legit if legit else None,
        "alerts": alerts,
        "false_alert_share": 1 - sum(s.fraud_alerts for s in stats) / alerts if alerts else None,
        "fraud_entity_days": fraud_days,
        "fraud_rows": sum(s.fraud_rows for s in stats),
        "episodes": len(episodes),
        "episodes_blocked_by_detector": sum(ep.detected_by == "detector" for ep in episodes),
        "evasion": evasion,
    }


# --- output ----------------------------------------------------------------------------------


def _arm_label(arm: dict[str, Any]) -> str:
    who = "adaptive" if arm["adaptive"] else "non-adaptive"
    return f"{who} fraudsters, {'retrained' if arm['retrain'] else 'fixed'} detector"


def plot_rounds(result: dict[str, Any]) -> bytes:
    """A PNG: detector recall and fraud losses per round, one line per arm."""
    fig, (ax_recall, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.6))
    for arm in result["arms"]:
        rounds = [x for x in arm["rounds"] if x["detector"]]
        style = {
            "linestyle": "-" if arm["adaptive"] else "--",
            "color": "tab:orange" if arm["retrain"] else "tab:blue",
            "marker": "o",
            "label": _arm_label(arm),
        }
        ax_recall.plot(
            [x["round"] for x in rounds],
            [np.nan if x["recall"] is None else x["recall"] for x in rounds],
            **style,
        )
        ax_loss.plot(
            [x["round"] for x in arm["rounds"]], [x["fraud_loss"] for x in arm["rounds"]], **style
        )
    cut = _cut_label(result)
    ax_recall.set(title=f"Detector recall ({cut})", xlabel="round", ylabel="recall", ylim=(0, 1))
    ax_loss.set(title="Fraud losses", xlabel="round (0: no detector)", ylabel="major units")
    for ax in (ax_recall, ax_loss):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_recall.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return png(fig, dpi=110, tight=False)


def _cut_label(result: dict[str, Any]) -> str:
    if not result["budget"]:
        return f"score >= {result['threshold']}"
    if result.get("calibrated"):
        return f"cut for {result['budget']} alerts/day at each fit"
    return f"top {result['budget']}/day"


def _mean(values: Any) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def rounds_html(result: dict[str, Any]) -> str:
    """An HTML fragment (a `<section>`): the embedded plot and one row per arm and round."""
    head = [
        "arm",
        "round",
        "recall",
        "PR-AUC",
        "fraud loss",
        "friction",
        "alerts",
        "false alerts",
        "mean evasion",
    ]
    rows = [
        [
            _arm_label(arm),
            x["round"],
            x["recall"],
            x["pr_auc"],
            x["fraud_loss"],
            x["friction"],
            x["alerts"],
            x["false_alert_share"],
            _mean(x["evasion"].values()),
        ]
        for arm in result["arms"]
        for x in arm["rounds"]
    ]
    png_base64 = base64.b64encode(plot_rounds(result)).decode("ascii")
    return "\n".join(
        [
            "<section class='rounds'>",
            f"<h2>Detector rounds: <code>{html.esc(result['detector'])}</code> in the "
            f"bank, {result['rounds']} rounds of {result['days']} days</h2>",
            f"<p>Scenario <code>{html.esc(result['scenario'])}</code>, "
            f"{result['customers']:,} customers. Round 0 has no detector and trains it; a fixed "
            "detector keeps that model, a retrained one refits at each round on what the bank "
            "has learnt (reports and confirmed alerts). Alerts: "
            f"{html.esc(_cut_label(result))}. Adaptive fraudsters learn at each round's end "
            "from the share of their episodes the detector stopped.</p>",
            html.img(png_base64, "recall and losses per round"),
            html.table(head, rows, html.stat, numeric=True),
            "</section>",
        ]
    )


def write_rounds(result: dict[str, Any], out_dir: str | Path) -> Path:
    """Write `rounds.json` and `rounds.html` (a page around `rounds_html`) atomically."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the directory ({exc.strerror})") from None
    page = html.page("fraudsim rounds", [rounds_html(result)])
    _atomic_write(out / "rounds.json", json.dumps(result, indent=2, allow_nan=False) + "\n")
    _atomic_write(out / "rounds.html", page)
    return out
