"""The bank's cases: a blocked card is replaced, a frozen account is reviewed (a victim's freeze
lifted, a mule exited), and customers stop using a card once they know it is blocked.

Real customers do not hammer a blocked card for weeks: the bank tells them (an alert, or the
first declined payment does), they pay with their other card or in cash, and a new card reaches
them within days. A victim's account is frozen only while the bank reviews the case (hours to a
couple of days); a mule's stays frozen and the customer is exited, after which their honest
life continues at another bank (their rows stop here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from fraudsim.core.ledger import Batch
from fraudsim.core.units import DAY, HOUR

if TYPE_CHECKING:
    from fraudsim.world.model import World

NEVER = np.iinfo(np.int64).max
# Log-spreads of the bank's delays (choice): card delivery varies less than case reviews.
_REPLACEMENT_SIGMA = 0.4
_NOTICE_SIGMA = 1.0
_REVIEW_SIGMA = 0.8
_MIN_REVIEW = 10 * 60  # seconds: even an obvious case takes a person minutes


def alternative_cards(customer: np.ndarray) -> np.ndarray:
    """For each card, another card of its holder (the next one, cyclically); -1 if none."""
    n = len(customer)
    order = np.argsort(customer, kind="stable")
    c = customer[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if n else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, n])
    group_start = np.repeat(starts, sizes)
    size = np.repeat(sizes, sizes)
    nxt = group_start + (np.arange(n) - group_start + 1) % np.maximum(size, 1)
    alt = np.full(n, -1, np.int64)
    alt[order] = np.where(size > 1, order[nxt], -1)
    return alt


class CaseHandling:
    """Mixin of `Bank`: card replacement, account reviews and how honest rows follow them."""

    model: World
    card_blocked_at: np.ndarray
    card_lost_at: np.ndarray
    account_frozen_at: np.ndarray
    _day_start: int
    # Grows every per-card array of the bank by one card (`Bank.add_card`).
    add_card: Callable[[], None]

    def _init_cases(self, n_cards: int, n_accounts: int) -> None:
        pop = self.model.population
        self.card_known_at = np.full(n_cards, NEVER, np.int64)  # holder knows of the block
        self.card_replaced_by = np.full(n_cards, -1, np.int64)
        self.card_ready_at = np.full(n_cards, NEVER, np.int64)  # its replacement is usable
        self.alt_card = alternative_cards(pop.cards["customer_idx"][:n_cards])
        self.account_thaw_at = np.full(n_accounts, NEVER, np.int64)
        self.account_closed_at = np.full(n_accounts, NEVER, np.int64)
        self._replacements: list[tuple[int, int, int]] = []  # (card, blocked since, due)
        self._case_rng = self.model.streams.generator("bank_cases")

    def _grow_cards(self) -> None:
        self.card_known_at = np.append(self.card_known_at, NEVER)
        self.card_replaced_by = np.append(self.card_replaced_by, -1)
        self.card_ready_at = np.append(self.card_ready_at, NEVER)
        self.alt_card = np.append(self.alt_card, -1)

    def _grow_accounts(self) -> None:
        self.account_thaw_at = np.append(self.account_thaw_at, NEVER)
        self.account_closed_at = np.append(self.account_closed_at, NEVER)

    def _delay(self, median: float, sigma: float) -> int:
        return int(median * self._case_rng.lognormal(0.0, sigma))

    # -- opening cases -------------------------------------------------------------------------

    def _card_case(self, card: int, at: int) -> None:
        """A card was blocked at `at`: its holder hears of it, a replacement is sent."""
        cfg = self.model.config.bank
        notice = at + self._delay(cfg.block_notice_hours * HOUR, _NOTICE_SIGMA)
        self.card_known_at[card] = min(int(self.card_known_at[card]), notice)
        due = at + max(self._delay(cfg.card_replacement_days * DAY, _REPLACEMENT_SIGMA), HOUR)
        self._replacements.append((card, at, due))

    def _account_case(self, account: int, at: int) -> None:
        """An account was frozen at `at` (or is frozen and a new report names it): after the
        review a victim's freeze is lifted, a mule (or a fraudster's own account) is exited."""
        end = at + max(
            self._delay(self.model.config.bank.review_hours * HOUR, _REVIEW_SIGMA), _MIN_REVIEW
        )
        if self._is_mule(account):
            self.account_thaw_at[account] = NEVER
            pop = self.model.population
            owner = int(pop.accounts["customer_idx"][account])
            for acct in np.flatnonzero(pop.accounts["customer_idx"] == owner).tolist():
                self.account_closed_at[acct] = min(int(self.account_closed_at[acct]), end)
        elif self.account_thaw_at[account] == NEVER:
            self.account_thaw_at[account] = end

    def _is_mule(self, account: int) -> bool:
        """Whether the review finds the account used for fraud by its own holder (a mule, a
        synthetic identity) rather than defrauded: it served a fraud episode that has not its
        holder among the victims."""
        owner = int(self.model.population.accounts["customer_idx"][account])
        return any(
            ep.is_fraud and account in ep.accounts and owner not in ep.victims
            for ep in self.model.fraud.episodes
        )

    def frozen(self, account: int, t: int) -> bool:
        """Whether the account's debits are declined at time t."""
        return bool(self.account_frozen_at[account] <= t < self.account_thaw_at[account])

    # -- the day -------------------------------------------------------------------------------

    def _issue_replacements(self, until: int) -> None:
        """Issue the replacement of every card due before `until` (a block lifted meanwhile,
        such as an honest customer's after the detector's review, needs none)."""
        due = [r for r in self._replacements if r[2] < until]
        self._replacements = [r for r in self._replacements if r[2] >= until]
        for card, since, ready in due:
            if self.card_blocked_at[card] != since or self.card_replaced_by[card] >= 0:
                continue
            new = self._new_card_like(card)
            self.card_replaced_by[card] = new
            self.card_ready_at[card] = ready
            self.alt_card[new] = self.alt_card[card]

    def _new_card_like(self, card: int) -> int:
        pop = self.model.population
        c = pop.cards
        new = len(c["customer_idx"])
        for name, column in list(c.columns.items()):
            if name != "id":
                c[name] = np.append(column, column[card])
        pop.new_ids("cards", c, np.array([new]))
        self.add_card()
        pop.appended_cards.append(new)
        return new

    def _resolve(self, card: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The card a holder pays with at t: a replaced card's successor once it arrived."""
        card = card.copy()
        for _ in range(16):  # a chain of replacements within one run is short
            c = np.maximum(card, 0)
            move = (card >= 0) & (self.card_replaced_by[c] >= 0) & (t >= self.card_ready_at[c])
            if not move.any():
                break
            card = np.where(move, self.card_replaced_by[c], card)
        return card

    def route_honest(self, rows: Batch, apply: bool = True) -> Batch:
        """Honest rows as their customers really make them, given blocks and exits.

        A replaced card's payments move to its successor once it arrives; a card its holder
        lost, or knows to be blocked, is not used: the payment moves to the holder's other card
        (if usable) or is made in cash (the row goes). The first payment on a blocked card the
        holder has not heard of yet is declined, and tells them (`apply` records that). Rows of
        exited customers go. Credits still reach a blocked card's account.
        """
        honest = (rows["episode"] < 0) & (rows["card"] >= 0)
        t = rows["t"]
        card = np.where(honest, self._resolve(rows["card"], t), rows["card"])
        c = np.maximum(card, 0)
        debit = honest & (rows["direction"] == 0)
        blocked = t >= self.card_blocked_at[c]
        aware = t >= self.card_known_at[c]
        unaware = debit & blocked & ~aware & (t < self.card_lost_at[c])
        if unaware.any():
            # The first such attempt per card is declined (settlement); later ones follow it.
            idx = np.flatnonzero(unaware)
            first_t = np.full(len(self.card_blocked_at), NEVER, np.int64)
            np.minimum.at(first_t, card[idx], t[idx])
            aware |= unaware & (t > first_t[c])
            if apply:
                told = np.flatnonzero(first_t < NEVER)
                self.card_known_at[told] = np.minimum(self.card_known_at[told], first_t[told] + 1)
        gone = debit & ((t >= self.card_lost_at[c]) | (blocked & aware))
        alt = self._resolve(np.where(gone, self.alt_card[c], -1), t)
        a = np.maximum(alt, 0)
        usable = (alt >= 0) & (t < self.card_blocked_at[a]) & (t < self.card_lost_at[a])
        card = np.where(gone & usable, alt, card)
        pop = self.model.population
        account = np.where(
            honest, pop.cards["account_idx"][np.maximum(card, 0)], rows["account"]
        ).astype(rows["account"].dtype)
        exited = (rows["episode"] < 0) & (t >= self.account_closed_at[account])
        keep = ~((gone & ~usable) | exited)
        out = dict(rows)
        out["card"] = card.astype(rows["card"].dtype)
        out["account"] = account
        if keep.all():
            return out
        idx = np.flatnonzero(keep)
        return {name: column[idx] for name, column in out.items()}

    def thaw_before(self, until: int) -> None:
        """Lift the freezes whose review ended before `until` (after the day's settlement,
        which declined the frozen part of the day)."""
        done = self.account_thaw_at < until
        self.account_frozen_at[done] = NEVER
        self.account_thaw_at[done] = NEVER
