"""Grid files: load_grid's checks, run_grid in local threads and what it
writes, and the same records as the sweep they describe."""
import csv
import functools
import json

import pytest

from initreg import experiments as ex

GRID_TOML = """experiment = "train"
seeds = [0, 1]

[fixed]
epochs = 2
hidden = [8]

[grid]
init = ["xavier", "he"]
l2 = [0.0, 0.001]
"""


def test_load_grid_reads_toml_and_json_and_names_what_is_wrong(tmp_path):
    toml = tmp_path / "g.toml"
    toml.write_text(GRID_TOML)
    spec = ex.load_grid(toml)
    assert spec == {"experiment": "train", "fixed": {"epochs": 2, "hidden": [8]},
                    "grid": {"init": ["xavier", "he"], "l2": [0.0, 0.001]}, "seeds": [0, 1]}
    as_json = tmp_path / "g.json"
    as_json.write_text(json.dumps(spec))
    assert ex.load_grid(as_json) == spec
    for bad, words in [({**spec, "color": 1}, "unknown keys"),
                       ({**spec, "experiment": "dance"}, "unknown experiment"),
                       ({**spec, "grid": {"lrr": [1]}}, "no parameter 'lrr'"),
                       ({**spec, "grid": {"init": []}}, "non-empty"),
                       ({**spec, "fixed": {"init": "he"}}, "both in fixed and in grid"),
                       ({**spec, "seeds": [-1]}, "seeds")]:
        with pytest.raises(ValueError, match=words):
            ex.load_grid(bad)
    (tmp_path / "broken.toml").write_text("experiment = ")
    with pytest.raises(ValueError, match="not valid TOML"):
        ex.load_grid(tmp_path / "broken.toml")
    with pytest.raises(FileNotFoundError):
        ex.load_grid(tmp_path / "missing.toml")


def _without_time(records):
    return [{**r, "result": {k: v for k, v in r["result"].items() if k != "seconds"}}
            for r in records]


def test_run_grid_in_local_threads_writes_every_record(tmp_path):
    spec = ex.load_grid(json.loads(json.dumps(
        {"experiment": "train", "seeds": [0, 1], "fixed": {"epochs": 2, "hidden": [8]},
         "grid": {"init": ["xavier", "he"], "l2": [0.0, 0.001]}})))
    out = tmp_path / "out"
    result = ex.run_grid(spec, out, max_workers=2, progress=False)
    assert len(result.records) == 8 and not result.errors
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 8  # streamed, in completion order
    written = json.loads((out / "results.json").read_text())
    assert [(r["init"], r["l2"], r["seed"]) for r in written["records"]] == \
        [(i, l2, s) for i in ("xavier", "he") for l2 in (0.0, 0.001) for s in (0, 1)]
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and rows[0]["init"] == "xavier" and "test_acc" in rows[0]
    # the same runs as the sweep the grid describes, in one thread
    run = functools.partial(ex.train_run, epochs=2, hidden=[8])
    direct = ex.sweep(run, spec["grid"], seeds=spec["seeds"], max_workers=1)
    assert _without_time(written["records"]) == \
        _without_time(json.loads(json.dumps(direct.records)))
