"""Configuration: the scenario schema and typology schedules."""
