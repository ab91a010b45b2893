"""The simulated world: model, population, settlement, fraud engine, traffic and agents."""
