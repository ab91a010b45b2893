"""Honest events in sessions: logins with the events they come with, at the gaps real apps and
people leave, phones handed down to a housemate, and logins before online-banking payments."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fraudsim.calibration import Profile
from fraudsim.core.codes import CHANNELS, EVENT_TYPES
from fraudsim.core.ledger import make_batch
from fraudsim.core.rng import SeedStreams
from fraudsim.core.units import DAY
from fraudsim.dataset import Dataset
from fraudsim.world.population import build_population
from fraudsim.world.traffic.events import LegitEvents

EV = {name: i for i, name in enumerate(EVENT_TYPES)}
N, DAYS = 600, 20


def _profile(profile: Profile, **population: float) -> Profile:
    """The default profile with busier events (so a small world shows every session kind)."""
    events = profile.events.model_copy(
        update={
            "device_change_per_customer_month": 0.5,
            "password_reset_per_customer_month": 0.5,
            "phone_change_per_customer_month": 0.2,
            "address_change_per_customer_month": 0.2,
        }
    )
    pop = profile.population.model_copy(update=population)
    return profile.model_copy(update={"events": events, "population": pop})


def _run(profile: Profile, days: int = DAYS, seed: int = 3) -> tuple[pl.DataFrame, LegitEvents]:
    streams = SeedStreams(seed)
    pop = build_population(streams, profile, N, None, "en_US", 2025)
    legit = LegitEvents(pop, profile, streams)
    frames = []
    for day in range(days):
        ev = legit.day(day)
        assert (np.diff(ev["t"]) >= 0).all()  # in time order
        assert ((ev["t"] >= day * DAY) & (ev["t"] < (day + 1) * DAY)).all()  # on their day
        frames.append(pl.DataFrame({k: ev[k] for k in ("t", "customer", "device", "event_type")}))
    return pl.concat(frames), legit


def _next_of(events: pl.DataFrame, kind: str, then: str) -> pl.DataFrame:
    """Each `kind` event with the customer's next `then` event at or after it (gap, device)."""
    a = events.filter(pl.col("event_type") == EV[kind]).sort("t")
    b = (
        events.filter(pl.col("event_type") == EV[then])
        .sort("t")
        .select("customer", pl.col("t").alias("t2"), pl.col("device").alias("device2"))
    )
    j = a.join_asof(
        b, left_on="t", right_on="t2", by="customer", strategy="forward", check_sortedness=False
    )
    return j.with_columns((pl.col("t2") - pl.col("t")).alias("gap"))


def test_new_phone_comes_with_its_first_login_in_the_same_second_or_two(
    profile: Profile,
) -> None:
    p = _profile(profile)
    events, _ = _run(p)
    changes = events.filter(pl.col("event_type") == EV["device_change"])
    logins = events.filter(pl.col("event_type") == EV["login"]).select(
        "customer", "device", pl.col("t").alias("t2")
    )
    pairs = (
        changes.join(logins, on=["customer", "device"])
        .with_columns((pl.col("t2") - pl.col("t")).alias("gap"))
        .filter(pl.col("gap").abs() <= p.sessions.app_step_max_seconds)
        .group_by("customer", "device", "t")
        .agg(pl.col("gap").first())
    )
    assert changes.height > 50 and pairs.height == changes.height
    same = (pairs["gap"] == 0).mean()
    assert same == pytest.approx(p.sessions.app_step_same_second_share, abs=0.12)
    # The binding is logged before or after the login, as banks differ.
    assert (pairs["gap"] > 0).any() and (pairs["gap"] < 0).any()


def test_password_reset_then_login(profile: Profile) -> None:
    p = _profile(profile)
    events, _ = _run(p)
    j = _next_of(events, "password_reset", "login")
    assert j["gap"].null_count() == 0
    assert (j["device"] == j["device2"]).all()
    auto = (j["gap"] <= p.sessions.app_step_max_seconds).mean()
    assert auto == pytest.approx(p.sessions.password_reset_auto_login_share, abs=0.15)
    assert j["gap"].max() <= p.sessions.human_step_max_seconds


@pytest.mark.parametrize("kind", ["new_payee", "phone_change", "address_change"])
def test_changes_follow_the_login_of_their_session(profile: Profile, kind: str) -> None:
    p = _profile(profile)
    events, _ = _run(p)
    logins = events.filter(pl.col("event_type") == EV["login"]).sort("t")
    acts = events.filter(pl.col("event_type") == EV[kind]).sort("t")
    j = acts.join_asof(
        logins.select("customer", pl.col("t").alias("t0"), pl.col("device").alias("d0")),
        left_on="t",
        right_on="t0",
        by="customer",
        strategy="backward",
        check_sortedness=False,
    )
    gap = (j["t"] - j["t0"]).to_numpy()
    assert acts.height > 20 and not np.isnan(gap.astype(float)).any()
    assert (j["device"] == j["d0"]).all()
    # From seconds (one step) to several minutes (a longer session), never hours.
    assert gap.max() <= 30 * 60
    assert np.median(gap) < 4 * p.sessions.human_step_median_seconds
    if kind != "new_payee":  # only payees can be prefilled (payment links, QR codes)
        assert gap.min() >= p.sessions.human_step_min_seconds
    # Human steps spread out: no single gap holds the rows.
    assert np.unique(gap).size > 10


def test_logins_keep_the_profile_rate(profile: Profile) -> None:
    p = _profile(profile)
    events, _ = _run(p)
    logins = (events["event_type"] == EV["login"]).sum() / N / (DAYS / 30.44)
    assert logins == pytest.approx(p.events.login_per_customer_month, rel=0.08)


def test_replaced_phones_are_handed_down_to_a_housemate(profile: Profile) -> None:
    p = _profile(profile, phone_handdown_share=1.0, phone_handdown_median_days=1.0)
    events, legit = _run(p, days=30)
    pop = legit.pop
    handovers = pop.device_handovers
    assert handovers
    h = {k: np.concatenate([x[k] for x in handovers]) for k in handovers[0]}
    hh = pop.households
    assert hh is not None
    # To a housemate, a phone first used by the giver, and logged in on by the new holder.
    np.testing.assert_array_equal(hh.member_of[h["customer"]], hh.member_of[h["from_customer"]])
    assert (h["customer"] != h["from_customer"]).all()
    changes = events.filter(pl.col("event_type") == EV["device_change"])
    got = set(zip(changes["customer"].to_list(), changes["device"].to_list(), strict=True))
    assert all((c, d) in got for c, d in zip(h["customer"], h["device"], strict=True))
    used_by = events.group_by("device").agg(pl.col("customer").n_unique().alias("users"))
    assert used_by.filter(pl.col("users") > 1).height > 0
    # Everyone logs in and pays on the phone of their latest device change.
    latest = changes.sort("t").group_by("customer").agg(pl.col("device").last())
    for c, d in latest.iter_rows():
        assert legit.phone[c] == d


def test_online_banking_payments_get_the_login_of_their_session(profile: Profile) -> None:
    streams = SeedStreams(4)
    pop = build_population(streams, profile, N, None, "en_US", 2025)
    legit = LegitEvents(pop, profile, streams)
    rng = np.random.default_rng(1)
    m = 400
    who = rng.integers(0, N, m)
    t = DAY + rng.integers(0, DAY, m)
    device = pop.customers["first_device"][who]
    rows = make_batch(
        m,
        t=t,
        customer=who,
        account=pop.customers["checking_idx"][who],
        device=device,
        amount=np.full(m, 1000),
        channel=CHANNELS.index("online_banking"),
        tx_type=0,
        direction=0,
    )
    with_rows = legit.day(1, rows)
    logins = pl.DataFrame(
        {k: with_rows[k] for k in ("t", "customer", "device", "event_type")}
    ).filter(pl.col("event_type") == EV["login"])
    pay = pl.DataFrame({"t": t, "customer": who, "device": device}).sort("t")
    j = pay.join_asof(
        logins.sort("t").select("customer", pl.col("t").alias("t0"), pl.col("device").alias("d0")),
        left_on="t",
        right_on="t0",
        by="customer",
        strategy="backward",
        check_sortedness=False,
    ).with_columns((pl.col("t") - pl.col("t0")).alias("gap"))
    opened = j.filter((pl.col("gap") <= 30 * 60) & (pl.col("device") == pl.col("d0")))
    share = opened.height / m
    assert share == pytest.approx(profile.sessions.payment_login_share, abs=0.1)
    assert (opened["gap"] <= profile.sessions.app_step_max_seconds).mean() > 0.05


def test_same_second_pairs_occur_in_honest_events_of_a_run(dataset: Dataset) -> None:
    ev = dataset.events.filter(pl.col("episode_id").is_null())
    same = ev.group_by("customer_id", "timestamp").len().filter(pl.col("len") > 1)
    share = same["len"].sum() / ev.height
    assert 0.005 < share < 0.1


def test_honest_rows_use_devices_shared_at_home(dataset: Dataset) -> None:
    """A few % of honest online rows come from a device another customer used before."""
    tx = (
        dataset.transactions.filter(~pl.col("is_fraud") & pl.col("device_id").is_not_null())
        .select("device_id", "customer_id", "timestamp")
        .sort("timestamp")
    )
    first = tx.group_by("device_id", "customer_id").agg(pl.col("timestamp").min().alias("f"))
    earliest = first.group_by("device_id").agg(
        pl.col("f").min().alias("f1"), pl.col("customer_id").sort_by("f").first().alias("c1")
    )
    second = (
        first.join(earliest, on="device_id")
        .filter(pl.col("customer_id") != pl.col("c1"))
        .group_by("device_id")
        .agg(pl.col("f").min().alias("f2"))
    )
    rows = tx.join(earliest, on="device_id").join(second, on="device_id", how="left")
    other = pl.when(pl.col("customer_id") == pl.col("c1")).then(pl.col("f2")).otherwise("f1")
    flagged = rows.select((other < pl.col("timestamp")).fill_null(False).alias("x"))["x"].mean()
    assert 0.005 < flagged < 0.08


def test_events_are_deterministic(profile: Profile) -> None:
    p = _profile(profile)
    a, _ = _run(p, days=5, seed=9)
    b, _ = _run(p, days=5, seed=9)
    assert a.equals(b)
