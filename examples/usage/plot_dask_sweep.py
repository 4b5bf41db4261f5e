"""
A sweep on a Dask cluster
=========================

:func:`initreg.experiments.sweep` runs a function over every combination of
a grid and every seed.  Without an executor the runs go to local threads
(the compiled core releases the GIL); with a ``dask.distributed.Client``
each run is a task on the cluster.  The records come back in grid order,
and they are the same numbers a local run with the same seeds gives.

Here the cluster is a :class:`~dask.distributed.LocalCluster` in this
process (``processes=False``: two worker threads), which is what this page
ran when the documentation was built.  On a real cluster, pass
``Client("tcp://scheduler-host:8786")``; ``initreg sweep grid.toml --dask
local:4`` or ``--scheduler tcp://...`` does the same from the command line.
"""

from dask.distributed import Client, LocalCluster

import initreg as ir
from initreg.plotting import plot_sweep

grid = {"init": ["small", "xavier", "he"], "l2": [0.0, 1e-3, 1e-2]}
seeds = [0, 1]


def run(init, l2, seed):
    return ir.experiments.train_run("digits", hidden=(64,), init=init, l2=l2, epochs=5,
                                    seed=seed)


with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                  dashboard_address=None) as cluster, Client(cluster) as client:
    on_dask = ir.experiments.sweep(run, grid, seeds=seeds, executor=client)

# Every number of a run but its wall-clock time is the same in local threads.
local = ir.experiments.sweep(run, grid, seeds=seeds)
for key in ("test_acc", "final_loss", "l2_norm"):
    print(f"{key}: {len(on_dask.records)} runs, equal to the local ones:",
          on_dask.values(key) == local.values(key))

accuracy = on_dask.array("test_acc")  # indexed [init, l2, seed]
for i, init in enumerate(grid["init"]):
    print(f"{init:7s}", "  ".join(f"l2={l2:<6g} {accuracy[i, j].mean():.3f}"
                                   for j, l2 in enumerate(grid["l2"])))

figures = plot_sweep(on_dask.records, list(grid), "test_acc")
