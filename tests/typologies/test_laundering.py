"""AML graph shapes: who pays whom, in which order, and that funds really flow that way."""

from __future__ import annotations

import itertools
from collections import defaultdict

import polars as pl
import pytest

from fraudsim import Dataset, simulate
from fraudsim.config.scenario import validate_scenario
from fraudsim.world.model import World

SHAPES = {
    "fan_in.v1": {"sources": 7},
    "fan_out.v1": {"destinations": 7},
    "cycle.v1": {"intermediaries": 4},
    "scatter_gather.v1": {"intermediaries": 5},
    "gather_scatter.v1": {"sources": 4, "destinations": 5},
    "bipartite.v1": {"sources": 5, "destinations": 4, "degree": 2},
    "stack.v1": {"width": 3, "depth": 3},
}


def run_world(entries: list[dict], customers: int = 1500, days: int = 12) -> Dataset:
    config = validate_scenario(
        {
            "name": "laundering",
            "seed": 11,
            "days": days,
            "population": {"customers": customers},
            "typologies": entries,
            # Shapes are checked whole: reports (median 30 days) must not freeze accounts here.
            "bank": {"block_on_report": False},
        },
        "test",
    )
    ds = simulate(config)
    ds.check_schema()
    return ds


@pytest.fixture(scope="module")
def world_tx():
    """One small world running every shape twice, all started in the first days; the rows
    of the shapes without the first deposits of the accounts launderers opened."""
    entries = [
        {"name": name, "params": params, "schedule": {"episodes": 2, "end_day": 4}}
        for name, params in SHAPES.items()
    ]
    ds = run_world(entries, customers=1500, days=12)
    tx = ds.transactions.filter(pl.col("is_fraud"))
    return ds, tx.join(_openings(ds, tx), on="transaction_id", how="anti")


def _openings(ds: Dataset, tx: pl.DataFrame) -> pl.DataFrame:
    """The first row of each account opened during the run: its first deposit."""
    opened = ds.customers["customer_id"][1500:].implode()
    return (
        tx.filter(pl.col("customer_id").is_in(opened))
        .sort("timestamp")
        .group_by("account_id", maintain_order=True)
        .first()
    )


def _episodes(tx: pl.DataFrame, name: str) -> list[pl.DataFrame]:
    rows = tx.filter(pl.col("fraud_type") == name).sort("timestamp")
    out = [rows.filter(pl.col("episode_id") == e) for e in rows["episode_id"].unique().sort()]
    assert len(out) == 2, f"{name}: expected 2 episodes"
    return out


def _moves(ep: pl.DataFrame) -> pl.DataFrame:
    """Transfers between accounts of the bank (not inflows, not wires out), as attempted: a
    mule who spent part of the money meanwhile may see one declined at settlement."""
    return ep.filter(pl.col("counterparty_account_id").is_not_null())


def _inflows(ep: pl.DataFrame) -> pl.DataFrame:
    return ep.filter(pl.col("direction") == "credit")


def _edges(ep: pl.DataFrame) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for a, b in _moves(ep).select("account_id", "counterparty_account_id").iter_rows():
        out[a].add(b)
    return out


def test_labels_roles_and_row_counts(world_tx):
    ds, tx = world_tx
    assert ds.episodes.height == 2 * len(SHAPES)
    assert set(tx["account_role"].unique().to_list()) <= {"mule", "fraudster"}
    assert tx["fraud_type"].null_count() == 0 and tx["pattern"].null_count() == tx.height
    assert set(tx["tx_type"].unique().to_list()) == {"p2p_transfer"}
    assert tx["is_declined"].mean() < 0.1  # the money really moves
    # Accounts the launderers opened were first funded as newcomers fund theirs.
    everything = ds.transactions.filter(pl.col("is_fraud"))
    first = _openings(ds, everything)
    assert first.height >= 4 and (first["direction"] == "credit").all()
    assert (first["account_role"] == "fraudster").all()
    assert set(first["tx_type"].to_list()) <= {"p2p_transfer", "cash_deposit"}
    counts = dict(everything.group_by("episode_id").len().iter_rows())
    for eid, rows, status in ds.episodes.select("episode_id", "rows", "status").iter_rows():
        assert counts[eid] == rows and status == "completed"
    # Mules skew young (Cifas: 63% of mule cases aged <= 30), but not all are.
    mules = (
        tx.filter(pl.col("account_role") == "mule")
        .select("customer_id")
        .unique()
        .join(ds.customers.select("customer_id", "age"), on="customer_id")
    )
    assert 0.4 <= (mules["age"] <= 30).mean() < 1.0


def test_fan_in_many_sources_one_destination(world_tx):
    for ep in _episodes(world_tx[1], "fan_in.v1"):
        moves = _moves(ep)
        assert moves["account_id"].n_unique() == 7
        assert moves["counterparty_account_id"].n_unique() == 1
        hub = moves["counterparty_account_id"][0]
        # every source was funded from outside before it paid the hub
        first_in = dict(_inflows(ep).group_by("account_id").agg(pl.col("timestamp").min()).rows())
        for src, t in moves.select("account_id", "timestamp").iter_rows():
            assert first_in[src] < t
        # the hub wires what it collected out of the bank, less its holder's cut
        out = ep.filter((pl.col("account_id") == hub) & (pl.col("direction") == "debit"))
        assert out.height == 1 and out["counterparty_account_id"].null_count() == 1
        assert 0.7 * moves["amount"].sum() <= out["amount"][0] <= moves["amount"].sum()


def test_fan_out_one_source_many_destinations(world_tx):
    for ep in _episodes(world_tx[1], "fan_out.v1"):
        inflow = _inflows(ep)
        assert inflow.height == 1
        hub = inflow["account_id"][0]
        fan = _moves(ep)
        assert set(fan["account_id"].to_list()) == {hub}
        assert fan["counterparty_account_id"].n_unique() == 7
        span = fan["timestamp"].max() - fan["timestamp"].min()
        assert span.total_seconds() < 24 * 3600  # distributed within a day
        assert fan["timestamp"].min() > inflow["timestamp"][0]
        assert fan["amount"].sum() <= inflow["amount"][0]
        # each destination then wires its share out
        wires = ep.filter(
            pl.col("counterparty_account_id").is_null() & (pl.col("direction") == "debit")
        )
        assert set(wires["account_id"].to_list()) == set(fan["counterparty_account_id"].to_list())


def test_cycle_returns_to_origin(world_tx):
    for ep in _episodes(world_tx[1], "cycle.v1"):
        moves = _moves(ep).sort("timestamp")
        origin = _inflows(ep)["account_id"][0]
        chain = moves.select("account_id", "counterparty_account_id").rows()
        assert chain[0][0] == origin and chain[-1][1] == origin  # back where it started
        for (_, to), (nxt, _) in itertools.pairwise(chain):
            assert to == nxt  # one unbroken path
        hops = [a for a, _ in chain]
        assert len(hops) == 5 and len(set(hops)) == 5  # 4 distinct intermediaries
        amounts = moves["amount"].to_list()
        assert all(b < a for a, b in itertools.pairwise(amounts))  # each mule keeps a cut
        # ... drawn per hop (often 5-20%), never one constant share
        ratios = [b / a for a, b in itertools.pairwise(amounts)]
        assert len({round(r, 4) for r in ratios}) > 1
        assert amounts[-1] > 0.4 * amounts[0]


def test_scatter_gather_splits_then_recombines(world_tx):
    for ep in _episodes(world_tx[1], "scatter_gather.v1"):
        edges = _edges(ep)
        src = _inflows(ep)["account_id"][0]
        mids = edges[src]
        assert len(mids) == 5
        sinks = set().union(*(edges[m] for m in mids))
        assert len(sinks) == 1 and src not in sinks and not sinks & mids
        assert all(len(edges[m]) == 1 for m in mids)


def test_gather_scatter_collects_then_distributes(world_tx):
    for ep in _episodes(world_tx[1], "gather_scatter.v1"):
        moves = _moves(ep)
        sources = set(_inflows(ep)["account_id"].to_list())
        assert len(sources) == 4
        gather = moves.filter(pl.col("account_id").is_in(list(sources)))
        assert gather["counterparty_account_id"].n_unique() == 1
        hub = gather["counterparty_account_id"][0]
        scatter = moves.filter(pl.col("account_id") == hub)
        assert scatter["counterparty_account_id"].n_unique() == 5
        assert scatter["timestamp"].min() > gather["timestamp"].max()  # gather first


def test_bipartite_many_to_many(world_tx):
    for ep in _episodes(world_tx[1], "bipartite.v1"):
        edges = _edges(ep)
        sources = set(_inflows(ep)["account_id"].to_list())
        receivers = set().union(*edges.values())
        assert len(sources) == 5 and len(receivers) == 4 and not sources & receivers
        assert set(edges) == sources and all(len(edges[s]) >= 2 for s in sources)
        fan_in = defaultdict(int)
        for s in sources:
            for r in edges[s]:
                fan_in[r] += 1
        assert max(fan_in.values()) >= 2  # some receiver is paid by several sources


def test_stack_is_layered_complete_fans(world_tx):
    for ep in _episodes(world_tx[1], "stack.v1"):
        edges = _edges(ep)
        layer0 = set(_inflows(ep)["account_id"].to_list())
        layer1 = set().union(*(edges[a] for a in layer0))
        layer2 = set().union(*(edges[a] for a in layer1))
        assert len(layer0) == len(layer1) == len(layer2) == 3
        assert not (layer0 & layer1 or layer1 & layer2 or layer0 & layer2)
        assert all(edges[a] == layer1 for a in layer0)  # each pays all of the next layer
        assert all(edges[a] == layer2 for a in layer1)
        first_hop = _moves(ep).filter(pl.col("account_id").is_in(list(layer0)))
        second_hop = _moves(ep).filter(pl.col("account_id").is_in(list(layer1)))
        assert first_hop["timestamp"].max() < second_hop["timestamp"].min()


def test_expected_rows_match_the_shapes(world_tx):
    ds, _ = world_tx
    from fraudsim.typologies import registry

    for name, params in SHAPES.items():
        cls = registry.get(name)
        typ = cls(cls.Params(**params), None, None, 0)  # type: ignore[arg-type]
        rows = ds.episodes.filter(pl.col("typology") == name)["rows"]
        expected = typ.n_edges()
        # bipartite adds an edge for any receiver no source happened to pick; an account the
        # launderer opened adds its first deposit
        slack = params.get("destinations", 0) if name == "bipartite.v1" else 0
        slack += cls.hubs
        assert expected <= rows.min() <= rows.max() <= expected + slack, name
        assert expected <= typ.expected_rows() <= expected + cls.hubs


def test_fan_out_routes_around_a_frozen_destination():
    """Adaptation: when a destination is frozen mid-way, the hub pays a fresh mule instead."""
    config = validate_scenario(
        {
            "name": "reroute",
            "seed": 3,
            "days": 6,
            "population": {"customers": 1500},
            "typologies": [
                {
                    "name": "fan_out.v1",
                    "params": {"destinations": 8, "hop_hours": 1.0, "spacing_minutes": 30},
                    "schedule": {"episodes": 1, "end_day": 2},
                }
            ],
        },
        "test",
    )
    world = World(config)
    rows: list[dict] = []
    world.day_callbacks.append(lambda day, r: rows.append(r))
    frozen: list[tuple[int, int]] = []

    def freezer():
        while not frozen:
            yield world.env.timeout(60)
            for ep in world.fraud.episodes:
                st = ep.state
                if st.get("stage") == 1 and 1 <= st.get("edge", 0) < 5:
                    victim = st["plan"][1][-1][1]  # the last destination, not yet paid
                    world.bank.freeze_account(victim, int(world.env.now), "reported")
                    frozen.append((victim, int(world.env.now)))

    world.env.process(freezer())
    world.run()
    ep = world.fraud.episodes[0]
    assert frozen and ep.adaptations >= 1 and ep.interruptions >= 1
    victim, at = frozen[0]
    fraud = pl.concat(
        [pl.DataFrame({k: r[k] for k in ("t", "episode", "counterparty", "account")}) for r in rows]
    ).filter(pl.col("episode") >= 0)
    paid_after = fraud.filter((pl.col("t") >= at) & (pl.col("counterparty") >= 0))
    assert victim not in paid_after["counterparty"].to_list()
    hub_pays = fraud.filter(pl.col("counterparty") >= 0)["counterparty"].n_unique()
    assert hub_pays == 8  # still eight destinations: the frozen one replaced
