"""What card-fraud typologies share: a ring's cash-out shops, a stolen card's days of use, and
amounts as shops charge them."""

from __future__ import annotations

import math
from collections.abc import Generator
from statistics import NormalDist
from typing import Any

import numpy as np
import simpy
from pydantic import Field

from fraudsim.core.units import DAY, MINUTE
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams

DEAD = frozenset({"card_blocked", "account_frozen"})  # declines that end a card's use
NO_LIMIT = 1 << 62  # minor units: the limit of a shop that never challenges
# choice: a ring changes its mind about a shop after a few challenges (the issuer's risk
# engine grants some exemptions and not others; a card's own low-value counter runs out)
STRIKES = 3
_NORMAL = NormalDist()
_TAIL = 1e-9  # keeps inverse-CDF draws finite


class RingParams(TypologyParams):
    """The fraud rings a card typology's episodes belong to."""

    rings: int = Field(
        default=3, ge=1, le=100, description="fraud rings, each with its own cash-out shops"
    )
    # choice: a ring works a handful of shops from its carding lists at a time
    ring_shops: int = Field(
        default=4, ge=1, le=50, description="online shops on one ring's cash-out list"
    )


def truncated_lognormal(
    rng: np.random.Generator, mu: float, sigma: float, top: float, bottom: float = 0.0
) -> float:
    """A lognormal(mu, sigma) draw between `bottom` and `top` (inverse CDF): the tails are cut,
    not piled up at the bounds, as when someone picks goods that fit under a limit."""
    sigma = max(sigma, 1e-6)

    def cdf(x: float) -> float:
        return _NORMAL.cdf((math.log(x) - mu) / sigma) if 0 < x < math.inf else float(x > 0)

    lo, hi = cdf(bottom), cdf(top)
    if hi <= lo:  # the bounds leave no room: the upper one
        return top if top < math.inf else math.exp(mu)
    u = min(max(float(rng.uniform(lo, hi)), _TAIL), 1.0 - _TAIL)
    return math.exp(mu + sigma * _NORMAL.inv_cdf(u))


class CardFraud(Typology):
    """Base of card typologies whose stolen card data rings cash out online.

    A ring keeps a short list of online shops whose goods resell well (the profile's
    `card_fraud` categories) and that, as far as it knows, take a card payment without a
    challenge: shops acquired outside the EEA never ask, others exempt payments up to their
    acquirer's risk-analysis ceiling or the low-value limit. The lists are drawn in `setup` from
    the shared stream (every shard has the same rings) and persist for the run, so a merchant's
    fraud rate becomes the real signal it is (merchant and terminal concentration of card
    fraud). A card is cashed out on a few days (`_queue_card`, `_cash_out`), each in a spree of
    purchases minutes apart at its ring's shops. When adaptive, a shop that challenges a
    payment the ring thought it would not is kept for small tickets only, or dropped for
    another (`on_declined`): fraudsters adapt by merchant, not by all sitting at the limit.
    """

    rings: list[dict[int, int]]  # per ring: shop -> largest payment (minor) it takes unasked
    dropped: list[set[int]]  # per ring: shops it gave up on
    strikes: list[dict[int, int]]  # per ring: challenges of small tickets per shop
    test_lists: list[list[int]]  # per ring: shops its bots test cards at (testing typologies)
    _shops: dict[str, np.ndarray]
    _weights: np.ndarray
    _position: dict[int, int]

    # -- the rings -----------------------------------------------------------------------------

    def setup(self) -> None:
        p = self.params
        assert isinstance(p, RingParams)
        cf = self.ch.world.profile.card_fraud
        shops = self.ch.online_shops(cf.cash_out_categories)
        if len(shops["merchant"]) == 0:  # a tiny world without such shops: any online shop
            names = [c.name for c in self.ch.world.profile.cards.categories]
            shops = self.ch.online_shops(names)
            shops["category"] = np.zeros(len(shops["merchant"]), np.int64)
        weights = shops["size"] ** cf.shop_size_exponent
        weights = weights * np.where(shops["no_sca"], cf.no_sca_shop_weight, 1.0)
        # Each category gets its share of the rings' shops, whatever its number of shops.
        share = np.asarray(cf.cash_out_category_weights, np.float64)
        share = np.resize(share, max(len(share), int(shops["category"].max(initial=0)) + 1))
        per_category = np.bincount(shops["category"], weights=weights, minlength=len(share))
        category = shops["category"]
        weights = share[category] * weights / np.maximum(per_category, 1e-12)[category]
        self._shops, self._weights = shops, weights
        self._position = {int(m): i for i, m in enumerate(shops["merchant"].tolist())}
        self.rings = [self._ring_list(p.ring_shops) for _ in range(p.rings)]
        self.dropped = [set() for _ in self.rings]
        self.strikes = [{} for _ in self.rings]
        self.test_lists = [[] for _ in self.rings]

    def _ring_list(self, n: int) -> dict[int, int]:
        """A ring's first list of `n` shops: a ring forms around a cash-out point that works,
        so its list holds a shop that never challenges whenever the world has one."""
        shops = self._draw_shops(self.shared_rng, n, set())
        free = self._shops["no_sca"] & (self._weights > 0)
        if n > 1 and free.any() and NO_LIMIT not in shops.values():
            shops.pop(list(shops)[-1])
            w = np.where(free, self._weights, 0.0)
            i = int(self.shared_rng.choice(len(w), p=w / w.sum()))
            shops[int(self._shops["merchant"][i])] = NO_LIMIT
        return shops

    def _draw_shops(self, rng: np.random.Generator, n: int, taken: set[int]) -> dict[int, int]:
        """`n` shops (weighted, without repeats) not in `taken`, with the limits the ring
        believes: none without SCA, the TRA ceiling, else the low-value limit."""
        w = self._weights.copy()
        w[[self._position[m] for m in taken if m in self._position]] = 0.0
        k = min(n, int(np.count_nonzero(w)))
        if k == 0:
            return {}
        picks = rng.choice(len(w), size=k, replace=False, p=w / w.sum())
        low = int(self.ch.bank.sca_threshold)
        shops = self._shops
        return {
            int(shops["merchant"][i]): NO_LIMIT
            if shops["no_sca"][i]
            else max(int(shops["tra_ceiling"][i]), low)
            for i in picks.tolist()
        }

    def _test_shops(self, rng: np.random.Generator, n: int, avoid: set[int]) -> list[int]:
        """Online shops where a bot tests cards: checkouts that take tiny payments with little
        screening, small shops as often as large (profile `test_shop_size_exponent`)."""
        names = [c.name for c in self.ch.world.profile.cards.categories]
        shops = self.ch.online_shops(names)
        w = shops["size"] ** self.ch.world.profile.card_fraud.test_shop_size_exponent
        w[np.isin(shops["merchant"], list(avoid))] = 0.0
        k = min(n, int(np.count_nonzero(w)))
        if k == 0:
            return [int(m) for m in self.ch.merchants(rng, n, online=True)]
        picks = rng.choice(shops["merchant"], size=k, replace=False, p=w / w.sum())
        return [int(m) for m in picks]

    def _plan_test_shops(self, n: int) -> None:
        """Each ring's test shops, kept for the run: bots go back to checkouts that let them
        test, until the shop turns on step-up (`_replace_test_shop`)."""
        self.test_lists = [self._test_shops(self.shared_rng, n, set()) for _ in self.rings]

    def _replace_test_shop(self, ep: Episode, shop: int) -> list[int]:
        """The episode's ring gives up a test shop that now challenges: another instead."""
        r = ep.state.get("ring", -1)
        if not 0 <= r < len(self.test_lists):
            return self._test_shops(self.rng, 1, {shop})
        shops = [m for m in self.test_lists[r] if m != shop]
        self.dropped[r].add(shop)
        shops += self._test_shops(self.rng, 1, set(shops) | self.dropped[r])
        self.test_lists[r] = shops
        return list(shops)

    def _join_ring(self, ep: Episode) -> None:
        """Put the episode in one of the rings (its shops) and give its carders a device."""
        ep.state["ring"] = int(self.rng.integers(len(self.rings))) if self.rings else -1
        if "device" not in ep.state:
            ep.state["device"] = self.ch.new_device()
        # Learnt from detector blocks: a spoofed fingerprint of each victim's own device.
        ep.state["spoof"] = self.evades()

    # -- amounts -------------------------------------------------------------------------------

    def _cash_out_law(self, ticket: float) -> tuple[float, float, float]:
        """Log-median and log-spread (major units) of a cash-out at a shop whose usual online
        ticket is `ticket`, and the least amount tried: the rings' cash-out median, moved
        towards the shop's prices by the profile's elasticity (typologies may override)."""
        profile = self.ch.world.profile
        cf = profile.card_fraud
        relative = ticket / profile.cards.ticket_median_cnp
        mu = math.log(cf.cash_out_median) + cf.cash_out_price_elasticity * math.log(relative)
        return mu, cf.cash_out_sigma, 0.0

    def _cash_out_amount(self, shop: int, limit: int) -> int:
        """One cash-out at `shop` (minor units), drawn under the largest payment the ring
        believes the shop takes unchallenged (cut, so tickets do not bunch at a limit) and
        priced as the shop prices. Where only the low-value limit lets payments through, it is
        an ordinary ticket of the shop (small goods), else a cash-out (`_cash_out_law`)."""
        profile = self.ch.world.profile
        minor = profile.minor_per_major
        ticket = float(self._shops["ticket"][self._position[shop]]) if shop in self._position else 0
        ticket = ticket or float(profile.cards.ticket_median_cnp)
        mu, sigma, floor = math.log(ticket), profile.cards.ticket_sigma, 0.0
        if limit > profile.sca.low_value_limit * minor:  # room for more than small goods
            mu, sigma, floor = self._cash_out_law(ticket)
        top = math.inf if limit >= NO_LIMIT else limit / minor
        amount = truncated_lognormal(self.rng, mu, sigma, top, min(floor, top / 2))
        return max(min(self.ch.shop_price(self.rng, shop, amount), limit), 1)

    # -- cash-out days -------------------------------------------------------------------------

    def spree_rows(self) -> float:
        """Mean rows of one card's cash-out, all its days (prevalence control)."""
        cf = self.ch.world.profile.card_fraud
        return cf.transactions_per_card_day * cf.spree_days

    def _queue_card(self, ep: Episode, card: int, at: int, mean_days: float = 0.0) -> None:
        """Cash `card` out from `at` on a few days (geometric, mean `mean_days`, by default the
        profile's `spree_days`)."""
        mean_days = mean_days or self.ch.world.profile.card_fraud.spree_days
        days = int(self.rng.geometric(1.0 / max(mean_days, 1.0)))
        ep.state.setdefault("queue", []).append([int(at), int(card), days])

    def _cash_out(self, ep: Episode) -> Process:
        """Work through the episode's queue: each item is one card's spree on one day; a card
        that still works comes back a day or so later. An item leaves the queue when its
        spree starts, so an interruption while waiting keeps it."""
        queue: list[list[int]] = ep.state.setdefault("queue", [])
        while queue:
            queue.sort()
            at, card, days = queue[0]
            if at > self.ch.now:
                yield self.ch.wait(at - self.ch.now)
                continue
            queue.pop(0)
            alive = yield from self._spree(ep, card)
            if alive and days > 1:
                later = at + int(DAY * self.rng.uniform(0.6, 1.4))
                queue.append([later, card, days - 1])

    def _spree(self, ep: Episode, card: int) -> Generator[simpy.Event, Any, bool]:
        """One day's cash-out of a card: purchases minutes apart at the ring's shops (Fraud
        Detection Handbook, real data: ~3 fraudulent transactions per compromised card a day)
        until the card stops working. Returns False once the card is dead."""
        ch, rng, s = self.ch, self.rng, ep.state
        cf = ch.world.profile.card_fraud
        ring = self.rings[s["ring"]] if 0 <= s.get("ring", -1) < len(self.rings) else {}
        device = s["device"]
        if s.get("spoof"):
            device = ch.device_of(int(ch.pop.cards["customer_idx"][card]))
        for k in range(1 + int(rng.poisson(cf.transactions_per_card_day - 1))):
            if not ring:
                return True
            if not self._use(ep, card):
                return False
            if k:
                yield ch.wait(cf.spree_gap_minutes * MINUTE * rng.lognormal(0.0, 1.0))
            shop = self._pick(ring)
            s["shop"] = shop
            amount = self._cash_out_amount(shop, ring[shop])
            outcome = ch.card_payment(
                ep, card, shop, amount, channel="cnp", device=device, has_otp=s.get("otp", False)
            )
            if outcome.reason in DEAD or outcome.reason == "rule":
                return False  # blocked, or burnt (velocity, data rejected): drop the card
        return True

    def _pick(self, ring: dict[int, int]) -> int:
        """The ring's shop for the next purchase, any of its list (the list already favours
        shops that never challenge)."""
        shops = list(ring)
        return shops[int(self.rng.integers(len(shops)))]

    def _use(self, ep: Episode, card: int) -> bool:
        """Count one more use of the card; False once it had `ep.state["cap"]` (if set)."""
        uses = ep.state.setdefault("uses", {})
        if uses.get(card, 0) >= ep.state.get("cap", NO_LIMIT):
            return False
        uses[card] = uses.get(card, 0) + 1
        return True

    # -- adaptation ----------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        """A shop challenged a payment the ring thought it would take. After a few such
        challenges (an exemption is the issuer's call, one may be bad luck) the ring asks it
        for small tickets only, and after a few more drops it for another shop."""
        s = ep.state
        r, shop = s.get("ring", -1), s.get("shop")
        if outcome.reason != "step_up_failed" or not 0 <= r < len(self.rings) or shop is None:
            return
        ring, believed = self.rings[r], self.rings[r].get(shop)
        if believed is None or outcome.amount > believed:
            return
        strikes = self.strikes[r]
        strikes[shop] = strikes.get(shop, 0) + 1
        if strikes[shop] < STRIKES:
            return  # bad luck with the issuer's risk engine, or the card's counter: try again
        low = int(self.ch.bank.sca_threshold)
        strikes[shop] = 0
        if believed > low:
            ring[shop] = low
        else:
            del ring[shop]
            self.dropped[r].add(shop)
            fresh = self._draw_shops(self.rng, 1, set(ring) | self.dropped[r])
            if not fresh:  # every shop it knows has failed it once: it tries them again
                self.dropped[r] = {shop}
                fresh = self._draw_shops(self.rng, 1, set(ring) | {shop})
            ring.update(fresh)
        ep.adaptations += 1
