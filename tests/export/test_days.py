"""Days: a settled day's rows built straight as Arrow tables, typed as polars would type them."""

from __future__ import annotations

import numpy as np
import polars as pl

from fraudsim.config.scenario import ScenarioConfig
from fraudsim.export import days
from fraudsim.world.model import World
from fraudsim.world.tables import events_frame, frame_context


def test_day_tables_are_typed_ordered_and_null_where_nothing_is(
    tiny_config: ScenarioConfig,
) -> None:
    tz = "Europe/Berlin"  # the run crosses the spring daylight-saving change
    world = World(tiny_config.with_overrides(timezone=tz, start_date="2024-03-29", days=4))
    seen: list[tuple[dict, days.ArrowDay]] = []
    world.day_callbacks.append(
        lambda day, rows: seen.append((rows, days.arrow_from_rows(rows, frame_context(world))))
    )
    world.run()
    assert len(seen) == 4
    for rows, built in seen:
        table = built.table
        assert table.schema == days.arrow_schema("transactions", tz)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame) and frame.height == len(rows["t"])
        assert frame["timestamp"].is_sorted()
        # Nulls exactly where the internal index is -1.
        for column, key in (
            ("card_id", "card"),
            ("merchant_id", "merchant"),
            ("episode_id", "episode"),
        ):
            assert frame[column].null_count() == int((rows[key] < 0).sum())
        assert frame["mcc"].null_count() == frame["merchant_id"].null_count()
        # The wall-clock seconds handed to the aggregates are what the timestamp shows.
        shown = frame["timestamp"].dt.replace_time_zone(None).dt.epoch("s").to_numpy()
        assert np.array_equal(shown, built.local_seconds)
        assert frame["transaction_id"].n_unique() == frame.height


def test_event_tables_match_their_schema(tiny_config: ScenarioConfig) -> None:
    world = World(tiny_config)
    world.run()
    events = days.events_arrow(frame_context(world), world.take_events())
    assert events.schema == days.arrow_schema("events", tiny_config.timezone)
    frame = events_frame(world, [])
    assert frame.height == 0 and frame.columns == events.schema.names
