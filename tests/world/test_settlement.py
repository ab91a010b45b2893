"""Settlement on hand-built batches: funds, time order, transfers, card blocks, conservation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudsim.core.ledger import Batch, concat, make_batch
from fraudsim.world.settlement import REASON, settle

NEVER = np.iinfo(np.int64).max
H = 3_600


def row(
    t: int, account: int, amount: int, *, credit: bool = False, to: int = -1, card: int = -1
) -> Batch:
    """One ledger row: a debit of `account` (or a credit to it), optionally a transfer `to`."""
    return make_batch(
        1,
        t=t,
        customer=account,
        account=account,
        amount=amount,
        direction=1 if credit else 0,
        counterparty=to,
        card=card,
    )


def run(
    rows: list[Batch],
    balances: list[int],
    floors: list[int] | None = None,
    blocked_at: list[int] | None = None,
) -> tuple[Batch, np.ndarray]:
    """Settle rows; returns (settled rows, end balances)."""
    bal = np.array(balances, dtype=np.int64)
    flo = np.zeros(len(bal), np.int64) if floors is None else np.array(floors, dtype=np.int64)
    blocked = np.array(blocked_at if blocked_at is not None else [NEVER] * 4, dtype=np.int64)
    out = settle(concat(rows), bal, flo, blocked)
    return out, bal


def test_debit_within_balance_accepted() -> None:
    out, bal = run([row(10 * H, 0, 70)], [100])
    assert not out["is_declined"][0]
    assert out["decline_reason"][0] == REASON["none"]
    assert bal.tolist() == [30]


def test_debit_down_to_the_floor_exactly_accepted() -> None:
    out, bal = run([row(H, 0, 150)], [100], floors=[-50])
    assert not out["is_declined"][0]
    assert bal.tolist() == [-50]


def test_debit_beyond_floor_declined_and_moves_no_money() -> None:
    out, bal = run([row(10 * H, 0, 151), row(11 * H, 1, 5)], [100, 50], floors=[-50, 0])
    assert out["is_declined"].tolist() == [True, False]
    assert out["decline_reason"][0] == REASON["insufficient_funds"]
    assert bal.tolist() == [100, 45]


def test_only_the_debit_that_does_not_fit_is_declined() -> None:
    """Earlier debits go through; the one that would cross the floor fails; smaller later
    ones that still fit go through."""
    rows = [row(1 * H, 0, 60), row(2 * H, 0, 60), row(3 * H, 0, 30)]
    out, bal = run(rows, [100])
    assert out["is_declined"].tolist() == [False, True, False]
    assert bal.tolist() == [10]


def test_earlier_credit_allows_later_debit() -> None:
    out, bal = run([row(8 * H, 0, 500, credit=True), row(12 * H, 0, 400)], [0])
    assert not out["is_declined"].any()
    assert bal.tolist() == [100]


def test_same_credit_later_in_the_day_does_not() -> None:
    out, bal = run([row(14 * H, 0, 500, credit=True), row(12 * H, 0, 400)], [0])
    assert out["is_declined"].tolist() == [False, True]
    assert out["decline_reason"][1] == REASON["insufficient_funds"]
    assert bal.tolist() == [500]


def test_credit_in_the_same_second_counts_first() -> None:
    out, bal = run([row(H, 0, 400), row(H, 0, 500, credit=True)], [0])
    assert not out["is_declined"].any()
    assert bal.tolist() == [100]


def test_accepted_transfer_moves_money_between_accounts() -> None:
    out, bal = run([row(9 * H, 0, 80, to=1), row(10 * H, 1, 80)], [100, 0])
    assert not out["is_declined"].any()
    assert bal.tolist() == [20, 0]


def test_declined_transfer_withdraws_credit_from_payee() -> None:
    """The payee's later debit relied on a transfer that failed: it is declined too."""
    rows = [row(9 * H, 0, 100, to=1), row(10 * H, 1, 80)]
    out, bal = run(rows, [0, 0])
    assert out["is_declined"].tolist() == [True, True]
    assert (out["decline_reason"] == REASON["insufficient_funds"]).all()
    assert bal.tolist() == [0, 0]


def test_declined_transfers_cascade_along_a_chain() -> None:
    rows = [row(9 * H, 0, 100, to=1), row(10 * H, 1, 100, to=2), row(11 * H, 2, 100)]
    out, bal = run(rows, [0, 0, 0])
    assert out["is_declined"].all()
    assert bal.tolist() == [0, 0, 0]


def test_payee_with_own_funds_unaffected_by_failed_transfer() -> None:
    rows = [row(9 * H, 0, 100, to=1), row(10 * H, 1, 80)]
    out, bal = run(rows, [0, 80])
    assert out["is_declined"].tolist() == [True, False]
    assert bal.tolist() == [0, 0]


def test_blocked_card_declines_at_and_after_block_time_only() -> None:
    block = 12 * H
    rows = [
        row(block - 1, 0, 10, card=0),
        row(block, 0, 10, card=0),
        row(block + 5 * H, 0, 10, card=0),
        row(block + H, 0, 10, card=1),  # another card of the same account is fine
        row(block + H, 0, 10),  # and so is a transfer without a card
    ]
    out, bal = run(rows, [1_000], blocked_at=[block, NEVER])
    assert out["is_declined"].tolist() == [False, True, True, False, False]
    assert out["decline_reason"].tolist()[:3] == [
        REASON["none"],
        REASON["card_blocked"],
        REASON["card_blocked"],
    ]
    assert bal.tolist() == [970]


def test_blocked_card_rows_do_not_use_funds() -> None:
    rows = [row(H, 0, 100, card=0), row(2 * H, 0, 100, card=1)]
    out, bal = run(rows, [100], blocked_at=[0, NEVER])
    assert out["is_declined"].tolist() == [True, False]
    assert out["decline_reason"].tolist() == [REASON["card_blocked"], REASON["none"]]
    assert bal.tolist() == [0]


def test_pre_declined_rows_keep_their_reason_and_move_nothing() -> None:
    pre = row(H, 0, 50, card=0)
    pre["is_declined"][:] = True
    pre["decline_reason"][:] = REASON["rule"]
    out, bal = run([pre], [100], blocked_at=[0])
    assert out["is_declined"][0]
    assert out["decline_reason"][0] == REASON["rule"]
    assert bal.tolist() == [100]


def test_input_rows_are_not_modified() -> None:
    rows = concat([row(H, 0, 500)])
    before = {k: v.copy() for k, v in rows.items()}
    settle(rows, np.array([0], np.int64), np.zeros(1, np.int64), np.full(1, NEVER))
    for k, v in rows.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_empty_day() -> None:
    bal = np.array([5, 6], np.int64)
    out = settle(make_batch(0), bal, np.zeros(2, np.int64), np.full(1, NEVER))
    assert len(out["t"]) == 0
    assert bal.tolist() == [5, 6]


def test_decline_is_time_ordered_after_withdrawn_credit() -> None:
    """B holds 50; A's transfer of 100 to B fails; B's 120 at 10:00 cannot be paid; B's 50 at
    11:00 can (B still holds 50 then)."""
    rows = [row(9 * H, 0, 100, to=1), row(10 * H, 1, 120), row(11 * H, 1, 50)]
    out, bal = run(rows, [0, 50, 0])
    assert out["is_declined"].tolist() == [True, True, False]
    assert bal.tolist() == [0, 0, 0]


def test_same_second_transfers_in_opposite_directions_respect_floors() -> None:
    """A holds 40. C (empty) sends A 50 at 01:00 (fails), A spends 60 at 01:00 (fails without
    it). At 02:00 B sends A 60 and A sends B 100: together they fit (A ends at 0, B at 40)."""
    rows = [
        row(H, 2, 50, to=0),
        row(H, 0, 60),
        row(2 * H, 1, 60, to=0),
        row(2 * H, 0, 100, to=1),
    ]
    out, bal = run(rows, [40, 0, 0])
    assert (bal >= 0).all(), bal.tolist()
    assert bal.sum() == 40 - int(not out["is_declined"][1]) * 60


# -- properties over random days ---------------------------------------------------------------


@st.composite
def days(draw: st.DrawFn) -> tuple[Batch, np.ndarray, np.ndarray, np.ndarray]:
    """A random day: a few accounts, debits, credits, transfers and card payments."""
    n_acc = draw(st.integers(2, 5))
    n = draw(st.integers(1, 30))
    floors = np.array(
        draw(st.lists(st.sampled_from([0, -50, -200]), min_size=n_acc, max_size=n_acc))
    )
    start = floors + np.array(draw(st.lists(st.integers(0, 300), min_size=n_acc, max_size=n_acc)))
    ints = st.lists(st.integers(0, 10**6), min_size=n, max_size=n)
    t = np.array(draw(st.lists(st.integers(0, 86_399), min_size=n, max_size=n, unique=True)))
    account = np.array(draw(ints)) % n_acc
    kind = np.array(draw(ints)) % 4  # 0 debit, 1 credit, 2 transfer, 3 card payment
    amount = 1 + np.array(draw(ints)) % 250
    other = (account + 1 + np.array(draw(ints)) % (n_acc - 1)) % n_acc
    card = np.array(draw(ints)) % 3
    rows = make_batch(
        n,
        t=t,
        customer=account,
        account=account,
        amount=amount,
        direction=(kind == 1).astype(np.int8),
        counterparty=np.where(kind == 2, other, -1),
        card=np.where(kind == 3, card, -1),
    )
    blocked = np.array(
        draw(st.lists(st.sampled_from([NEVER, 0, 40_000, 80_000]), min_size=3, max_size=3))
    )
    return rows, start.astype(np.int64), floors.astype(np.int64), blocked.astype(np.int64)


def _movements(out: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(account, delta, time, is_debit) of accepted postings, including transfer credits."""
    ok = ~out["is_declined"]
    debit = out["direction"] == 0
    cp = ok & (out["counterparty"] >= 0)
    account = np.concatenate([out["account"][ok], out["counterparty"][cp]])
    delta = np.concatenate([np.where(debit, -out["amount"], out["amount"])[ok], out["amount"][cp]])
    time = np.concatenate([out["t"][ok], out["t"][cp]])
    is_debit = np.concatenate([debit[ok], np.zeros(cp.sum(), bool)])
    return account, delta, time, is_debit


@settings(max_examples=250, deadline=None, derandomize=True, database=None)
@given(days())
def test_settlement_invariants(day: tuple) -> None:
    """On random days: exact end balances, conservation, floors respected in time order, and
    decline reasons that match their cause."""
    rows, start, floors, blocked = day
    bal = start.copy()
    out = settle(rows, bal, floors, blocked)
    account, delta, time, is_debit = _movements(out)

    # End balance = start + accepted movements, exactly.
    expected = start + np.bincount(account, weights=delta, minlength=len(start)).astype(np.int64)
    np.testing.assert_array_equal(bal, expected)

    # Money changes only by accepted external credits and debits; transfers net out.
    ok, external = ~out["is_declined"], out["counterparty"] < 0
    sign = np.where(out["direction"] == 1, 1, -1)
    assert bal.sum() - start.sum() == int((sign * out["amount"])[ok & external].sum())

    # Replaying accepted postings in time order (credits first within a second), no debit
    # takes its account below the floor.
    for a in range(len(start)):
        mine = np.flatnonzero(account == a)
        order = mine[np.lexsort((is_debit[mine], time[mine]))]
        running = start[a] + np.cumsum(delta[order])
        assert (running[is_debit[order]] >= floors[a]).all()

    # Reasons: card blocks exactly where the card was blocked; funds only for debits;
    # credits always arrive; declined iff a reason is set.
    card = out["card"]
    is_blocked = (card >= 0) & (out["t"] >= blocked[np.maximum(card, 0)])
    np.testing.assert_array_equal(out["decline_reason"] == REASON["card_blocked"], is_blocked)
    funds = out["decline_reason"] == REASON["insufficient_funds"]
    assert (out["direction"][funds] == 0).all()
    assert not out["is_declined"][out["direction"] == 1].any()
    np.testing.assert_array_equal(out["is_declined"], out["decline_reason"] != REASON["none"])


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(days(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(day: tuple, rnd: object) -> None:
    """With distinct times, the decisions do not depend on the order rows were posted in."""
    rows, start, floors, blocked = day
    n = len(rows["t"])
    perm = np.array(rnd.sample(range(n), n))  # type: ignore[attr-defined]
    shuffled = {k: v[perm] for k, v in rows.items()}
    bal_a, bal_b = start.copy(), start.copy()
    a = settle(rows, bal_a, floors, blocked)
    b = settle(shuffled, bal_b, floors, blocked)
    np.testing.assert_array_equal(a["is_declined"][perm], b["is_declined"])
    np.testing.assert_array_equal(a["decline_reason"][perm], b["decline_reason"])
    np.testing.assert_array_equal(bal_a, bal_b)
