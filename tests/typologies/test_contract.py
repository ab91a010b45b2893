"""The typology contract suite (fraudsim.typologies.checks) on every built-in typology, and
proof that it catches broken typologies: dummies registered under test-only names."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from pydantic import ConfigDict, Field

from fraudsim.api import simulate
from fraudsim.typologies import registry
from fraudsim.typologies.base import Episode, Process, Typology, TypologyParams
from fraudsim.typologies.checks import (
    SkipCheck,
    check_typology,
    parametrize_with_checks,
    typology_checks,
)

# builtin() lists whatever is registered: keep the modules of fraudsim.typologies only.
BUILTINS = [
    cls for cls in registry.builtin().values() if cls.__module__.startswith("fraudsim.typologies.")
]
# {typology: {check: reason}} for built-ins that fail a check: a finding to fix, kept visible
# as a strict xfail (the suite goes red when it is fixed, so the entry is then removed).
KNOWN_FAILURES: dict[str, dict[str, str]] = {}
CHECK_NAMES = [
    "check_class_attributes",
    "check_params_validate",
    "check_world_runs",
    "check_labels",
    "check_deterministic",
    "check_honest_rows_unchanged",
    "check_adaptation_hooks",
    "check_readme_catalogue",
]


@parametrize_with_checks(BUILTINS, simulate=simulate, expected_failures=KNOWN_FAILURES)
def test_builtin_typology_contract(typology: type[Typology], check: Callable[[], None]) -> None:
    check()


# -- dummies: one well-formed plugin, and broken ones each caught by its check ----------------


class DummyParams(TypologyParams):
    purchases: int = Field(default=3, ge=1, le=20, description="online purchases per card")


class Dummy(Typology):
    """A well-formed plugin: a stolen card buys a few things online."""

    family = "card"
    description = "A stolen card buys a few small things online within the hour."
    report_kind = "card"
    default_rate_per_day = 0.1
    rows_per_episode = 3.0
    Params = DummyParams

    def run(self, ep: Episode) -> Process:
        p, ch, rng = self.params, self.ch, self.rng
        assert isinstance(p, DummyParams)
        victim = int(ch.sample_customers(rng, 1)[0])
        card = int(ch.cards_of(victim)[0])
        merchant = int(ch.merchants(rng, 1, online=True)[0])
        for _ in range(p.purchases):
            ch.card_payment(ep, card, merchant, int(rng.integers(500, 3_000)))
            yield ch.wait(rng.exponential(600))


class Mislabelled(Dummy):
    """Broken: the class says fraud, but its rows are labelled legitimate."""

    def run(self, ep: Episode) -> Process:
        ep.is_fraud = False
        yield from super().run(ep)


class OpenParams(DummyParams):
    model_config = ConfigDict(extra="allow", frozen=True)


class LaxParams(Dummy):
    """Broken: its parameters accept unknown keys, so a typo in a scenario goes unnoticed."""

    Params = OpenParams


class Unseeded(Dummy):
    """Broken: draws amounts from an unseeded generator, so a seed does not reproduce a run."""

    def run(self, ep: Episode) -> Process:
        self.rng = np.random.default_rng()
        yield from super().run(ep)


class SilencesOthers(Dummy):
    """Broken: takes cards away from customers it never touches, so honest rows vanish."""

    def run(self, ep: Episode) -> Process:
        for bystander in self.ch.sample_customers(self.rng, 20).tolist():
            for card in self.ch.cards_of(int(bystander)).tolist():
                self.ch.card_lost(int(card))
        yield from super().run(ep)


DUMMIES = {
    "contract_dummy.v1": Dummy,
    "contract_mislabelled.v1": Mislabelled,
    "contract_lax_params.v1": LaxParams,
    "contract_unseeded.v1": Unseeded,
    "contract_silences_others.v1": SilencesOthers,
}


@pytest.fixture
def dummies(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The dummies in the registry for one test, under test-only names."""
    for name, cls in DUMMIES.items():
        monkeypatch.setitem(registry._REGISTRY, name, cls)
        monkeypatch.setattr(cls, "name", name)
    yield


@pytest.mark.usefixtures("dummies")
def test_a_well_formed_plugin_passes() -> None:
    check_typology(Dummy, simulate=simulate)
    checks = {c.__name__: c for c in typology_checks(Dummy, simulate=simulate)}
    with pytest.raises(SkipCheck, match="plugin"):
        checks["check_readme_catalogue"]()  # the README lists built-ins only


@pytest.mark.usefixtures("dummies")
def test_the_suite_catches_rows_labelled_against_the_class() -> None:
    with pytest.raises(AssertionError) as caught:
        check_typology("contract_mislabelled.v1", simulate=simulate)
    message = str(caught.value)
    assert "contract_mislabelled.v1 failed check_labels" in message
    assert "rows of its episodes with is_fraud != True" in message
    assert "check_params" not in message  # only the broken part is reported


@pytest.mark.usefixtures("dummies")
def test_the_suite_catches_params_that_allow_unknown_keys() -> None:
    with pytest.raises(AssertionError) as caught:
        check_typology(LaxParams, simulate=simulate)
    message = str(caught.value)
    assert "contract_lax_params.v1 failed check_class_attributes" in message
    assert "extra='forbid'" in message
    assert "contract_lax_params.v1 failed check_params_validate" in message
    assert "accepts an unknown key" in message
    assert "check_labels" not in message


@pytest.mark.usefixtures("dummies")
@pytest.mark.parametrize(
    ("cls", "check", "message"),
    [
        (Unseeded, "check_deterministic", "two runs with seed"),
        (SilencesOthers, "check_honest_rows_unchanged", "honest rows vanish"),
    ],
)
def test_the_suite_catches_runs_that_break_the_worlds_promises(
    cls: type[Typology], check: str, message: str
) -> None:
    with pytest.raises(AssertionError) as caught:
        check_typology(cls, simulate=simulate)
    assert f"{cls.name} failed {check}: " in str(caught.value)
    assert message in str(caught.value)
    assert str(caught.value).count(" failed ") == 1  # only that check


def test_the_suite_catches_an_unregistered_class() -> None:
    checks = {c.__name__: c for c in typology_checks(Dummy, simulate=simulate)}
    with pytest.raises(AssertionError, match="failed check_class_attributes: name"):
        checks["check_class_attributes"]()


def test_checks_are_named_and_ids_readable() -> None:
    assert [c.__name__ for c in typology_checks(Dummy, simulate=simulate)] == CHECK_NAMES
    mark = parametrize_with_checks(
        ["card_testing.v1"],
        simulate=simulate,
        expected_failures={"card_testing.v1": {"check_labels": "a known bug"}},
    ).mark
    ids = [p.id for p in mark.args[1]]
    assert ids == [f"card_testing.v1-{name}" for name in CHECK_NAMES]
    [xfail] = [p.marks for p in mark.args[1] if p.marks]
    assert xfail[0].kwargs == {"strict": True, "reason": "a known bug"}
