"""Settlement: the end-of-day pass that declines what cannot be paid and moves the money.

Honest and fraudulent rows of a day are settled together, after the fact and vectorised: a card
blocked at time t declines that card's debits after t, a frozen account its debits until the
freeze is lifted; a debit that would take its account below
its floor (overdraft or credit limit) is declined, in time order. An account whose balance
covers all of its debits of the day even without its credits cannot fail and is settled with
one sum; only the rest are sorted, and the few that do reach their floor are replayed row by row.
"""

from __future__ import annotations

import numpy as np

from fraudsim.core.codes import DECLINE_REASONS
from fraudsim.core.ledger import Batch

REASON = {name: i for i, name in enumerate(DECLINE_REASONS)}
_MAX_PASSES = 50
_FREE_PASSES = 5


def _postings(
    rows: Batch,
    accepted: np.ndarray,
    accounts: np.ndarray | None = None,
    credit_ok: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """(account, delta, row, is_debit) of movements, sorted by account then time.

    `accepted` selects rows whose own posting counts; `credit_ok` (default: the same) selects
    rows whose credit to a counterparty account counts. With `accounts` (a boolean mask over
    accounts), only postings on those accounts.
    """
    idx = np.flatnonzero(accepted)
    debit = rows["direction"][idx] == 0
    amount = rows["amount"][idx]
    credit_to = rows["counterparty"][idx]
    has_cp = credit_to >= 0
    if credit_ok is not None:
        has_cp &= credit_ok[idx]
    cp_idx = idx[has_cp]
    account = np.concatenate([rows["account"][idx], credit_to[has_cp]])
    delta = np.concatenate([np.where(debit, -amount, amount), amount[has_cp]])
    row = np.concatenate([idx, cp_idx])
    is_debit = np.concatenate([debit, np.zeros(len(cp_idx), bool)])
    if accounts is not None:
        keep = accounts[account]
        account, delta, row, is_debit = account[keep], delta[keep], row[keep], is_debit[keep]
    time = rows["t"][row]
    # Same account and second: credits first, then by row, so the replay is deterministic.
    order = np.lexsort((row, is_debit, time, account))
    return account[order], delta[order], row[order], is_debit[order]


def _replay(
    delta: np.ndarray,
    row: np.ndarray,
    is_debit: np.ndarray,
    start: int,
    stop: int,
    balance: int,
    floor: int,
    declined: np.ndarray,
) -> None:
    """Row-by-row settlement of one account's postings; marks debits that do not fit."""
    for i in range(start, stop):
        d = int(delta[i])
        if is_debit[i] and balance + d < floor:
            declined[row[i]] = True
        else:
            balance += d


def _replay_failing(
    account: np.ndarray,
    delta: np.ndarray,
    row: np.ndarray,
    is_debit: np.ndarray,
    balances: np.ndarray,
    floors: np.ndarray,
    n_rows: int,
) -> np.ndarray:
    """Rows declined for funds: accounts whose running balance reaches the floor are replayed."""
    cum = np.cumsum(delta)
    first = np.flatnonzero(np.r_[True, account[1:] != account[:-1]])
    before = np.repeat(np.r_[0, cum[first[1:] - 1]], np.diff(np.r_[first, len(account)]))
    running = balances[account] + cum - before
    violating = is_debit & (running < floors[account])
    bad = np.unique(account[violating])
    stops = np.r_[first[1:], len(account)]
    group_of = np.searchsorted(account[first], bad)
    decided = np.zeros(n_rows, bool)
    for a, g in zip(bad.tolist(), group_of.tolist(), strict=True):
        _replay(
            delta,
            row,
            is_debit,
            int(first[g]),
            int(stops[g]),
            int(balances[a]),
            int(floors[a]),
            decided,
        )
    return decided


def _net_change(rows: Batch, accepted: np.ndarray, n_accounts: int) -> np.ndarray:
    """Sum of accepted movements per account (minor units)."""
    amount = np.where(accepted, rows["amount"], 0).astype(np.float64)
    sign = np.where(rows["direction"] == 0, -1.0, 1.0)
    change = np.bincount(rows["account"], weights=sign * amount, minlength=n_accounts)
    cp = rows["counterparty"] >= 0
    change += np.bincount(rows["counterparty"][cp], weights=amount[cp], minlength=n_accounts)
    # float64 sums are exact below 2**53 minor units.
    return np.round(change).astype(np.int64)


def settle(
    rows: Batch,
    balances: np.ndarray,
    floors: np.ndarray,
    card_blocked_at: np.ndarray,
    account_frozen_at: np.ndarray | None = None,
    account_thaw_at: np.ndarray | None = None,
) -> Batch:
    """Decline what cannot go through and apply the rest to `balances` (in place).

    Args:
        rows: one day's rows of every stream.
        balances: start-of-day balance per account, minor units; updated to end of day.
        floors: lowest allowed balance per account (0, -overdraft or -credit limit).
        card_blocked_at: time (seconds) each card was blocked; a large value if never. Its
            later debits are declined; credits (refunds) still reach its account.
        account_frozen_at: time each account was frozen (its debits declined from then on).
        account_thaw_at: time each freeze is lifted (after the bank's review); a large value
            if it stays.

    Returns:
        The same rows (in posting order) with is_declined and decline_reason set; the
        exporter sorts them by time.
    """
    rows = dict(rows)
    card = rows["card"]
    debits = rows["direction"] == 0
    blocked = debits & (card >= 0) & (rows["t"] >= card_blocked_at[np.maximum(card, 0)])
    rows["decline_reason"] = np.where(
        blocked & ~rows["is_declined"], REASON["card_blocked"], rows["decline_reason"]
    ).astype(np.int8)
    rows["is_declined"] = rows["is_declined"] | blocked
    if account_frozen_at is not None:
        frozen = debits & (rows["t"] >= account_frozen_at[rows["account"]])
        if account_thaw_at is not None:
            frozen &= rows["t"] < account_thaw_at[rows["account"]]
        rows["decline_reason"] = np.where(
            frozen & ~rows["is_declined"], REASON["account_frozen"], rows["decline_reason"]
        ).astype(np.int8)
        rows["is_declined"] = rows["is_declined"] | frozen

    n_accounts = len(balances)
    accepted = ~rows["is_declined"]
    debit = accepted & (rows["direction"] == 0)
    spend = np.bincount(
        rows["account"][debit],
        weights=rows["amount"][debit].astype(np.float64),
        minlength=n_accounts,
    )
    at_risk = balances - spend < floors
    n_rows = len(rows["t"])
    transfers = rows["counterparty"] >= 0
    declined_funds = np.zeros(n_rows, bool)
    # Each pass replays, from scratch, every at-risk account that reaches its floor, given the
    # credits of transfers still accepted; a declined transfer withdraws its credit from the
    # payee, so passes repeat until the declined transfers stop changing. Greedy replays need
    # not converge (two transfers in the same second, each paid from the other's credit): after
    # a few passes, transfers declined in any pass stay declined, which only removes credits
    # and so ends with a consistent result.
    forced = np.zeros(n_rows, bool)
    for attempt in range(_MAX_PASSES):
        account, delta, row, is_debit = _postings(
            rows, accepted & ~forced, at_risk, ~(declined_funds | forced)
        )
        if len(account) == 0:
            break
        decided = _replay_failing(account, delta, row, is_debit, balances, floors, n_rows)
        settled = np.array_equal(decided & transfers, declined_funds & transfers)
        if attempt >= _FREE_PASSES:
            forced |= (decided | declined_funds) & transfers
        declined_funds = decided
        if settled:
            break
    declined_funds |= forced

    rows["decline_reason"] = np.where(
        declined_funds, REASON["insufficient_funds"], rows["decline_reason"]
    ).astype(np.int8)
    rows["is_declined"] = rows["is_declined"] | declined_funds
    balances += _net_change(rows, ~rows["is_declined"], n_accounts)
    return rows
