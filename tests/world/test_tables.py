"""Entity frames: identity strings of everyone, including customers, accounts and cards opened
during the run, converted once and appended."""

from __future__ import annotations

import numpy as np

from fraudsim.config.scenario import ScenarioConfig, TypologyConfig
from fraudsim.world import identity
from fraudsim.world import tables as frames
from fraudsim.world.model import World


def test_identities_opened_during_the_run_are_exported(small_config: ScenarioConfig) -> None:
    typologies = [
        TypologyConfig(name="synthetic_identity.v1", schedule={"episodes": 2}),
        TypologyConfig(name="bust_out.v1", schedule={"episodes": 2}),
        TypologyConfig(name="new_customer.v1"),
    ]
    config = small_config.model_copy(update={"typologies": typologies}).with_overrides(
        **{"population.customers": 400, "days": 6}
    )
    world = World(config)
    early = frames.identity_strings(world)  # as the exporter's thread does at the start
    world.run()
    pop = world.population
    assert len(pop.customers["id"]) > len(early["first_name"])  # customers were opened
    customers = frames.customers_frame(world)
    accounts = frames.accounts_frame(world)
    cards = frames.cards_frame(world)
    assert customers.height == len(pop.customers["id"])
    assert accounts.height == len(pop.accounts["id"])
    assert cards.height == len(pop.cards["id"])
    assert customers["email"].null_count() == 0 and customers["first_name"].null_count() == 0
    ibans = accounts["iban"].to_numpy().astype(str)
    assert identity.is_iban_valid(ibans).all() and len(np.unique(ibans)) == len(ibans)
    pans = cards["card_number"].to_numpy().astype(str)
    assert identity.is_luhn_valid(pans).all() and len(np.unique(pans)) == len(pans)
    # Asked again with nothing new opened, the same converted series come back.
    assert frames.identity_strings(world) is frames.identity_strings(world)
    later = frames.identity_strings(world)
    assert later["first_name"].head(len(early["first_name"])).equals(early["first_name"])
