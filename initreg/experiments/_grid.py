"""Grids of runs described in a file, for ``initreg sweep`` and large sweeps.

A grid file (JSON or TOML) names an experiment, fixed parameters, the
parameters to vary and the seeds::

    experiment = "train"            # or "signal"
    seeds = [0, 1, 2]

    [fixed]
    dataset = "digits"
    epochs = 20

    [grid]
    init = ["xavier", "he"]
    l2 = [0.0, 1e-4, 1e-3]

Every combination of the grid's values runs once per seed (the
:func:`initreg.experiments._sweep` contract), locally in threads or on a Dask
cluster, and the results stream into ``records.jsonl`` as they arrive.
"""
from __future__ import annotations

import csv
import functools
import inspect
import json
import time
from pathlib import Path

from initreg._files import atomic_write, prepare_output
from initreg._serialize import to_jsonable
from initreg._validation import check_choice
from initreg.experiments._common import load_dataset, train_model, weight_metrics
from initreg.experiments._signal import one_run
from initreg.experiments._sweep import sweep
from initreg.optim import DEFAULT_L1_MODE, OPTIMIZERS

__all__ = ["train_run", "signal_run", "RUNS", "load_grid", "run_grid", "OUTPUTS"]

#: What run_grid writes (and, with force, replaces) in its directory.
OUTPUTS = ("records.jsonl", "results.json", "results.csv", "grid.json", "sweep_*.png")


@functools.lru_cache(maxsize=4)
def _cached_data(dataset, data_seed, n_train):
    # one copy per worker process, not one load per run
    return load_dataset(dataset, seed=data_seed, n_train=n_train)


def train_run(dataset="digits", *, hidden=(64,), activation="relu", init="he",
              optimizer="sgd", lr=None, momentum=None, weight_decay=None, l1=0.0, l2=0.0,
              l1_mode=DEFAULT_L1_MODE, epochs=20, batch_size=32, n_train=None,
              dtype="float32", data_seed=0, seed=0):
    """Train one network; return its final metrics (a dict of plain numbers).

    ``optimizer`` names one of :data:`initreg.optim.OPTIMIZERS`; ``lr``,
    ``momentum`` (SGD) and ``weight_decay`` default to that optimizer's.
    The data split depends on ``data_seed`` only, so runs that differ in
    ``seed`` (initial weights and shuffling) see the same data."""
    check_choice(optimizer, "optimizer", tuple(OPTIMIZERS))
    settings = {k: v for k, v in (("lr", lr), ("momentum", momentum),
                                  ("weight_decay", weight_decay)) if v is not None}
    data = _cached_data(dataset, data_seed, n_train)
    hidden = [hidden] if isinstance(hidden, int) else list(hidden)
    start = time.perf_counter()
    net, hist, scores = train_model(
        data, [data.n_features, *hidden, data.n_classes], activation=activation, init=init,
        seed=seed, dtype=dtype, epochs=epochs, batch_size=batch_size,
        optimizer=OPTIMIZERS[optimizer](l1=l1, l2=l2, l1_mode=l1_mode, **settings))
    return {**scores,
            "final_loss": float(hist.loss[-1]) if hist.n_epochs else float("nan"),
            **weight_metrics(net), "diverged": bool(hist.diverged),
            "epochs_run": hist.n_epochs, "seconds": time.perf_counter() - start}


def signal_run(depth=10, *, width=256, activation="tanh", init="xavier", batch=512, seed=0):
    """Signal propagation at initialization for one init and seed: the
    first and last hidden layers' activation and gradient std."""
    r = one_run(activation=activation, depth=depth, width=width, batch=batch, init=init,
                seed=seed)
    return {"first_act_std": float(r["act_std"][0]), "last_act_std": float(r["act_std"][-1]),
            "first_grad_std": float(r["grad_std"][0]),
            "last_grad_std": float(r["grad_std"][-1]),
            "last_saturated": float(r["saturated"][-1]),
            "mf_last_act_std": float(r["pred_mf_act_std"][-1])}


#: The experiments a grid file can name, and the metric its figures show.
RUNS = {"train": (train_run, "test_acc"), "signal": (signal_run, "last_act_std")}


def _read_file(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"grid file {path} not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise ValueError("reading TOML grid files needs Python >= 3.11 or the "
                                 "tomli package; or write the grid as JSON") from None
        try:
            return tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); TOML files need a .toml suffix"
                         ) from None


def load_grid(path_or_dict):
    """Read and check a grid description; returns a dict with keys
    experiment, fixed, grid, seeds."""
    spec = _read_file(path_or_dict) if not isinstance(path_or_dict, dict) else path_or_dict
    unknown = set(spec) - {"experiment", "fixed", "grid", "seeds"}
    if unknown:
        raise ValueError(f"unknown keys in the grid description: {sorted(unknown)}; "
                         "use experiment, fixed, grid, seeds")
    name = spec.get("experiment", "train")
    if name not in RUNS:
        raise ValueError(f"unknown experiment {name!r}; one of {sorted(RUNS)}")
    fn = RUNS[name][0]
    fixed, grid = spec.get("fixed", {}), spec.get("grid")
    if not isinstance(fixed, dict):
        raise ValueError("fixed must be a table of parameter = value")
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty table of parameter = [values]")
    params = set(inspect.signature(fn).parameters) - {"seed"}
    for key in list(fixed) + list(grid):
        if key not in params:
            raise ValueError(f"{name} has no parameter {key!r}; it takes {sorted(params)}")
    both = set(fixed) & set(grid)
    if both:
        raise ValueError(f"{sorted(both)} appear both in fixed and in grid")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid.{key} must be a non-empty list of values")
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError("seeds must be a non-empty list of non-negative integers")
    return {"experiment": name, "fixed": dict(fixed), "grid": dict(grid), "seeds": seeds}


class _Run:
    """One grid point: the experiment with the fixed parameters bound.
    A module-level class, so it pickles to worker processes."""

    def __init__(self, experiment, fixed):
        self.experiment, self.fixed = experiment, fixed

    def __call__(self, seed, **config):
        return RUNS[self.experiment][0](**self.fixed, **config, seed=seed)


def _flat(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _key(config, seed):
    """A grid point and seed, as a resumed sweep recognises it."""
    return json.dumps([to_jsonable(config), seed], sort_keys=True)


def finished_records(out, spec):
    """The records a sweep in ``out`` already finished, by :func:`_key`.

    Refuses (ValueError) when ``out`` holds another grid's sweep.  A last
    line cut off by a crash is dropped from ``records.jsonl``, so that the
    resumed sweep appends after whole lines only."""
    out = Path(out)
    try:
        before = json.loads((out / "grid.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{out} holds no sweep to resume (no grid.json)") from None
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise ValueError(f"{out}/grid.json is corrupt ({exc})") from None
    if before != json.loads(json.dumps(spec)):
        raise ValueError(f"the grid differs from the one of the sweep in {out}; resume with "
                         "the same grid file, or start anew (--force or another --out)")
    stream = out / "records.jsonl"
    done, keep = {}, 0
    names = set(spec["grid"])
    if stream.exists():
        data = stream.read_bytes()
        for line in data.splitlines(keepends=True):
            try:
                record = json.loads(line) if line.endswith(b"\n") else None
            except (json.JSONDecodeError, RecursionError, UnicodeDecodeError):
                record = None
            if not isinstance(record, dict) or not names | {"seed", "result"} <= set(record):
                break  # a torn or foreign line: this and what follows is not kept
            keep += len(line)
            if "error" not in record:  # a failed run is tried again
                done[_key({k: record[k] for k in spec["grid"]}, record["seed"])] = record
        if keep < len(data):
            with open(stream, "r+b") as f:
                f.truncate(keep)
    return done


def run_grid(spec, out, *, executor=None, progress=True, force=False, resume=False,
             max_workers=None):
    """Run a grid description (see :func:`load_grid`) and write into ``out``:
    ``records.jsonl`` (one line per finished run, as they arrive),
    ``results.json`` and ``results.csv`` (all records, grid order) and
    ``sweep_*.png`` summary figures.  Returns the :class:`SweepResult`.

    ``resume``: ``out`` holds a sweep of the same grid that stopped early;
    its finished runs are not run again, the others are appended, and the
    final files are those of one uninterrupted sweep.  Ctrl-C keeps every
    finished record in ``records.jsonl`` (see :func:`sweep`)."""
    spec = load_grid(spec)
    if resume:
        out = Path(out)
        done = finished_records(out, spec)
    else:
        out = prepare_output(out, force, OUTPUTS)
        done = {}
        atomic_write(out / "grid.json", lambda f: f.write(json.dumps(spec, indent=1)),
                     binary=False)
    stream = open(out / "records.jsonl", "a", encoding="utf-8")

    def on_result(record):  # in the calling thread, as each run finishes
        stream.write(json.dumps(to_jsonable(record), allow_nan=False) + "\n")
        stream.flush()

    try:
        result = sweep(_Run(spec["experiment"], spec["fixed"]), spec["grid"],
                       seeds=spec["seeds"], executor=executor, max_workers=max_workers,
                       progress=progress, on_error="record", on_result=on_result,
                       done=lambda config, seed: done.get(_key(config, seed)))
    finally:
        stream.close()
    records = to_jsonable(result.records)
    atomic_write(out / "results.json", lambda f: f.write(json.dumps(
        {**spec, "records": records}, indent=1, allow_nan=False)), binary=False)
    metrics = sorted({k for r in records if isinstance(r.get("result"), dict)
                      for k in r["result"]})
    keys = list(spec["grid"])

    def write_csv(f):
        writer = csv.writer(f)
        writer.writerow([*keys, "seed", *metrics, "error"])
        for r in records:
            res = r.get("result") or {}
            writer.writerow([_flat(r[k]) for k in keys] + [r["seed"]]
                            + [res.get(m) for m in metrics] + [r.get("error", "")])

    atomic_write(out / "results.csv", write_csv, binary=False)
    try:
        from initreg import plotting
    except ImportError:
        pass  # figures need the report extra; the tables are written regardless
    else:
        metric = RUNS[spec["experiment"]][1]
        for name, fig in plotting.plot_sweep(records, keys, metric).items():
            plotting.save_figure(fig, out / f"sweep_{name}.png")
    return result


def local_dask(n_workers):
    """A Dask LocalCluster of ``n_workers`` single-threaded worker processes
    and its client (close both when done)."""
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    return cluster, Client(cluster)

