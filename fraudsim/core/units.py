"""Units of the simulation clock: time is integer seconds from the scenario start."""

MINUTE = 60
HOUR = 3_600
DAY = 86_400
