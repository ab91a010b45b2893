"""Engine: runs a scenario's shards, in this process or on a Dask cluster.

Every shard is simulated by `run_shard` into the run's work directory and returns its record
(rows, file checksums, fidelity aggregates, prevalence). One worker (or a single shard left to
run) runs the shards one after the other here, without Dask; more workers (or an existing
cluster's scheduler address) run them as Dask tasks. What a shard writes depends only on
scenario, seed, shard size and shard index, so the number of workers never changes the data.
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.config.shards import ShardPlan
from fraudsim.core.errors import ConfigError
from fraudsim.export.days import empty_rows
from fraudsim.export.writer import ShardWriter, clear_shard
from fraudsim.scale.collect import shard_summary, shard_tables
from fraudsim.world import tables
from fraudsim.world.model import World
from fraudsim.world.tables import frame_context

if TYPE_CHECKING:
    from fraudsim.export.writer import RunWriter

ProgressCallback = Callable[[int, int, int], None]
DayCallback = Callable[[int, int, int], None]  # (shard, day, rows)


def run_shard(
    config: ScenarioConfig,
    profile: Profile,
    work: Path,
    shard: int,
    fmt: str,
    on_day: DayCallback | None = None,
    writer_thread: bool = True,
) -> dict[str, Any]:
    """Simulate one shard and write its files into `work`; returns the shard's record.
    `writer_thread`: write on a background thread (worth it only with a spare core)."""
    try:
        return _run_shard(config, profile, work, shard, fmt, on_day, writer_thread)
    finally:
        # A world is a web of cycles (Mesa model <-> agents, SimPy processes): without a
        # collection here its arrays would still be alive while the next shard builds its own,
        # and a worker's peak memory would grow with the shards it runs.
        gc.collect()


def _run_shard(
    config: ScenarioConfig,
    profile: Profile,
    work: Path,
    shard: int,
    fmt: str,
    on_day: DayCallback | None,
    writer_thread: bool,
) -> dict[str, Any]:

    clear_shard(work, shard, fmt)  # whatever an earlier attempt left of this shard
    started, cpu_started = time.perf_counter(), time.process_time()
    writer = ShardWriter(work, shard, fmt, config.start_date, threaded=writer_thread)
    try:
        world = World(config, profile, shard)
        built = time.perf_counter()
        # identity strings are drawn in the background while the days run
        writer.prepare(lambda: tables.identity_strings(world))
        world.day_callbacks.append(
            lambda day, rows: writer.add_day(frame_context(world), day, rows, world.take_events())
        )
        if on_day is not None:
            world.day_callbacks.append(lambda day, rows: on_day(shard, day, len(rows["t"])))
        world.run()
        simulated = time.perf_counter()
        writer.wait()
        empty = {
            "transactions": tables.transactions_frame(world, empty_rows()),
            "events": tables.events_frame(world, []),
        }
        summary = shard_summary(world)
        summary["timings"] = {
            "build_seconds": built - started,
            "simulate_seconds": simulated - built,
            "tables_seconds": time.perf_counter() - simulated,
            # CPU of the whole process while it ran the shard (writer thread included).
            "cpu_seconds": time.process_time() - cpu_started,
        }
        # Peak resident memory of the process that ran this shard so far (benchmarks report
        # it per worker).
        summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return writer.finish(shard_tables(world), summary, empty)
    except BaseException:
        writer.abort()
        raise


def run_shards(
    config: ScenarioConfig,
    profile: Profile,
    writer: RunWriter,
    workers: int = 1,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Run every shard not already complete in the writer's work directory; returns all
    shards' records in shard order and timings (seconds, summed over shards, plus wall)."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    plan = ShardPlan.of(config)
    started = time.perf_counter()
    records: dict[int, dict[str, Any]] = {}
    for shard in range(plan.count):
        done = writer.completed(shard)
        if done is not None:
            records[shard] = done
    writer.resumed = sorted(records)
    todo = [k for k in range(plan.count) if k not in records]
    total = plan.count * config.days
    counter = [len(records) * config.days]

    def on_day(shard: int, day: int, rows: int) -> None:
        if progress is not None:
            progress(counter[0], total, rows)
        counter[0] += 1

    if scheduler is None and (workers == 1 or len(todo) <= 1):  # nothing to run in parallel
        # A writer thread needs a core of its own (pinned to one core, it only contends).
        threaded = _cores() > 1
        for shard in todo:
            records[shard] = run_shard(
                config, profile, writer.work, shard, writer.fmt, on_day, writer_thread=threaded
            )
    elif todo:
        if scheduler is None:
            _start_fork_server()
        records.update(_run_on_dask(config, profile, writer, todo, workers, scheduler, on_day))
    ordered = [records[k] for k in range(plan.count)]
    timings = {
        key: sum(r.get("timings", {}).get(key, 0.0) for r in ordered)
        for key in ("build_seconds", "simulate_seconds", "tables_seconds", "cpu_seconds")
    }
    timings["shards_wall_seconds"] = time.perf_counter() - started
    timings["worker_peak_rss_mib"] = max(r.get("peak_rss_mib", 0.0) for r in ordered)
    return ordered, timings


_frozen = False


def _freeze_imports() -> None:
    """Move every object alive now (imported modules: ~150,000) out of the collector's sight,
    once per worker process: the collection after each shard, and the automatic ones during
    it, then scan only what shards create (the collection took 0.1 s, now microseconds).
    Only in our local cluster's workers; a user's session or cluster keeps its collector."""
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


def _dask_shard(
    config: ScenarioConfig,
    profile: Profile,
    work: str,
    shard: int,
    fmt: str,
    queue: str,
    writer_thread: bool,
    own_worker: bool,
) -> dict[str, Any]:
    """A shard as a Dask task; progress goes back through a distributed queue. `own_worker`:
    the worker is one of our local cluster's processes (not a user's cluster)."""
    from distributed import Queue

    if own_worker:
        _freeze_imports()

    progress = Queue(queue)

    def on_day(shard: int, day: int, rows: int) -> None:
        progress.put((shard, day, rows))

    return run_shard(config, profile, Path(work), shard, fmt, on_day, writer_thread)


# Modules a worker process needs, imported once by the fork server rather than by every
# spawned worker (measured: cluster up and first tasks in ~1.5 s instead of ~4.5 s). A fork
# server has never run polars, so forking from it is safe, unlike forking this process.
_PRELOAD = [
    "distributed",
    "numpy",
    "pandas",
    "polars",
    "pyarrow.parquet",
    "fraudsim.scale.runner",
    "fraudsim.world.model",
    "fraudsim.dataset",
    "fraudsim.export.writer",
]


def _start_fork_server() -> None:
    """Start the fork server Dask's workers fork from before importing Dask here: it imports
    `_PRELOAD` in a process of its own, on the other core, while this one imports Dask and
    starts the scheduler (started by the cluster, it began only after both)."""
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(_PRELOAD)
    forkserver.ensure_running()


def _local_cluster(cluster_class: Any, workers: int) -> Any:
    import dask
    from distributed.utils import get_mp_context

    settings = {
        "distributed.worker.multiprocessing-method": "forkserver",
        # The worker's statistical profiler samples the task thread's stack every 10 ms and
        # takes the GIL to do it: it made shards ~3x slower than in this process.
        "distributed.worker.profile.enabled": False,
        # Dask's default MALLOC_TRIM_THRESHOLD_=65536 hands freed memory back to the system at
        # once; a shard's daily arrays are then mapped afresh every day (measured: a shard's
        # simulation 2.6-3.1 s instead of 1.6-2.1 s). One thread per numeric library stays.
        "distributed.nanny.pre-spawn-environ": {
            "OMP_NUM_THREADS": 1,
            "MKL_NUM_THREADS": 1,
            "OPENBLAS_NUM_THREADS": 1,
        },
    }
    with dask.config.set(settings):
        get_mp_context().set_forkserver_preload(_PRELOAD)
        return cluster_class(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )


def _cores() -> int:
    """Cores this process may run on (its affinity: `taskset` and containers limit it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_on_dask(
    config: ScenarioConfig,
    profile: Profile,
    writer: RunWriter,
    todo: list[int],
    workers: int,
    scheduler: str | None,
    on_day: DayCallback,
) -> dict[int, dict[str, Any]]:
    try:
        from distributed import Client, LocalCluster, Queue
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ConfigError(
            "--workers > 1 needs dask[distributed]; pip install 'dask[distributed]'"
        ) from None
    cluster = None
    try:
        if scheduler is not None:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = _local_cluster(LocalCluster, workers)
            client = Client(cluster)
    except OSError as exc:
        raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    token = uuid.uuid4().hex
    try:
        queue = Queue(f"fraudsim-progress-{token}", client=client)
        futures = {
            client.submit(
                _dask_shard,
                config,
                profile,
                str(writer.work),
                shard,
                writer.fmt,
                queue.name,
                # A local cluster with a busy worker on every core has no core to spare for
                # a writer thread; a remote cluster's machines are its own business.
                scheduler is not None or min(workers, len(todo)) < _cores(),
                scheduler is None,
                key=f"fraudsim-shard-{shard:04d}-{token}",
                pure=False,
            ): shard
            for shard in todo
        }
        pending = set(futures)
        while pending:
            time.sleep(0.2)
            for item in queue.get(batch=True):
                on_day(*item)
            for future in [f for f in pending if f.done()]:
                pending.discard(future)
                future.result()  # re-raise a shard's error here
        for item in queue.get(batch=True):
            on_day(*item)
        return {futures[f]: f.result() for f in futures}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
