"""Sweeps on a real Dask cluster of worker processes: the same records as a
local run, in the same order, and nothing lost when a worker dies."""
import functools
import json
import os
import signal

import pytest

pytest.importorskip("distributed")  # the dask extra; CI installs it
from dask.distributed import Client, LocalCluster  # noqa: E402

from initreg import experiments as ex  # noqa: E402
from initreg.cli import main  # noqa: E402

GRID = {"init": ["xavier", "he"], "l2": [0.0, 1e-3]}
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    with Client(cluster) as c:
        yield c
    cluster.close()


def _without_time(records):
    return [{**r, "result": {k: v for k, v in r["result"].items() if k != "seconds"}}
            for r in records]


def test_dask_records_match_the_local_run_bit_for_bit(client):
    run = functools.partial(ex.train_run, epochs=3, hidden=[16])
    local = ex.sweep(run, GRID, seeds=SEEDS)
    on_client = ex.sweep(run, GRID, seeds=SEEDS, executor=client)
    on_executor = ex.sweep(run, GRID, seeds=SEEDS, executor=client.get_executor())
    assert _without_time(on_client.records) == _without_time(local.records)
    assert _without_time(on_executor.records) == _without_time(local.records)
    assert [(r["init"], r["l2"], r["seed"]) for r in on_client.records] == \
        [(i, l2, s) for i in GRID["init"] for l2 in GRID["l2"] for s in SEEDS]


def test_a_killed_worker_loses_nothing(client):
    run = functools.partial(ex.train_run, epochs=40, hidden=[64])  # ~0.3 s per run
    grid = {"init": ["xavier", "he"], "l2": [0.0, 1e-4, 1e-3]}
    killed = []

    def kill_one_worker(record):
        if not killed:
            pid = next(iter(client.run(os.getpid).values()))  # a worker process
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    remote = ex.sweep(run, grid, seeds=[0, 1], executor=client, on_result=kill_one_worker)
    assert killed, "no worker was killed"
    assert not remote.errors and len(remote.records) == 12
    local = ex.sweep(run, grid, seeds=[0, 1])
    assert _without_time(remote.records) == _without_time(local.records)


def test_sweep_command_on_a_local_dask_cluster(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('experiment = "train"\nseeds = [0, 1]\n[fixed]\nepochs = 2\nhidden = [16]\n'
                    '[grid]\ninit = ["xavier", "he"]\nl2 = [0.0, 0.001]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(grid), "--out", str(out), "--dask", "local:2",
                 "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["records"]) == 8 == len((out / "records.jsonl").read_text().splitlines())
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].startswith("init,l2,seed,") and len(rows) == 9
    assert sorted(p.name for p in out.glob("sweep_*.png")) == \
        ["sweep_heatmap_init_l2.png", "sweep_test_acc_vs_l2.png"]
    # not clobbered without --force
    assert main(["sweep", str(grid), "--out", str(out), "--no-progress"]) == 2
