"""The base of honest look-alikes: when people act, whom they pick, how they type sums."""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, Typology

_NOT_SHOPS = ("atm", "utilities", "telecom", "insurance")  # categories ch.merchants never picks
Pool = tuple[np.ndarray, np.ndarray]  # merchants (idx) and their cumulative sizes


class Honest(Typology):
    """Real customers acting for themselves: their own cards and devices, role "none", never
    reported. `run` names the pattern on the episode so every row carries it.

    How often people do it is an honest rate, not a fraud rate: the profile's
    `lookalikes.<honest_rate>` per customer and month, which prevalence control and
    oversampling never touch (fraud_engine). A standing behaviour (`standing_days`, e.g. a
    subscription) is a stock instead: that many per customer, each starting in its first
    period and running to the end.
    """

    family = "lookalike"
    report_kind = "never"
    is_fraud: ClassVar[bool] = False
    default_rate_per_day = 0.3
    honest_rate: ClassVar[str | None] = None  # field of profile.lookalikes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Looked up once per typology: per episode, these scans grow with the population.
        self._cdfs: dict[str, np.ndarray] = {}
        self._pools: dict[tuple[str | None, bool, int | None], Pool | None] = {}
        self._card_index: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def minor(self) -> int:
        """Minor units per major unit of the world's currency."""
        return int(self.ch.world.profile.minor_per_major)

    @property
    def standing_days(self) -> float | None:
        """Period of a standing behaviour (None: episodes start over the whole window)."""
        return None

    def run(self, ep: Episode) -> Process:
        ep.pattern = self.name.split(".")[0]
        yield from self.behave(ep)

    @abstractmethod
    def behave(self, ep: Episode) -> Process:
        """The honest behaviour (a SimPy generator); `run` names the pattern first."""

    # -- when people act -----------------------------------------------------------------------

    def _hour_cdf(self, channel: str) -> np.ndarray:
        """Cumulative hour-of-day weights of honest activity on a channel: the profile's shape
        for the channel if it has one, else the all-card shape."""
        if channel not in self._cdfs:
            cal = self.ch.world.profile.calendar
            weights = getattr(cal, f"hour_weights_{channel}", None) or cal.hour_weights
            self._cdfs[channel] = np.cumsum(np.asarray(weights, dtype=np.float64))
        return self._cdfs[channel]

    def _hour(self, channel: str) -> int:
        cdf = self._hour_cdf(channel)
        return min(int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right")), 23)

    def _at_hour(self, channel: str, not_before: float | None = None) -> float:
        """Seconds to wait until the next moment (from `not_before`, default now) at an hour
        drawn from honest activity on the channel: people act when people act, at night too
        as often as honest customers do, never in a fixed daytime window."""
        now = self.ch.now
        t0 = int(now if not_before is None else max(now, not_before))
        t = t0 - t0 % DAY + self._hour(channel) * HOUR + int(self.rng.integers(0, HOUR))
        return float((t if t > t0 else t + DAY) - now)

    # -- who -----------------------------------------------------------------------------------

    def _someone(self, min_age: int = 18, exclude: tuple[int, ...] = ()) -> int:
        """One customer of the initial population at least `min_age` old (a few random draws:
        cheap at any population size, unlike filtering every customer)."""
        ages, n = self.ch.pop.customers["age"], int(self.ch.world.n_initial_customers)
        for _ in range(64):
            who = int(self.rng.integers(0, n))
            if ages[who] >= min_age and who not in exclude:
                return who
        return int(self.ch.sample_customers(self.rng, 1, min_age=min_age)[0])

    def _people(self, n: int, exclude: int, contacts_of: int | None = None) -> list[int]:
        """n distinct customers: the person's own contacts first, then others."""
        picked: list[int] = []
        if contacts_of is not None:
            picked = [int(c) for c in dict.fromkeys(self.ch.pop.contacts[contacts_of].tolist())]
        picked = [c for c in picked if c != exclude and c >= 0]
        while len(picked) < n:
            picked.append(self._someone(exclude=(exclude, *picked)))
        return picked[:n]

    def _card(self, customer: int, prefer_credit: bool = False) -> int:
        """The customer's debit card (or credit card if preferred and held)."""
        cards = self._cards_of(customer)
        kinds = self.ch.pop.cards["kind"][cards]
        preferred = cards[kinds == (1 if prefer_credit else 0)]
        return int((preferred if len(preferred) else cards)[0])

    def _cards_of(self, customer: int) -> np.ndarray:
        """A customer's cards, from an index of the cards issued by the start (kept once per
        typology: a search of the whole card table per episode grows with the population)."""
        if self._card_index is None:
            owner = np.asarray(self.ch.pop.cards["customer_idx"], dtype=np.int64)
            order = np.argsort(owner, kind="stable")
            self._card_index = (order, owner[order])
        order, owners = self._card_index
        # Queries of the index's own dtype: searchsorted would otherwise cast the whole index.
        lo, hi = np.searchsorted(owners, np.array([customer, customer + 1], dtype=np.int64))
        return order[lo:hi] if hi > lo else self.ch.cards_of(customer)

    def _room(self, account: int) -> int:
        return int(self.ch.bank.balances[account] - self.ch.bank.floors[account])

    def _afford(self, amount: float, min_age: int, credit: bool) -> tuple[int, int, int]:
        """(customer, card, room): the first of up to 20 customers whose card has room for
        `amount` (minor units), else the roomiest: people spend when they can afford it."""
        best = (-(2**62), -1, -1)
        for _ in range(20):
            c = self._someone(min_age)
            card = self._card(c, prefer_credit=credit)
            room = self._room(int(self.ch.pop.cards["account_idx"][card]))
            if room >= amount:
                return c, card, room
            best = max(best, (room, c, card))
        room, who, card = best
        return who, card, room

    def _merchant(self, category: str | None, online: bool, region: int | None = None) -> int:
        """A merchant of the category (in the region if any exists there, else anywhere), drawn
        by size as `ch.merchants` draws: the pools are kept once per typology, since filtering
        the merchant table per purchase grows with the population."""
        for key in ((category, online, region), (category, online, None), (None, online, region)):
            pool = self._pool(*key)
            if pool is not None:
                merchants, cdf = pool
                return int(merchants[np.searchsorted(cdf, self.rng.random() * cdf[-1], "right")])
        return int(self.ch.merchants(self.rng, 1, online=online)[0])

    def _pool(self, category: str | None, online: bool, region: int | None) -> Pool | None:
        """Merchants of a kind and their cumulative sizes (None: no such merchant)."""
        key = (category, online, region)
        if key not in self._pools:
            m, cats = self.ch.pop.merchants, self.ch.pop.categories
            mask = ~np.isin(m["category"], [cats.index(c) for c in _NOT_SHOPS])
            mask &= m["online"] == online
            if category is not None:
                mask &= m["category"] == cats.index(category)
            if region is not None:
                mask &= m["region"] == region
            merchants = np.flatnonzero(mask & (m["size"] > 0))
            cdf = np.cumsum(m["size"][merchants].astype(np.float64))
            self._pools[key] = (merchants, cdf) if len(merchants) else None
        return self._pools[key]

    # -- money as people type it ---------------------------------------------------------------

    def _typed(self, major: float, round_share: float | None = None) -> int:
        """A sum (major units) as people type a transfer, in minor units: a round figure, whole
        units or the exact sum with cents, at the honest person-to-person shares of the
        profile (the rounding rule of honest transfers: the largest step not above a quarter
        of the sum; above the steps, to 1-2 significant digits)."""
        t, minor = self.ch.world.profile.transfers, self.minor
        rounded = t.p2p_round_share if round_share is None else round_share
        # The rest is whole units or cents in the proportion of honest transfers.
        whole = (1 - rounded) * t.p2p_whole_share / max(1 - t.p2p_round_share, 1e-9)
        u = self.rng.random()
        if u < rounded:
            steps = [s for s in t.p2p_round_steps if s <= major / 4] or [t.p2p_round_steps[0]]
            step = steps[-1]
            if major > 4 * t.p2p_round_steps[-1]:  # 2,340 -> 2,500: one or two digits
                step = max(step, 10 ** math.floor(math.log10(major)) / 2)
            value = max(round(major / step), 1) * step
        elif u < rounded + whole:
            value = round(major)
        else:
            value = major
        return max(round(value * minor), minor)

    def _split(self, total: int, n: int) -> list[int]:
        """`total` (minor units) in n uneven pieces (a deposit and the balance, repayments),
        each typed as people type it, the last one what is left: never equal pieces."""
        parts: list[int] = []
        left = total
        for weight in self.rng.dirichlet(np.full(n, 2.0))[:-1]:
            piece = min(self._typed(total / self.minor * float(weight)), left - self.minor)
            if piece <= 0:
                break
            parts.append(piece)
            left -= piece
        return [*parts, left]

    # -- acting --------------------------------------------------------------------------------

    def _pay(self, ep: Episode, src: int, dst: int, amount: int) -> Outcome:
        """An own-device transfer; dst -1 pays someone at another bank."""
        who = int(self.ch.pop.accounts["customer_idx"][src])
        device = self.ch.own_device(self.rng, who)
        return self.ch.transfer(ep, src, dst, amount, device=device, role="none")

    def _funds(self, account: int, amount: int, days: int = 14) -> Process:
        """Wait (a day at a time, at most `days`) until the account can pay `amount`: a
        relative repays once the money is there, e.g. after payday."""
        for _ in range(days):
            if self._room(account) >= amount:
                return
            yield self.ch.wait(DAY)

    def _receive(self, ep: Episode, account: int, amount: int) -> Outcome:
        """A transfer arriving from someone at another bank."""
        return self.ch.credit(
            ep, account, amount, tx_type="p2p_transfer", channel="online_banking", role="none"
        )

    def _shop(
        self,
        ep: Episode,
        card: int,
        merchant: int,
        amount: int,
        channel: str,
        customer: int,
        device: int | None = None,
    ) -> Outcome:
        """A card payment by its holder (own device online, a terminal of the shop in store);
        the cardholder passes step-up. Terminals are drawn from this typology's stream."""
        ch = self.ch
        if channel == "pos":
            terminal = ch.terminal_of(self.rng, merchant)
            return ch.card_payment(
                ep, card, merchant, amount, "pos", terminal=terminal, role="none", has_otp=True
            )
        device = ch.own_device(self.rng, customer) if device is None else device
        return ch.card_payment(ep, card, merchant, amount, "cnp", device, role="none", has_otp=True)
