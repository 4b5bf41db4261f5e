"""Grids of runs: every combination of a grid's values, for every seed."""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np

from initreg._progress import Progress

__all__ = ["sweep", "sweep_training", "SweepResult", "grid_configs"]


@dataclasses.dataclass
class SweepResult:
    """The runs of :func:`sweep`.

    Attributes
    ----------
    records : list of dict
        ``{**config, "seed": seed, "result": fn(**config, seed=seed)}`` in grid
        order (the grid's keys vary like nested loops, the last fastest), then
        seed order -- whatever order the runs finished in.  A run that raised
        (with ``on_error="record"``) has ``"result": None`` and ``"error"``.
    grid : dict
        The grid's values, per key, in order.
    seeds : list of int
        The seeds, in order.
    """

    records: list
    grid: dict = dataclasses.field(default_factory=dict)
    seeds: list = dataclasses.field(default_factory=list)

    def values(self, key):
        """``[record["result"][key]]`` (or attribute ``key``) in record order."""
        return [r["result"][key] if isinstance(r["result"], dict) else getattr(r["result"], key)
                for r in self.records]

    def array(self, key):
        """The results' ``key`` stacked into one array indexed
        ``[grid value of the first key, ..., of the last key, seed, ...]``
        (trailing axes: the shape of each value)."""
        values = np.array(self.values(key))
        shape = tuple(len(v) for v in self.grid.values()) + (len(self.seeds),)
        return values.reshape(shape + values.shape[1:])

    @property
    def errors(self):
        """The records of runs that raised."""
        return [r for r in self.records if "error" in r]


def grid_configs(grid):
    """Every combination of the grid's values, as dicts, in nested-loop order."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict of parameter -> list of values")
    keys = list(grid)
    for key in keys:
        if key in ("seed", "result", "error"):
            raise ValueError(f"grid parameter {key!r} is reserved")
        if isinstance(grid[key], (str, bytes)) or not hasattr(grid[key], "__iter__"):
            raise TypeError(f"grid[{key!r}] must be a list of values, got {grid[key]!r}")
    values = [list(grid[k]) for k in keys]
    for key, v in zip(keys, values):
        if not v:
            raise ValueError(f"grid[{key!r}] is empty")
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


class _OneBlasThread:
    """Runs fn in a worker process with BLAS limited to one thread (set once
    per process): the runs already use every core, and the same thread count
    everywhere keeps their results bit-identical to a local run."""

    _limited = False

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        if not _OneBlasThread._limited:
            try:
                from threadpoolctl import threadpool_limits
                threadpool_limits(limits=1, user_api="blas")
            except ImportError:
                pass
            _OneBlasThread._limited = True
        return self.fn(*args, **kwargs)


def _as_executor(executor):
    """(executor, runs in other processes) for what ``sweep`` was given: a
    dask.distributed Client becomes its concurrent.futures executor."""
    if hasattr(executor, "get_executor") and hasattr(executor, "scheduler_info"):
        return executor.get_executor(pure=False), True
    from concurrent.futures import ProcessPoolExecutor
    remote = isinstance(executor, ProcessPoolExecutor) or \
        type(executor).__module__.startswith("distributed")
    return executor, remote


def _blas_single_thread():
    # Parallel runs each calling a multi-threaded BLAS would oversubscribe
    # the cores: parallelise at one level only.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def sweep(fn, grid, *, seeds=(0,), executor=None, max_workers=None, progress=False,
          on_error="raise", on_result=None, done=None):
    """Run ``fn(**config, seed=seed)`` for every grid configuration and seed.

    Parameters
    ----------
    fn : callable
        One run; its keyword arguments are the grid's keys and ``seed``.
    grid : dict
        Parameter name -> list of values; every combination is run.
    seeds : iterable of int
        Each configuration runs once per seed.
    executor : concurrent.futures.Executor, dask.distributed.Client or None
        Where the runs go.  None: a thread pool of ``max_workers`` (default:
        the CPU count) threads -- initreg's compiled core releases the GIL, so
        threads train in parallel -- with BLAS limited to one thread per run.
        A Dask ``Client`` (or ``client.get_executor()``) runs each one as a
        task on the cluster, BLAS limited to one thread in each worker; a
        worker that dies loses only its running task, which Dask reschedules.
        ``fn`` must then be picklable (cloudpickle: lambdas work).
    progress : bool
        A progress bar over the runs.
    on_error : {"raise", "record"}
        Re-raise the first run's exception (after the others finish), or
        record it in that run's record and go on.
    on_result : callable or None
        Called with each record as its run finishes (in completion order, in
        the calling thread): to stream results to disk, say.
    done : callable or None
        ``done(config, seed)`` returns the record of a run that finished
        before (a resumed sweep), which is then not run again, or None.

    Returns
    -------
    SweepResult
        ``records`` in grid order, then seed order.

    Notes
    -----
    Ctrl-C (KeyboardInterrupt) cancels the runs not yet started, waits for
    the ones running, hands their records to ``on_result``, and is raised
    again.
    """
    if not callable(fn):
        raise TypeError("fn must be callable")
    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
    configs = grid_configs(grid)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    tasks = [(config, seed) for config in configs for seed in seeds]
    records = [done(config, seed) if done is not None else None for config, seed in tasks]
    todo = [i for i, r in enumerate(records) if r is None]
    errors = {}
    own_pool = executor is None
    workers = max_workers or os.cpu_count() or 1
    if own_pool:
        executor, remote = ThreadPoolExecutor(max_workers=workers), False
    else:
        executor, remote = _as_executor(executor)
    task_fn = _OneBlasThread(fn) if remote else fn
    limits = _blas_single_thread() if own_pool and workers > 1 else contextlib.nullcontext()

    def finish(future, i):
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - recorded or re-raised below
            result, errors[i] = None, exc
        records[i] = _record(tasks[i], result, errors.get(i))
        if on_result is not None:
            on_result(records[i])

    try:
        with limits, Progress(len(todo), "sweep", enabled=progress, unit="run") as bar:
            futures = {executor.submit(task_fn, **tasks[i][0], seed=tasks[i][1]): i
                       for i in todo}
            try:
                for future in as_completed(futures):
                    finish(future, futures[future])
                    bar.update()
            except KeyboardInterrupt:
                running = [f for f in futures if not f.cancel()]
                for future in as_completed(running):
                    if records[futures[future]] is None:
                        finish(future, futures[future])
                raise
    finally:
        if own_pool:
            executor.shutdown(wait=True, cancel_futures=True)
    if errors and on_error == "raise":
        raise errors[min(errors)]
    return SweepResult(records, {k: list(v) for k, v in grid.items()}, seeds)


def _record(task, result, error):
    config, seed = task
    record = {**config, "seed": seed, "result": result}
    if error is not None:
        record["error"] = "".join(traceback.format_exception_only(error)).strip()
    return record


def lane_parts(members, sizes, dtype, workers, max_models):
    """The tasks of a group of runs that differ only in per-model settings:
    lists of ``members``, each trained as one :class:`~initreg.Ensemble`.

    As many parts as there are workers, of sizes that differ by one at most,
    up to ``max_models`` each and each one that the lanes pay for.  Where
    such parts cannot keep every worker busy, fewer are made only for
    networks whose lanes pay from half-filled vectors: there the lanes gain
    more than the idle workers lose.  Otherwise, and where the lanes never
    pay, each run is a task of its own.
    """
    from initreg._core import _ensemble
    from initreg.ensemble import lanes_fill, lanes_pay

    members = list(members)
    fill = lanes_fill(sizes, dtype)
    vector = _ensemble.LANE_BYTES // np.dtype(dtype).itemsize
    if fill is None or len(members) < fill * vector:
        return [[i] for i in members]
    least = int(fill * vector)
    n = max(-(-len(members) // max_models), min(workers, len(members) // least))
    # parts differing by one at most: len // n models, or one more
    if n < workers and fill == 1 or not all(
            lanes_pay(sizes, size, dtype)
            for size in {len(members) // n, -(-len(members) // n)}):
        return [[i] for i in members]
    bounds = [len(members) * p // n for p in range(n + 1)]
    return [members[a:b] for a, b in zip(bounds, bounds[1:])]


def sweep_training(spec, finish, grid, *, data, seeds=(0,), executor=None, max_workers=None,
                   progress=False, max_models=256):
    """A sweep whose runs each train one model: ``spec(**config, seed=seed)``
    gives the run's :class:`~initreg.experiments.TrainSpec`, and
    ``finish(model, history, scores, **config, seed=seed)`` its result.

    The records are those :func:`sweep` would give for a ``fn`` that trains
    with :func:`train_model` and calls ``finish``.  Runs that differ only in
    their initializer, seed or optimizer settings, and whose models
    :class:`~initreg.Ensemble` would train in lanes, go together -- up to
    ``max_models``, in as many parts as there are workers where the lanes
    still pay in each -- and each part is one task: one compiled call per
    epoch for all its models (on a Dask cluster, one task per part).  The
    others are a task each.
    """
    from initreg.experiments._common import train_models

    configs = grid_configs(grid)
    seeds = [int(s) for s in seeds]
    tasks = [(config, seed) for config in configs for seed in seeds]
    specs = [spec(**config, seed=seed) for config, seed in tasks]
    workers = max_workers or os.cpu_count() or 1
    groups = {}
    for i, s in enumerate(specs):
        groups.setdefault(s.group(), []).append(i)
    parts = []
    for members in groups.values():
        s = specs[members[0]]
        parts += lane_parts(members, s.sizes, s.dtype, workers, max_models)

    def run_part(part, seed):
        trained = train_models(data, [specs[i] for i in part])
        return [finish(*t, **tasks[i][0], seed=tasks[i][1]) for t, i in zip(trained, part)]

    done = sweep(run_part, {"part": parts}, seeds=[0], executor=executor,
                 max_workers=max_workers, progress=progress)
    results = [None] * len(tasks)
    for record in done.records:
        for i, result in zip(record["part"], record["result"]):
            results[i] = result
    return SweepResult([{**config, "seed": seed, "result": result}
                        for (config, seed), result in zip(tasks, results)],
                       {k: list(v) for k, v in grid.items()}, seeds)
