"""Tests of `detection.features`: exact strictly-past windows, flags, distance and temporal honesty.

The honesty tests recompute the features on truncated data and on data whose future labels are
moved or hidden, and compare them with the full computation and with a brute-force reference;
label timing is made non-trivial first (reports soon after each fraud row, plus synthetic
reports at card-present terminals), so that a leak would show.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import polars as pl
import polars.selectors as cs
import pytest
from polars.testing import assert_frame_equal

import fraudsim
import fraudsim.config.scenario
from fraudsim.detection.features import PASSTHROUGH, build_features
from fraudsim.export import schema

T0 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
SEC = dt.timedelta(seconds=1)
LABELS = {"is_fraud", "fraud_type", "episode_id", "account_role", "pattern", "reported_at"}
LABEL_FEATURES = [
    f"f_{p}_{s}"
    for p in ("term", "merch")
    for s in ("prior_cnt", "known_fraud_cnt", "known_fraud_share")
]


@pytest.fixture(scope="module")
def dataset() -> fraudsim.Dataset:
    config = fraudsim.config.scenario.validate_scenario(
        {
            "name": "f",
            "seed": 3,
            "days": 8,
            "population": {"customers": 800},
            "typologies": [
                {"name": "card_testing.v1", "schedule": {"episodes": 2}},
                {"name": "account_takeover.v1", "schedule": {"episodes": 2}},
            ],
        },
        "t",
    )
    return fraudsim.simulate(config)


@pytest.fixture(scope="module")
def labelled(dataset: fraudsim.Dataset) -> pl.DataFrame:
    """Transactions whose labels arrive within the run: fraud reported 30 min after the row,
    and 3% of card-present rows reported 2 h after the row (synthetic, to exercise terminals)."""
    tx = dataset.transactions
    rng = np.random.default_rng(0)
    pick = pl.Series(rng.random(tx.height) < 0.03) & tx["terminal_id"].is_not_null()
    return tx.with_columns(
        reported_at=pl.when(pl.col("is_fraud"))
        .then(pl.col("timestamp") + dt.timedelta(minutes=30))
        .when(pick)
        .then(pl.col("timestamp") + 2 * H)
    )


def _features(tx: pl.DataFrame, ds: fraudsim.Dataset) -> pl.DataFrame:
    return build_features(tx, ds.customers, ds.merchants)


def _only_features(out: pl.DataFrame) -> pl.DataFrame:
    """The id and the feature columns (the passthrough labels may be edited by a test)."""
    return out.select("transaction_id", cs.starts_with("f_"))


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A transactions frame of the export schema; unspecified columns get honest defaults."""
    defaults: dict[str, object] = {
        "customer_id": 1,
        "account_id": 10,
        "amount": 1.0,
        "currency": "EUR",
        "channel": "pos",
        "tx_type": "purchase",
        "direction": "debit",
        "is_fraud": False,
        "account_role": "none",
        "is_declined": False,
        "decline_reason": "none",
    }
    data = [{"transaction_id": 100 + i, **defaults, **row} for i, row in enumerate(rows)]
    return pl.DataFrame(data, schema=schema.polars_schema(schema.transaction_columns()))


# --- shape -----------------------------------------------------------------------------------


def test_one_row_per_transaction_same_order_and_prefixed(dataset: fraudsim.Dataset) -> None:
    tx = dataset.transactions.sample(fraction=1.0, shuffle=True, seed=1)  # any input order
    out = _features(tx, dataset)
    assert out.height == tx.height
    assert out["transaction_id"].to_list() == tx["transaction_id"].to_list()
    assert out.columns[: len(PASSTHROUGH)] == list(PASSTHROUGH)
    features = out.columns[len(PASSTHROUGH) :]
    assert features and all(c.startswith("f_") for c in features)
    assert not LABELS & {c.removeprefix("f_") for c in features}
    assert_frame_equal(out.select(PASSTHROUGH), tx.select(PASSTHROUGH))
    # Row order of the input does not change any row's features.
    ordered = _features(dataset.transactions, dataset)
    assert_frame_equal(out.sort("transaction_id"), ordered.sort("transaction_id"))

    plain = build_features(tx, as_of_labels=False)
    assert not set(LABEL_FEATURES) & set(plain.columns)
    assert set(LABEL_FEATURES) <= set(out.columns)
    with pytest.raises(ValueError, match="amount"):
        build_features(tx.drop("amount"))


# --- temporal honesty ------------------------------------------------------------------------


def test_features_before_a_cut_ignore_everything_after_it(
    dataset: fraudsim.Dataset, labelled: pl.DataFrame
) -> None:
    full = _features(labelled, dataset)
    # Non-vacuous: history, windows and known-fraud counts are populated before the cuts.
    assert (full["f_term_known_fraud_cnt"] > 0).sum() > 20
    assert (full["f_merch_known_fraud_cnt"] > 0).sum() > 20
    start, end = labelled["timestamp"].min(), labelled["timestamp"].max()
    fraud_times = labelled.filter(pl.col("is_fraud"))["timestamp"].sort()
    cuts = [start + (end - start) * q for q in (0.3, 0.55, 0.8)]
    cuts += [fraud_times[len(fraud_times) // 2]]  # a cut inside a fraud burst
    cuts += [labelled["timestamp"][4000]]  # a cut exactly at a row's instant (ties on the cut)
    for cut in cuts:
        before = pl.col("timestamp") < cut
        expected = _only_features(full.filter(before))
        assert expected.height > 1000
        truncated = labelled.filter(before)
        assert_frame_equal(
            _only_features(_features(truncated, dataset)), expected, check_exact=True
        )
        # The bank at `cut` does not know later reports: hiding them changes nothing.
        hidden = truncated.with_columns(
            reported_at=pl.when(pl.col("reported_at") <= cut).then(pl.col("reported_at"))
        )
        assert_frame_equal(_only_features(_features(hidden, dataset)), expected, check_exact=True)
        # Future rows that differ wildly (amounts, merchants, labels) change nothing before cut.
        garbled = labelled.with_columns(
            amount=pl.when(before).then(pl.col("amount")).otherwise(pl.col("amount") * 97 + 1),
            merchant_id=pl.when(before)
            .then(pl.col("merchant_id"))
            .otherwise(pl.col("merchant_id").shuffle(seed=2)),
            reported_at=pl.when(before).then(pl.col("reported_at")).otherwise(pl.col("timestamp")),
        )
        assert_frame_equal(
            _only_features(_features(garbled, dataset).filter(before)), expected, check_exact=True
        )


def test_reports_after_a_row_never_reach_it(
    dataset: fraudsim.Dataset, labelled: pl.DataFrame
) -> None:
    full = _features(labelled, dataset)
    rng = np.random.default_rng(5)
    hits = np.flatnonzero((full["f_term_known_fraud_cnt"] > 0).to_numpy())
    rows = [*rng.choice(hits, 6, replace=False), *rng.choice(full.height, 4, replace=False)]
    horizon = labelled["timestamp"].max() + dt.timedelta(days=30)
    for i in rows:
        t = labelled["timestamp"][int(i)]
        later = pl.col("reported_at") > t
        for moved in (
            pl.when(later).then(pl.lit(horizon)).otherwise(pl.col("reported_at")),  # later still
            pl.when(later).then(None).otherwise(pl.col("reported_at")),  # never reported
            # just after t (a report at exactly t is known at t, by definition)
            pl.when(later)
            .then(pl.lit(t + dt.timedelta(microseconds=1)))
            .otherwise(pl.col("reported_at")),
        ):
            out = _features(labelled.with_columns(reported_at=moved), dataset)
            assert_frame_equal(out[int(i)].drop("reported_at"), full[int(i)].drop("reported_at"))


def test_known_fraud_follows_report_times(
    dataset: fraudsim.Dataset, labelled: pl.DataFrame
) -> None:
    # Every report after the end of the run: nothing is ever known.
    late = labelled.with_columns(
        reported_at=pl.when(pl.col("reported_at").is_not_null()).then(
            pl.lit(labelled["timestamp"].max() + dt.timedelta(days=1))
        )
    )
    out = _features(late, dataset)
    for p in ("term", "merch"):
        assert out[f"f_{p}_known_fraud_cnt"].drop_nulls().max() == 0
        assert out[f"f_{p}_known_fraud_share"].drop_nulls().max() == 0
        assert out[f"f_{p}_prior_cnt"].drop_nulls().max() > 0

    # Reported at the row's own instant: later rows at the same terminal/merchant see it;
    # counts match a brute-force reference (prior rows with t_j < t and reported_at_j <= t).
    instant = labelled.with_columns(
        reported_at=pl.when(pl.col("reported_at").is_not_null()).then(pl.col("timestamp"))
    )
    out = _features(instant, dataset)
    for key, p in (("terminal_id", "term"), ("merchant_id", "merch")):
        assert (out[f"f_{p}_known_fraud_cnt"] > 0).sum() > 20
        ref_prior, ref_known = _reference_known(instant, key)
        assert out[f"f_{p}_prior_cnt"].to_list() == ref_prior
        assert out[f"f_{p}_known_fraud_cnt"].to_list() == ref_known


def _reference_known(tx: pl.DataFrame, key: str) -> tuple[list[int | None], list[int | None]]:
    """Brute force: prior rows at `key` and those reported by the row's time, per row."""
    ts = tx["timestamp"].to_list()
    rep = tx["reported_at"].to_list()
    groups: dict[int, list[int]] = defaultdict(list)
    for i, k in enumerate(tx[key].to_list()):
        if k is not None:
            groups[k].append(i)
    prior: list[int | None] = [None] * tx.height
    known: list[int | None] = [None] * tx.height
    for members in groups.values():
        for i in members:
            past = [j for j in members if ts[j] < ts[i]]
            prior[i] = len(past)
            known[i] = sum(1 for j in past if rep[j] is not None and rep[j] <= ts[i])
    return prior, known


def test_windows_match_brute_force_on_simulated_data(dataset: fraudsim.Dataset) -> None:
    tx = dataset.transactions
    out = _features(tx, dataset)
    ts = tx["timestamp"].to_numpy().astype("datetime64[us]").astype(np.int64)
    amount = tx["amount"].to_numpy()
    windows = {"1h": 3600, "1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
    rng = np.random.default_rng(7)
    for key, name in (("card_id", "card"), ("customer_id", "cust")):
        keys = tx[key].to_numpy()
        has = ~tx[key].is_null().to_numpy()
        for i in rng.choice(np.flatnonzero(has), 300, replace=False):
            same = has & (keys == keys[i])
            past = same & (ts < ts[i])
            for suffix, secs in windows.items():
                inside = past & (ts >= ts[i] - secs * 1_000_000)
                assert out[f"f_{name}_cnt_{suffix}"][int(i)] == inside.sum()
                assert out[f"f_{name}_sum_{suffix}"][int(i)] == pytest.approx(amount[inside].sum())
            prev = ts[past].max() if past.any() else None
            got = out[f"f_secs_since_{name}_prev"][int(i)]
            assert got == (None if prev is None else (ts[i] - prev) / 1e6)
        assert out.filter(pl.Series(~has))[f"f_{name}_cnt_1d"].null_count() == (~has).sum()


# --- hand-built frames -----------------------------------------------------------------------


def test_windows_are_exact_and_strictly_past() -> None:
    card = {"card_id": 5}
    rows = [
        {"timestamp": T0 + H + SEC, "amount": 2.0, **card},  # 4
        {"timestamp": T0, "amount": 10.0, **card},  # 0
        {"timestamp": T0 + H / 2, "amount": 5.0, **card},  # 2
        {"timestamp": T0, "amount": 20.0, **card},  # 1: same instant as 0
        {"timestamp": T0 + H, "amount": 1.0, **card},  # 3: exactly 1 h after 0 and 1
        {"timestamp": T0 + H / 6, "amount": 1000.0, "customer_id": 2, "card_id": 6},  # other
        {"timestamp": T0 + 2 * H, "amount": 7.0, "channel": "online_banking"},  # 6: no card
    ]
    out = build_features(_frame(rows))
    by_order = [1, 3, 2, 4, 0]  # rows 0..4 of the comment, as positions in `rows`
    pick = out[by_order]
    assert pick["f_card_cnt_1h"].to_list() == [0, 0, 2, 3, 2]
    assert pick["f_card_sum_1h"].to_list() == [0, 0, 30, 35, 6]
    assert pick["f_card_cnt_1d"].to_list() == [0, 0, 2, 3, 4]
    assert pick["f_card_sum_1d"].to_list() == [0, 0, 30, 35, 36]
    assert pick["f_cust_cnt_7d"].to_list() == [0, 0, 2, 3, 4]
    assert pick["f_secs_since_card_prev"].to_list() == [None, None, 1800, 1800, 1]
    assert pick["f_cust_prior_cnt"].to_list() == [0, 0, 2, 3, 4]
    ratio = pick["f_amount_to_cust_mean"].to_list()
    assert ratio[:2] == [None, None]
    assert ratio[2:] == pytest.approx([5 / 15, 1 / (35 / 3), 2 / 9])
    other, no_card = out[5], out[6]
    assert other["f_card_cnt_30d"].item() == 0 and other["f_cust_cnt_30d"].item() == 0
    assert no_card["f_card_cnt_1h"].item() is None and no_card["f_card_sum_1h"].item() is None
    assert no_card["f_cust_cnt_1h"].item() == 2  # rows at T0+1h and T0+1h+1s: [T0+1h, T0+2h)
    assert no_card["f_cust_cnt_30d"].item() == 5
    assert out["f_hour"].to_list()[:2] == [13, 12]


def test_new_merchant_device_payee_flags() -> None:
    rows = [
        {"timestamp": T0, "merchant_id": 1, "device_id": 7},
        {"timestamp": T0 + H, "merchant_id": 1, "device_id": 7},
        {"timestamp": T0 + H, "merchant_id": 2, "device_id": 8},
        {"timestamp": T0 + 2 * H, "merchant_id": 3, "device_id": 9},
        {"timestamp": T0 + 2 * H, "merchant_id": 3, "device_id": 9},  # tie: both new
        {"timestamp": T0 + 3 * H, "merchant_id": 1, "customer_id": 2, "account_id": 20},
        {"timestamp": T0 + 4 * H, "counterparty_account_id": 99, "channel": "online_banking"},
        {"timestamp": T0 + 5 * H, "counterparty_account_id": 99, "channel": "online_banking"},
        {"timestamp": T0 + 6 * H, "counterparty_account_id": 99, "account_id": 11},
        {"timestamp": T0 + 7 * H, "counterparty_account_id": 98},
    ]
    out = build_features(_frame(rows))
    assert out["f_new_merchant"].to_list() == [
        *(True, False, True, True, True, True),
        *(None, None, None, None),
    ]
    assert out["f_new_device"].to_list() == [True, False, True, True, True, *[None] * 5]
    assert out["f_new_payee"].to_list() == [*[None] * 6, True, False, True, True]


def test_distance_from_home() -> None:
    customers = pl.DataFrame({"customer_id": [1], "home_lat": [45.0], "home_lon": [9.0]})
    merchants = pl.DataFrame(
        {
            "merchant_id": [1, 2, 3],
            "lat": [45.0, 46.0, None],
            "lon": [9.0, 9.0, None],
            "online": [False, False, True],
        }
    )
    rows = [
        {"timestamp": T0, "merchant_id": 1, "terminal_id": 1},
        {"timestamp": T0 + H, "merchant_id": 2, "terminal_id": 2},
        {"timestamp": T0 + 2 * H, "merchant_id": 3, "channel": "cnp", "device_id": 4},
        {"timestamp": T0 + 3 * H, "channel": "online_banking"},
    ]
    tx = _frame(rows)
    dist = build_features(tx, customers, merchants)["f_dist_home_km"].to_list()
    assert dist[0] == pytest.approx(0.0, abs=1e-6)
    assert dist[1] == pytest.approx(111.195, abs=0.01)  # one degree of latitude
    assert dist[2:] == [None, None]
    assert build_features(tx)["f_dist_home_km"].null_count() == len(rows)


def test_terminal_risk_on_a_hand_built_frame() -> None:
    term = {"terminal_id": 7, "merchant_id": 3}
    rows = [
        {"timestamp": T0, "reported_at": T0 + 2 * H, **term},
        {"timestamp": T0 + H, **term},
        {"timestamp": T0 + 3 * H, **term},
        {"timestamp": T0 + 5 * H, "reported_at": T0 + 5 * H, **term},
        {"timestamp": T0 + 5 * H, **term},  # same instant: does not see row 3's report
        {"timestamp": T0 + 6 * H, **term},
        {"timestamp": T0 + 6 * H, "terminal_id": 8, "merchant_id": 3},  # other terminal
    ]
    out = build_features(_frame(rows))
    assert out["f_term_prior_cnt"].to_list() == [0, 1, 2, 3, 3, 5, 0]
    assert out["f_term_known_fraud_cnt"].to_list() == [0, 0, 1, 1, 1, 2, 0]
    assert out["f_term_known_fraud_share"].to_list() == [None, 0, 0.5, 1 / 3, 1 / 3, 0.4, None]
    assert out["f_merch_known_fraud_cnt"].to_list() == [0, 0, 1, 1, 1, 2, 2]
    assert out["f_merch_prior_cnt"].to_list() == [0, 1, 2, 3, 3, 5, 5]
