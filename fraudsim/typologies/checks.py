"""A contract suite for typologies, in the style of scikit-learn's `parametrize_with_checks`.

Every typology, built-in or plugin, should pass these checks. A plugin author writes::

    from fraudsim import simulate
    from fraudsim.typologies.checks import parametrize_with_checks

    @parametrize_with_checks([MyTypology], simulate=simulate)
    def test_contract(typology, check):
        check()

or calls `check_typology(MyTypology, simulate=simulate)` (AssertionError on failure).

`simulate` is passed in rather than imported: this module sits in the typologies layer, below
the world and the API that run worlds (docs/design.md, "Layers and the rule"), the way
`export.run.RunTables` lets the exporter take a run it cannot import.

At ~470 lines this module is over the house's ~400: the eight checks share one cached pair of
runs (with and without the typology) and are read together by plugin authors.
"""

from __future__ import annotations

import functools
import re
import traceback
import unittest
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, get_args

import polars as pl
import simpy
from pydantic import BaseModel, ValidationError

from fraudsim.config.scenario import ScenarioConfig, validate_scenario
from fraudsim.core.codes import DECLINE_REASONS
from fraudsim.typologies import registry
from fraudsim.typologies.base import Episode, Family, Outcome, Process, ReportKind, Typology

if TYPE_CHECKING:
    import pytest

__all__ = ["SkipCheck", "check_typology", "parametrize_with_checks", "typology_checks"]

SEED = 20250303
EPISODES = 3  # an exact count: the engine starts exactly this many, whatever the default rate
# Honest rows are compared on these; transaction_id is left out (ids are ranks in time order
# of honest and fraud rows merged, so fraud rows shift them), as in tests/test_fraud.py.
HONEST_KEY = ["timestamp", "customer_id", "account_id", "card_id", "merchant_id", "amount"]
HONEST_KEY += ["channel", "tx_type"]
README = Path(__file__).resolve().parents[2] / "README.md"


class Run(Protocol):
    """A simulated run as the checks read it (`dataset.Dataset` satisfies it)."""

    @property
    def tables(self) -> Mapping[str, pl.DataFrame]: ...


Simulate = Callable[[ScenarioConfig], Run]
Check = Callable[[], None]


class SkipCheck(unittest.SkipTest):
    """A check that cannot judge this typology (pytest reports a SkipTest as a skip)."""


def _config(customers: int, days: int, *names: str, **schedule: int) -> ScenarioConfig:
    """A small scenario running `names`, each with exactly `EPISODES` episodes."""
    entries = [{"name": n, "schedule": {"episodes": EPISODES, **schedule}} for n in names]
    data = {"name": "typology_contract", "seed": SEED, "days": days, "typologies": entries}
    return validate_scenario({**data, "population": {"customers": customers}}, "contract")


@dataclass
class _Harness:
    """One typology under test: its world is simulated once and shared by its checks."""

    cls: type[Typology]
    simulate: Simulate
    customers: int
    days: int
    _run: Mapping[str, pl.DataFrame] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return self.cls.name or self.cls.__qualname__

    def simulate_tables(self, *names: str, **schedule: int) -> Mapping[str, pl.DataFrame]:
        return self.simulate(_config(self.customers, self.days, *names, **schedule)).tables

    def run(self) -> Mapping[str, pl.DataFrame]:
        """The world with this typology only (simulated on first use)."""
        if self._run is None:
            self._run = self.simulate_tables(self.cls.name)
        return self._run

    def episodes(self) -> pl.DataFrame:
        """This typology's episodes; SkipCheck if none started."""
        eps = self.run()["episodes"].filter(pl.col("typology") == self.cls.name)
        if eps.height == 0:
            size = f"{self.customers} customers x {self.days} days"
            raise SkipCheck(f"no episode of {self.label} started in {size} (and no crash)")
        return eps


@functools.lru_cache(maxsize=4)
def _baseline(simulate: Simulate, customers: int, days: int) -> pl.DataFrame:
    """Transactions of the same world without any typology, shared by every typology."""
    return simulate(_config(customers, days)).tables["transactions"]


# -- the checks ---------------------------------------------------------------------------------


def check_class_attributes(h: _Harness) -> None:
    """Registered versioned name, allowed family and report kind, a one-line description, a
    `Params` model that forbids unknown keys, a non-negative default rate."""
    cls, problems = h.cls, []
    if not registry.NAME.match(cls.name or ""):
        problems.append(f"name {cls.name!r} is not a versioned registry name like 'x_y.v1'")
    else:
        try:
            registered = registry.get(cls.name)
        except Exception as exc:  # ConfigError: unknown name
            registered = exc
        if registered is not cls:
            problems.append(f"registry.get({cls.name!r}) is not this class ({registered!r})")
    if cls.family not in get_args(Family):
        problems.append(f"family {cls.family!r} not in {get_args(Family)}")
    if cls.report_kind not in get_args(ReportKind):
        problems.append(f"report_kind {cls.report_kind!r} not in {get_args(ReportKind)}")
    if type(cls.is_fraud) is not bool:
        problems.append(f"is_fraud must be a bool, got {cls.is_fraud!r}")
    if cls.family == "lookalike" and cls.is_fraud:
        problems.append("a lookalike is honest behaviour: is_fraud must be False")
    desc = cls.description
    if not isinstance(desc, str) or not desc.strip() or "\n" in desc.strip():
        problems.append(f"description must be one non-empty line, got {desc!r}")
    rate = cls.default_rate_per_day
    if not isinstance(rate, int | float) or not rate >= 0:  # `not >=` also rejects NaN
        problems.append(f"default_rate_per_day must be a number >= 0, got {rate!r}")
    params = cls.Params
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        problems.append(f"Params must be a pydantic model class, got {params!r}")
    elif params.model_config.get("extra") != "forbid":
        problems.append(
            f"Params {params.__name__} must set extra='forbid' (subclass TypologyParams); "
            f"it has extra={params.model_config.get('extra')!r}"
        )
    assert not problems, "; ".join(problems)


def check_params_validate(h: _Harness) -> None:
    """Every parameter has a default that passes its own constraints; unknown keys are errors."""
    params = h.cls.Params
    try:
        defaults = params()
        # Pydantic does not validate defaults: validate them as if a scenario had given them.
        params.model_validate(defaults.model_dump())
    except ValidationError as exc:
        raise AssertionError(f"the defaults of {params.__name__} do not validate: {exc}") from exc
    try:
        params.model_validate({"no_such_parameter": 1})
    except ValidationError:
        return
    raise AssertionError(f"{params.__name__} accepts an unknown key 'no_such_parameter'")


def check_world_runs(h: _Harness) -> None:
    """A small world with only this typology simulates and starts at least one episode
    (`SkipCheck` if it legitimately starts none)."""
    h.episodes()


def check_labels(h: _Harness) -> None:
    """Rows, events and episodes are labelled as the README's schema says for this class:
    look-alikes `is_fraud = false` with a `pattern`, friendly fraud `is_fraud = false` with
    `reported_at`; rows outside episodes unlabelled; `episodes.rows` counts the episode's rows;
    `reported_at` never before the attempt."""
    cls, tables, eps = h.cls, h.run(), h.episodes()
    col, lookalike = pl.col, cls.family == "lookalike"
    ours = col("episode_id").is_in(eps["episode_id"].implode()).fill_null(False)
    outside, reported = col("episode_id").is_null(), col("reported_at").is_not_null()
    labelled = col("fraud_type").is_not_null() | col("pattern").is_not_null() | col("is_fraud")
    # (what, bad rows) for transactions and events alike, then for transactions only
    rules: list[tuple[str, pl.Expr]] = [
        (
            f"with fraud_type {cls.name} but none of its episodes",
            (col("fraud_type") == cls.name) & ~ours,
        ),
        ("of its episodes with another fraud_type", ours & col("fraud_type").ne_missing(cls.name)),
        (
            f"of its episodes with is_fraud != {cls.is_fraud}",
            ours & (col("is_fraud") != cls.is_fraud),
        ),
        ("outside any episode with a label", outside & labelled),
        (
            f"of its episodes {'without' if lookalike else 'with'} a pattern",
            ours & (col("pattern").is_null() if lookalike else col("pattern").is_not_null()),
        ),
    ]
    tx_rules = [
        ("reported before they happened", col("reported_at") < col("timestamp")),
        (
            "outside any episode with reported_at or a role",
            outside & (reported | (col("account_role") != "none")),
        ),
    ]
    if not cls.is_fraud and cls.report_kind == "dispute":  # friendly fraud: reported_at set
        tx_rules.append(("of its disputed episodes without reported_at", ours & ~reported))
    if cls.report_kind == "never":
        tx_rules.append(("of its never-reported episodes with reported_at", ours & reported))
    counts = tables["transactions"].filter(ours).group_by("episode_id").agg(pl.len().alias("n"))
    ep_rules = [
        (f"with is_fraud != {cls.is_fraud}", col("is_fraud") != cls.is_fraud),
        ("whose rows differ from their transaction rows", col("rows") != col("n").fill_null(0)),
        ("reported before they started", col("reported_at") < col("start")),
        ("without a pattern (look-alike)", col("pattern").is_null() & lookalike),
    ]
    problems = [
        f"{n} {what} {why}"
        for what, frame, frame_rules in (
            ("transaction rows", tables["transactions"], rules + tx_rules),
            ("event rows", tables["events"], rules),
            ("episodes", eps.join(counts, on="episode_id", how="left"), ep_rules),
        )
        for why, bad in frame_rules
        if (n := frame.filter(bad.fill_null(False)).height)
    ]
    assert not problems, "; ".join(problems)


def check_deterministic(h: _Harness) -> None:
    """The same scenario and seed give identical tables."""
    first, again = h.run(), h.simulate_tables(h.cls.name)
    for table in ("transactions", "events", "episodes"):
        if not first[table].equals(again[table]):
            a, b = first[table], again[table]
            cols = [c for c in a.columns if a.height != b.height or not a[c].equals(b[c])]
            raise AssertionError(f"two runs with seed {SEED} differ in {table} ({cols[:5]})")


def check_honest_rows_unchanged(h: _Harness) -> None:
    """Adding the typology leaves honest rows as they were (docs/design.md, "Honest traffic
    never depends on fraud"), except card repayments (they pay the card's real balance), a
    lost card's own use after its episode started (`Actions.card_lost`) and the use of accounts
    an episode took (frozen, or a mule exited by the bank) after it started."""

    def honest(frame: pl.DataFrame) -> pl.DataFrame:
        ok = pl.col("episode_id").is_null() & (pl.col("tx_type") != "card_repayment")
        return frame.filter(ok).select(HONEST_KEY)

    base, run = honest(_baseline(h.simulate, h.customers, h.days)), h.run()
    attacked = honest(run["transactions"])
    if attacked.equals(base):
        return
    taken = run["episodes"].select(pl.col("card_ids").alias("card_id"), "start")
    lost = taken.explode("card_id").group_by("card_id").agg(pl.col("start").min())
    # A customer whose card was blocked pays with their other card (or a replacement) from then
    # on: those rows move cards, they are not new behaviour.
    holders = (
        lost.join(run["cards"].select("card_id", "customer_id"), on="card_id")
        .group_by("customer_id")
        .agg(pl.col("start").min().alias("blocked_from"))
    )
    extra = (
        attacked.join(base, on=HONEST_KEY, how="anti", nulls_equal=True)
        .join(holders, on="customer_id", how="left")
        .filter(pl.col("blocked_from").is_null() | (pl.col("timestamp") < pl.col("blocked_from")))
    )
    assert extra.height == 0, f"{extra.height} honest rows appear only with the typology"
    missing = base.join(attacked, on=HONEST_KEY, how="anti", nulls_equal=True)
    # Accounts an episode used (a mule's, a victim's) may be frozen or exited by the bank: their
    # owners' honest use can stop from the episode's start on.
    used = (
        run["episodes"]
        .select(pl.col("account_ids").alias("account_id"), "start")
        .explode("account_id")
        .join(run["accounts"].select("account_id", "customer_id"), on="account_id")
        .group_by("customer_id")
        .agg(pl.col("start").min().alias("owner_start"))
    )
    unexplained = (
        missing.join(lost, on="card_id", how="left")
        .join(used, on="customer_id", how="left")
        .filter(
            (pl.col("start").is_null() | (pl.col("timestamp") < pl.col("start")))
            & (pl.col("owner_start").is_null() | (pl.col("timestamp") < pl.col("owner_start")))
        )
    )
    assert unexplained.height == 0, (
        f"{unexplained.height} honest rows vanish with the typology, not on a card its episode "
        f"took, e.g. {unexplained.row(0, named=True)}"
    )


def check_adaptation_hooks(h: _Harness) -> None:
    """`on_declined` (every decline reason), `learn`, a detector's interrupt (`on_detected`,
    `on_interrupt`) in the middle of live episodes do not raise."""
    probe = _probe_class(h.cls)
    registry.register(probe.name)(probe)
    try:
        # Every episode starts on day 0: the most time to act (and meet the hooks) in the run.
        h.simulate_tables(probe.name, end_day=1)
    finally:
        # The registry has no unregister: the probe is test-only, so take it out by hand.
        registry._REGISTRY.pop(probe.name, None)
    if not probe.poked:
        raise SkipCheck(f"no episode of {h.label} acted or ended: the hooks were not exercised")


def check_readme_catalogue(h: _Harness) -> None:
    """A built-in typology has a row in the README's catalogue that agrees with its class."""
    cls = h.cls
    if not cls.__module__.startswith("fraudsim.typologies."):
        raise SkipCheck(f"{h.label} is a plugin: the README lists built-ins only")
    if not README.is_file() or "### The typology catalogue" not in README.read_text("utf-8"):
        raise SkipCheck("the README's typology catalogue is not here (installed package)")
    row = re.search(
        rf"^\|\s*`{re.escape(cls.name)}`\s*\|(.*)\|\s*$", README.read_text("utf-8"), re.M
    )
    assert row, f"no row for `{cls.name}` in the README's typology catalogue"
    family, fraud, behaviour = (c.strip() for c in row.group(1).split("|", 2))
    expected = (cls.family, "yes" if cls.is_fraud else "no", " ".join(cls.description.split()))
    assert (family, fraud, behaviour) == expected, (
        f"README row (family, fraud, behaviour) {(family, fraud, behaviour)} != class {expected}"
    )


CHECKS: tuple[Callable[[_Harness], None], ...] = (
    check_class_attributes,
    check_params_validate,
    check_world_runs,
    check_labels,
    check_deterministic,
    check_honest_rows_unchanged,
    check_adaptation_hooks,
    check_readme_catalogue,
)


# -- the adaptation probe -----------------------------------------------------------------------


def _probe_class(cls: type[Typology]) -> Any:
    """A subclass of `cls` that, once an episode has touched a card or account (only then does
    the bank interrupt it), feeds it a decline of every reason, lets the fraudsters learn, and
    interrupts it as the live detector would; the engine then runs `on_detected` and
    `on_interrupt` as in a real block."""
    stem, version = cls.name.split(".") if "." in cls.name else ("unnamed", "v1")

    def poke(self: Typology, ep: Episode) -> None:
        for reason in DECLINE_REASONS[1:]:
            self.on_declined(ep, Outcome(False, reason, int(self.ch.now), 1_000))
        self.learn(0.5)  # later episodes plan with what was learnt (the `evades` branches)
        probe.poked.add(ep.id)

    def run(self: Typology, ep: Episode) -> Process:
        inner = cls.run(self, ep)
        resume: Callable[[], Any] = inner.__next__
        while True:
            try:
                event = resume()
            except StopIteration:
                break
            strike = ep.id not in probe.poked and bool(ep.cards or ep.accounts)
            if strike:
                poke(self, ep)
                event = self.ch.wait(1)  # the detector strikes a second into the next wait
            try:
                value = yield event
            except simpy.Interrupt as real:  # a real block: the typology handles it
                resume = functools.partial(inner.throw, real)
                continue
            if strike:  # the cause a detector's block gives (FraudEngine.blocked)
                cause = f"{'card' if ep.cards else 'account'} detector"
                resume = functools.partial(inner.throw, simpy.Interrupt(cause))
            else:
                resume = functools.partial(inner.send, value)
        if ep.id not in probe.poked:  # it never touched anything: the hooks still run once
            poke(self, ep)

    probe: Any = type(f"{cls.__name__}ContractProbe", (cls,), {"run": run})
    probe.poked = set()
    probe.name = f"{stem}_contract_probe.{version}"
    return probe


# -- the public entry points ---------------------------------------------------------------------


def _resolve(cls_or_name: type[Typology] | str) -> type[Typology]:
    return registry.get(cls_or_name) if isinstance(cls_or_name, str) else cls_or_name


def _bind(check: Callable[[_Harness], None], h: _Harness) -> Check:
    def bound() -> None:
        try:
            check(h)
        except unittest.SkipTest:
            raise
        except Exception as exc:  # a crash in the typology is a failed check too
            root = exc
            while root.__cause__ is not None:  # simpy re-raises a copy caused by the original
                root = root.__cause__
            where = traceback.extract_tb(root.__traceback__)[-1]
            what = str(exc) or f"(no message) at {where.filename}:{where.lineno}"
            if not isinstance(exc, AssertionError) or not str(exc):
                what = f"{type(exc).__name__}: {what}"
            raise AssertionError(f"{h.label} failed {check.__name__}: {what}") from exc

    return functools.update_wrapper(bound, check)


def typology_checks(
    cls: type[Typology], *, simulate: Simulate, customers: int = 400, days: int = 6
) -> Iterator[Check]:
    """The contract checks for one typology, each a callable named like `check_labels`.

    Args:
        cls: the typology class (registered: the world finds it by name).
        simulate: `fraudsim.simulate` (passed in: this layer cannot import the world).
        customers: customers of the small test world.
        days: days it runs.

    Yields:
        Zero-argument checks; each raises AssertionError naming the typology and the check,
        or `SkipCheck` when it cannot judge the typology. The checks share their worlds.
    """
    h = _Harness(cls, simulate, customers, days)
    for check in CHECKS:
        yield _bind(check, h)


def check_typology(
    cls_or_name: type[Typology] | str,
    *,
    simulate: Simulate,
    customers: int = 400,
    days: int = 6,
) -> None:
    """Run every contract check on one typology.

    Args:
        cls_or_name: the typology class or its registry name.
        simulate: `fraudsim.simulate`.
        customers: customers of the small test world.
        days: days it runs.

    Raises:
        AssertionError: naming the typology and every failed check. Skipped checks pass.
    """
    failures = []
    for check in typology_checks(
        _resolve(cls_or_name), simulate=simulate, customers=customers, days=days
    ):
        try:
            check()
        except unittest.SkipTest:
            continue
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def parametrize_with_checks(
    classes: Iterable[type[Typology] | str],
    *,
    simulate: Simulate,
    customers: int = 400,
    days: int = 6,
    expected_failures: Mapping[str, Mapping[str, str]] | None = None,
) -> pytest.MarkDecorator:
    """A `pytest.mark.parametrize` over (typology, check), with ids like
    `card_testing.v1-check_labels`; the test calls `check()`.

    Args:
        classes: typology classes or registry names.
        simulate: `fraudsim.simulate`.
        customers: customers of the small test worlds.
        days: days they run.
        expected_failures: {typology name: {check name: reason}}, marked xfail(strict=True)
            so a known failure stays visible and its fix is noticed.
    """
    import pytest  # here, not at the top: fraudsim does not need pytest at run time

    known = expected_failures or {}
    params = []
    for cls in map(_resolve, classes):
        for check in typology_checks(cls, simulate=simulate, customers=customers, days=days):
            label = cls.name or cls.__qualname__
            reason = known.get(label, {}).get(check.__name__)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(cls, check, marks=marks, id=f"{label}-{check.__name__}"))
    return pytest.mark.parametrize(("typology", "check"), params)
