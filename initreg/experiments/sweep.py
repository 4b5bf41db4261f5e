"""Grids of runs: every combination of a grid's values, for every seed."""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed

from initreg._progress import Progress

__all__ = ["sweep", "SweepResult", "grid_configs"]


@dataclasses.dataclass
class SweepResult:
    """The runs of :func:`sweep`.

    records : list of dict
        ``{**config, "seed": seed, "result": fn(**config, seed=seed)}`` in grid
        order (the grid's keys vary like nested loops, the last fastest), then
        seed order -- whatever order the runs finished in.  A run that raised
        (with ``on_error="record"``) has ``"result": None`` and ``"error"``.
    """

    records: list

    def values(self, key):
        """``[record["result"][key]]`` (or attribute ``key``) in record order."""
        return [r["result"][key] if isinstance(r["result"], dict) else getattr(r["result"], key)
                for r in self.records]

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


def _blas_single_thread():
    # Parallel runs each calling a multi-threaded BLAS would oversubscribe
    # the cores: parallelise at one level only.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def sweep(fn, grid, seeds=(0,), executor=None, max_workers=None, progress=False,
          on_error="raise"):
    """Run ``fn(**config, seed=seed)`` for every grid configuration and seed.

    Parameters
    ----------
    fn : callable
        One run; its keyword arguments are the grid's keys and ``seed``.
    grid : dict
        Parameter name -> list of values; every combination is run.
    seeds : iterable of int
        Each configuration runs once per seed.
    executor : concurrent.futures.Executor or None
        Where the runs go.  None: a thread pool of ``max_workers`` (default:
        the CPU count) threads -- initreg's compiled core releases the GIL, so
        threads train in parallel -- with BLAS limited to one thread per run.
    progress : bool
        A progress bar over the runs.
    on_error : {"raise", "record"}
        Re-raise the first run's exception (after the others finish), or
        record it in that run's record and go on.

    Returns
    -------
    SweepResult
        ``records`` in grid order, then seed order.
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
    results = [None] * len(tasks)
    errors = {}
    own_pool = executor is None
    if own_pool:
        workers = max_workers or os.cpu_count() or 1
        executor = ThreadPoolExecutor(max_workers=workers)
    limits = _blas_single_thread() if own_pool and (max_workers or os.cpu_count() or 1) > 1 \
        else contextlib.nullcontext()
    try:
        with limits, Progress(len(tasks), "sweep", enabled=progress, unit="run") as bar:
            futures = {executor.submit(fn, **config, seed=seed): i
                       for i, (config, seed) in enumerate(tasks)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except Exception as exc:  # noqa: BLE001 - recorded or re-raised below
                    errors[i] = exc
                bar.update()
    finally:
        if own_pool:
            executor.shutdown(wait=True)
    if errors and on_error == "raise":
        raise errors[min(errors)]
    records = []
    for i, (config, seed) in enumerate(tasks):
        record = {**config, "seed": seed, "result": results[i]}
        if i in errors:
            record["error"] = "".join(traceback.format_exception_only(errors[i])).strip()
        records.append(record)
    return SweepResult(records)
