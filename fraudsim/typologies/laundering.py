"""AML graph shapes: fan-in, fan-out, cycle, scatter-gather, gather-scatter, bipartite, stack."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from fraudsim.core.units import HOUR
from fraudsim.typologies import human
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

OUTSIDE = -2  # plan source meaning "funds arrive from another bank"
EXIT = -1  # plan destination meaning "funds leave the bank" (ch.transfer to_account -1)
Edge = list[Any]  # [src account, dst account, share of src's budget]


class GraphParams(TypologyParams):
    amount: float = Field(
        default=20_000.0, gt=0, le=1e9, description="median total injected, major units"
    )
    amount_sigma: float = Field(default=0.5, ge=0, le=3, description="lognormal sigma of the total")
    fee: float | None = Field(
        default=None,
        ge=0,
        le=0.5,
        description="mean share a mule keeps before passing on (None: the profile's mule "
        "commission, ~5-20%); the launderer's own accounts keep the profile's own share",
    )
    hop_hours: float = Field(
        default=6.0, gt=0, le=720, description="mean hours between successive layers"
    )
    spacing_minutes: float = Field(
        default=20.0, gt=0, le=1_440, description="mean minutes between transfers of one layer"
    )
    own_hub_share: float = Field(
        default=0.5, ge=0, le=1, description="share of hub accounts opened by the launderer"
    )
    exit: bool = Field(default=True, description="the last accounts wire the funds out")


class _Graph(Typology):
    """A layered money-flow graph: money enters layer 0 from outside, each account keeps a
    small fee and splits the rest along its out-edges to the next layer, layer by layer."""

    family = "aml"
    report_kind = "aml"
    default_rate_per_day = 0.1
    Params: ClassVar[type[TypologyParams]] = GraphParams
    params: GraphParams

    # -- the shape (subclasses) ----------------------------------------------------------------

    @abstractmethod
    def layers(self, ep: Episode) -> list[list[int]]:
        """Account idx of each layer, first to last."""

    def edges(self, src: list[int], dst: list[int]) -> list[Edge]:
        """Complete bipartite by default, with uneven (Dirichlet) splits per source."""
        out: list[Edge] = []
        for s in src:
            shares = self.rng.dirichlet(np.full(len(dst), 4.0))
            out += [[s, d, float(w)] for d, w in zip(dst, shares, strict=True)]
        return out

    @abstractmethod
    def n_edges(self) -> float:
        """Mean number of transfers between layers (for prevalence control)."""

    # Accounts the launderer may open for the shape (each gets a first deposit).
    hubs: ClassVar[int] = 0

    def expected_rows(self) -> float:
        return self.n_edges() + self.hubs * self.params.own_hub_share

    # -- accounts ------------------------------------------------------------------------------

    def _mules(self, ep: Episode, n: int) -> list[int]:
        """Checking accounts of n recruited mules (at mule ages), none used twice."""
        ch = self.ch
        used: set[int] = ep.state.setdefault("used", set())
        pool = human.recruit(ch, self.rng, n + len(used) + 2)
        out = [ch.checking(c) for c in pool if ch.checking(c) not in used][:n]
        for account in out:
            used.add(account)
            ep.state["roles"][account] = "mule"
            ep.accounts.add(account)
        if ep.fraudster is not None:
            ep.fraudster.mule_accounts += out
        return out

    def _hub(self, ep: Episode) -> int:
        """A collecting or distributing account: the launderer's own (newly opened, e.g. a
        shell trader) or a recruited mule's."""
        if self.rng.random() >= self.params.own_hub_share:
            return self._mules(ep, 1)[0]
        # Opened under an identity like any newcomer's and funded as newcomers fund theirs.
        _, account = human.open_like_newcomer(self.ch, self.rng)
        t, amount, cash = human.first_deposit(self.rng, self.ch.world.profile, self.ch.now)
        ep.state.setdefault("deposits", []).append([t, account, amount, cash])
        ep.state["roles"][account] = "fraudster"
        ep.state.setdefault("used", set()).add(account)
        ep.accounts.add(account)
        return account

    def _device(self, account: int) -> int:
        return self.ch.device_of(int(self.ch.pop.accounts["customer_idx"][account]))

    # -- plan and execution --------------------------------------------------------------------

    def _plan(self, ep: Episode) -> None:
        p = self.params
        ep.state["roles"] = {}
        layers = self.layers(ep)
        shares = self.rng.dirichlet(np.full(len(layers[0]), 5.0))
        plan = [[[OUTSIDE, a, float(w)] for a, w in zip(layers[0], shares, strict=True)]]
        plan += [self.edges(layers[i], layers[i + 1]) for i in range(len(layers) - 1)]
        if p.exit:
            plan.append([[a, EXIT, 1.0] for a in dict.fromkeys(layers[-1])])
        total = self.rng.lognormal(np.log(p.amount), p.amount_sigma)
        ep.state.update(
            plan=plan,
            stage=0,
            edge=0,
            holding={OUTSIDE: int(round(total * self.ch.world.profile.minor_per_major))},
            amounts=[],
            pace=1.0,
        )

    def _amounts(self, ep: Episode, stage: list[Edge]) -> list[int]:
        """What each edge of a stage moves (minor units): each source keeps a cut drawn for it
        (a mule's commission, or the little a launderer's own account keeps) and splits the
        rest along its edges in sums typed as people type them, the last edge what is left."""
        st, rng, prof = ep.state, self.rng, self.ch.world.profile
        budget: dict[int, int] = {}
        for src in dict.fromkeys(e[0] for e in stage):
            held = max(st["holding"].get(src, 0), 0)
            if src == OUTSIDE:
                budget[src] = held
                continue
            mean = human.own_keep(prof) if st["roles"].get(src) == "fraudster" else self.params.fee
            budget[src] = int(held * (1 - human.cut(rng, prof, mean)))
        last = {e[0]: i for i, e in enumerate(stage)}
        left = dict(budget)
        out = []
        for i, (src, _, share) in enumerate(stage):
            piece = human.typed(rng, prof, budget[src] * share, down=True)
            amount = left[src] if last[src] == i else min(piece, left[src])
            left[src] -= amount
            out.append(amount)
        return out

    def run(self, ep: Episode) -> Process:
        p = self.params
        ch, rng, st = self.ch, self.rng, ep.state
        if "plan" not in st:
            self._plan(ep)
        while st.get("deposits"):
            # New accounts of the launderer get their first deposit before they are used.
            t, account, amount, cash = st["deposits"][0]
            if t > ch.now:
                yield ch.wait(t - ch.now)
            st["deposits"].pop(0)
            human.post_deposit(ch, ep, account, amount, cash, "fraudster")
        while st["stage"] < len(st["plan"]):
            stage = st["plan"][st["stage"]]
            if st["edge"] == 0 and not st["amounts"]:
                if st["stage"] > 0:
                    yield ch.wait(rng.exponential(p.hop_hours * HOUR) * st["pace"])
                st["amounts"] = self._amounts(ep, stage)
            while st["edge"] < len(stage):
                src, dst, _ = stage[st["edge"]]
                amount = st["amounts"][st["edge"]]
                if amount >= 100 and src != OUTSIDE:
                    # The payer opens their banking app first (as honest payers do).
                    owner = int(ch.pop.accounts["customer_idx"][src])
                    gap = human.open_session(ch, ep, rng, owner, self._device(src), src)
                    if gap:
                        yield ch.wait(gap)
                st["edge"] += 1
                if amount < 100:  # nothing left to move on this edge (e.g. a frozen source)
                    continue
                self._move(ep, src, dst, amount)
                if st["edge"] < len(stage):
                    gap = rng.exponential(p.spacing_minutes * 60) * st["pace"]
                    yield ch.wait(gap)
            st["stage"] += 1
            st["edge"] = 0
            st["amounts"] = []

    def _move(self, ep: Episode, src: int, dst: int, amount: int) -> None:
        ch, st = self.ch, ep.state
        if src == OUTSIDE:
            role = st["roles"][dst]
            outcome = ch.credit(
                ep, dst, amount, tx_type="p2p_transfer", channel="online_banking", role=role
            )
        else:
            role = st["roles"][src]
            outcome = ch.transfer(ep, src, dst, amount, device=self._device(src), role=role)
        if outcome.approved:
            st["holding"][src] = st["holding"].get(src, 0) - amount
            st["holding"][dst] = st["holding"].get(dst, 0) + amount

    # -- adaptation ----------------------------------------------------------------------------

    def _reroute(self, ep: Episode) -> bool:
        """Replace frozen accounts in the rest of the plan by fresh mules; True if any."""
        st, bank = ep.state, self.ch.bank
        if "plan" not in st:
            return False
        ahead = [
            edge
            for s in range(st["stage"], len(st["plan"]))
            for edge in st["plan"][s][(st["edge"] if s == st["stage"] else 0) :]
        ]
        now = self.ch.now
        frozen = {a for e in ahead for a in e[:2] if a >= 0 and bank.account_frozen_at[a] <= now}
        if not frozen:
            return False
        fresh = self._mules(ep, len(frozen))  # fewer if the pool of young customers runs dry
        swap = dict(zip(sorted(frozen), fresh, strict=False))
        for edge in ahead:
            edge[0], edge[1] = swap.get(edge[0], edge[0]), swap.get(edge[1], edge[1])
        for a in swap:
            st["roles"].pop(a, None)
        return True

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "account_frozen":
            # Route around the frozen account and slow down to look less hurried.
            if self._reroute(ep):
                ep.adaptations += 1
            ep.state["pace"] = min(ep.state.get("pace", 1.0) * 2, 16.0)

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        self._reroute(ep)
        return ep.state.get("stage", 0) < len(ep.state.get("plan", []))


def _width(default: int, what: str, lo: int = 2, hi: int = 200) -> Any:
    return Field(default=default, ge=lo, le=hi, description=what)


class FanInParams(GraphParams):
    sources: int = _width(8, "mule accounts collecting funds for the hub")


@register("fan_in.v1")
class FanIn(_Graph):
    hubs = 1
    description = "Many mule accounts receive funds and pass them on to one collecting account."
    Params = FanInParams
    params: FanInParams

    def layers(self, ep: Episode) -> list[list[int]]:
        return [self._mules(ep, self.params.sources), [self._hub(ep)]]

    def n_edges(self) -> float:
        return 2 * self.params.sources + self.params.exit


class FanOutParams(GraphParams):
    destinations: int = _width(8, "mule accounts the hub distributes to")


@register("fan_out.v1")
class FanOut(_Graph):
    hubs = 1
    description = "One account receives a large sum and distributes it to many mule accounts."
    Params = FanOutParams
    params: FanOutParams

    def layers(self, ep: Episode) -> list[list[int]]:
        return [[self._hub(ep)], self._mules(ep, self.params.destinations)]

    def n_edges(self) -> float:
        return 1 + self.params.destinations * (1 + self.params.exit)


class CycleParams(GraphParams):
    intermediaries: int = _width(4, "accounts the funds pass through before returning", 1, 50)
    exit: bool = Field(default=False, description="the origin wires the returned funds out")


@register("cycle.v1")
class Cycle(_Graph):
    hubs = 1
    description = "Funds leave an account, pass through intermediaries and return to it."
    Params = CycleParams
    params: CycleParams

    def layers(self, ep: Episode) -> list[list[int]]:
        origin = self._hub(ep)
        chain = self._mules(ep, self.params.intermediaries)
        return [[origin], *([m] for m in chain), [origin]]

    def n_edges(self) -> float:
        return 2 + self.params.intermediaries + self.params.exit


class ScatterGatherParams(GraphParams):
    intermediaries: int = _width(6, "accounts the funds are split across")


@register("scatter_gather.v1")
class ScatterGather(_Graph):
    hubs = 2
    description = "One account splits funds across intermediaries that recombine them in one."
    Params = ScatterGatherParams
    params: ScatterGatherParams

    def layers(self, ep: Episode) -> list[list[int]]:
        src, mids = self._hub(ep), self._mules(ep, self.params.intermediaries)
        return [[src], mids, [self._hub(ep)]]

    def n_edges(self) -> float:
        return 1 + 2 * self.params.intermediaries + self.params.exit


class GatherScatterParams(GraphParams):
    sources: int = _width(6, "accounts collecting funds for the hub")
    destinations: int = _width(6, "accounts the hub distributes to")


@register("gather_scatter.v1")
class GatherScatter(_Graph):
    hubs = 1
    description = "Many accounts pay one hub, which then distributes the funds to many others."
    Params = GatherScatterParams
    params: GatherScatterParams

    def layers(self, ep: Episode) -> list[list[int]]:
        p = self.params
        return [self._mules(ep, p.sources), [self._hub(ep)], self._mules(ep, p.destinations)]

    def n_edges(self) -> float:
        p = self.params
        return 2 * p.sources + p.destinations * (1 + p.exit)


class BipartiteParams(GraphParams):
    sources: int = _width(5, "accounts on the paying side")
    destinations: int = _width(5, "accounts on the receiving side")
    degree: int = _width(3, "receiving accounts each paying account sends to", 1, 200)


@register("bipartite.v1")
class Bipartite(_Graph):
    description = "Many accounts each pay several of many other accounts (many-to-many)."
    Params = BipartiteParams
    params: BipartiteParams

    def layers(self, ep: Episode) -> list[list[int]]:
        p = self.params
        return [self._mules(ep, p.sources), self._mules(ep, p.destinations)]

    def edges(self, src: list[int], dst: list[int]) -> list[Edge]:
        """Each source pays `degree` receivers; every receiver gets at least one payment."""
        k = min(self.params.degree, len(dst))
        picks = [list(self.rng.choice(len(dst), size=k, replace=False)) for _ in src]
        for d in set(range(len(dst))) - {d for row in picks for d in row}:
            row = picks[int(self.rng.integers(0, len(src)))]
            row.append(d)
        out: list[Edge] = []
        for s, row in zip(src, picks, strict=True):
            shares = self.rng.dirichlet(np.full(len(row), 4.0))
            out += [[s, dst[int(d)], float(w)] for d, w in zip(row, shares, strict=True)]
        return out

    def n_edges(self) -> float:
        p = self.params
        d = min(p.degree, p.destinations)
        return p.sources * (1 + d) + p.destinations * p.exit


class StackParams(GraphParams):
    width: int = _width(3, "accounts per layer")
    depth: int = _width(3, "layers of accounts (funds cross depth - 1 fans)", 2, 20)


@register("stack.v1")
class Stack(_Graph):
    description = "Funds cross several layers of accounts, each layer paying all of the next."
    Params = StackParams
    params: StackParams

    def layers(self, ep: Episode) -> list[list[int]]:
        p = self.params
        return [self._mules(ep, p.width) for _ in range(p.depth)]

    def n_edges(self) -> float:
        p = self.params
        return p.width + (p.depth - 1) * p.width**2 + p.width * p.exit
