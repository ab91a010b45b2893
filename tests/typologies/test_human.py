"""typologies.human: how people in fraud schemes act (step times, cuts, typed sums, ages)."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.calibration.profile import load_profile
from fraudsim.config.scenario import validate_scenario
from fraudsim.typologies import human
from fraudsim.world.model import World


@pytest.fixture(scope="module")
def profile():
    return load_profile("default")


@pytest.fixture(scope="module")
def world():
    config = validate_scenario(
        {"name": "people", "seed": 5, "days": 2, "population": {"customers": 3000}}, "test"
    )
    return World(config)


def test_steps_take_human_time(profile):
    rng = np.random.default_rng(1)
    steps = np.array([human.session_gap(rng, profile) for _ in range(2000)])
    s = profile.sessions
    assert steps.min() >= s.human_step_min_seconds  # never the same second
    assert len(np.unique(steps)) > 100  # spread, not one delay
    apps = np.array([human.app_step(rng, profile) for _ in range(2000)])
    assert apps.max() <= s.app_step_max_seconds
    assert abs((apps == 0).mean() - s.app_step_same_second_share) < 0.05


def test_mules_keep_a_drawn_cut(profile):
    rng = np.random.default_rng(2)
    cuts = np.array([human.cut(rng, profile) for _ in range(5000)])
    # Europol EMMA / UK Finance: mules keep a cut, often 5-20%
    assert 0.09 < cuts.mean() < 0.13
    assert ((cuts > 0.05) & (cuts < 0.2)).mean() > 0.8
    amount = 123_456
    sent = [human.passed_on(rng, profile, amount) for _ in range(2000)]
    shares = np.array(sent) / amount
    assert (shares <= 1).all() and len(np.unique(np.round(shares, 4))) > 500
    # some forwards are typed as round figures, many carry cents
    assert 0.1 < np.mean([s % 10_000 == 0 for s in sent]) < 0.6
    assert np.mean([s % 100 != 0 for s in sent]) > 0.2


def test_drains_are_uneven_and_within_the_limit(profile):
    rng = np.random.default_rng(3)
    equal = several = 0
    for _ in range(400):
        total = int(rng.uniform(500, 20_000) * 100)
        pieces = human.drain_pieces(rng, profile, total, 4, 250_000)
        assert 0 < sum(pieces) <= total and len(pieces) <= 4
        assert max(pieces) <= 250_000
        several += len(pieces) > 1
        equal += len(pieces) > 1 and len(set(pieces)) == 1
    assert several > 200 and equal < 0.03 * several  # (almost) never equal pieces


def test_typed_sums_follow_honest_shares(profile):
    rng = np.random.default_rng(4)
    amounts = rng.lognormal(np.log(300), 1.0, 4000) * 100
    typed = np.array([human.typed(rng, profile, a) for a in amounts])
    cents = (typed % 100 != 0).mean()
    t = profile.transfers
    assert abs(cents - (1 - t.p2p_round_share - t.p2p_whole_share)) < 0.05
    down = np.array([human.typed(rng, profile, a, down=True) for a in amounts])
    assert (down <= np.maximum(amounts, 100) + 1).all()


def test_mule_recruits_follow_the_published_ages(world):
    # Cifas / UK Finance H1 2023: 22% of mule cases aged <= 21, 63% aged <= 30
    ch, rng = world.fraud.channels, np.random.default_rng(5)
    ages = world.population.customers["age"]
    drawn = np.concatenate([ages[human.recruit(ch, rng, 5)] for _ in range(600)])
    shares = world.profile.fraud.mule_age_shares
    assert abs((drawn <= 21).mean() - shares[0]) < 0.04
    assert abs((drawn <= 30).mean() - (shares[0] + shares[1])) < 0.04
    assert (drawn > 30).mean() > 0.25


def test_victims_skew_by_age_where_figures_say_so(world):
    ch, rng = world.fraud.channels, np.random.default_rng(6)
    ages = world.population.customers["age"]
    older = human.victim_ages(0.25)  # Cifas Fraudscape 2025: over-61s = 25% of victims
    drawn = np.concatenate([ages[ch.sample_customers(rng, 3, ages=older)] for _ in range(800)])
    assert abs((drawn >= 61).mean() - 0.25) < 0.04
    young = human.victim_ages(0.1, 0.5)
    drawn = np.concatenate([ages[ch.sample_customers(rng, 3, ages=young)] for _ in range(800)])
    assert abs((drawn < 35).mean() - 0.5) < 0.05
    assert ch.sample_customers(rng, 4).size == 4  # no `ages`: drawn like the population


def test_new_accounts_look_like_newcomers(world):
    ch, rng = world.fraud.channels, np.random.default_rng(7)
    c, a = world.population.customers, world.population.accounts
    opened = [human.open_like_newcomer(ch, rng) for _ in range(300)]
    custs = np.array([x[0] for x in opened])
    accts = np.array([x[1] for x in opened])
    n = world.n_initial_customers
    # the bank's own attributes, drawn as for everyone: overdrafts, segments, habits
    assert (a["floor"][accts] < 0).mean() > 0.3
    assert set(np.unique(c["segment"][custs]).tolist()) >= {0, 2}
    assert len(np.unique(c["payday"][custs])) > 5
    assert np.std(c["cnp_propensity"][custs]) > 0.05
    # ages and incomes like the population's
    assert abs(np.median(c["income"][custs]) / np.median(c["income"][:n]) - 1) < 0.15
    assert abs(np.median(c["age"][custs]) - np.median(c["age"][:n])) <= 5
    when, amount, cash = human.first_deposit(rng, world.profile, 3 * 3600)
    assert amount > 0 and when >= 3 * 3600 and isinstance(cash, bool)
