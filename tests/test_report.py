"""`initreg report` and `initreg train` end to end."""
import json
import re
import subprocess
import sys
from html import escape

import numpy as np
import pytest

pytest.importorskip("matplotlib")  # the report extra; CI installs it
from conftest import _env_for_this_initreg  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from initreg import report  # noqa: E402
from initreg.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "report"
    assert main(["report", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


def test_report_writes_html_figures_and_json(quick_report):
    out = quick_report
    html = (out / "report.html").read_text()
    shown = re.findall(r'<figcaption>([^<]+\.png)</figcaption>', html)
    on_disk = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert sorted(shown) == on_disk and len(on_disk) >= 10
    assert html.count("data:image/png;base64,") == len(shown)  # self-contained
    assert "http://" not in html and "https://" not in html and "<script" not in html
    results = json.loads((out / "results.json").read_text())
    assert results["errors"] == {}
    assert set(results["experiments"]) == {s.name for s in report.EXPERIMENTS}
    for name, e in results["experiments"].items():
        assert e["figures"] and e["text"] and e["result"]
        assert escape(e["text"]) in html
    assert json.loads(json.dumps(results)) == results  # round-trips


def test_report_numbers_come_from_the_run(quick_report):
    results = json.loads((quick_report / "results.json").read_text())
    sig = results["experiments"]["signal_tanh"]
    xavier = sig["summary"]["xavier"]["last_act_std"]
    assert f"{xavier:.2f}" in sig["text"]
    reg = results["experiments"]["regularization"]
    assert "exactly 0" in reg["text"]


def test_figures_are_not_blank(quick_report):
    for png in (quick_report / "figures").glob("*.png"):
        img = imread(png)
        assert img.shape[0] > 100 and img.shape[1] > 100
        # a blank figure is one colour; a drawn one has many
        assert img[..., :3].reshape(-1, 3).std(axis=0).max() > 0.05, png.name


def test_existing_directory_is_not_clobbered_without_force(quick_report, capsys):
    before = (quick_report / "results.json").read_bytes()
    assert main(["report", "--quick", "--out", str(quick_report), "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (quick_report / "results.json").read_bytes() == before


def test_a_failing_experiment_keeps_the_others(tmp_path, monkeypatch):
    def boom(dataset, seed, quick):
        raise RuntimeError("deliberate failure")

    sections = [report.Section(s.name, s.title, boom if s.name == "depth" else s.run,
                               s.describe, s.figures) for s in report.EXPERIMENTS]
    monkeypatch.setattr(report, "EXPERIMENTS", sections)
    out = tmp_path / "rep"
    path, errors = report.run_report(out=out, quick=True, progress=False,
                                     only=("landscape", "depth"))
    assert list(errors) == ["depth"] and "deliberate failure" in errors["depth"]
    results = json.loads((out / "results.json").read_text())
    assert "landscape" in results["experiments"] and "depth" in results["errors"]
    assert (out / "figures" / "landscape-landscape.png").exists()
    assert "deliberate failure" in path.read_text()
    # and --force rewrites the directory
    path, errors = report.run_report(out=out, quick=True, progress=False, only=("landscape",),
                                     force=True)
    assert errors == {} and json.loads((out / "results.json").read_text())["errors"] == {}


def test_train_prints_a_table_per_epoch(capsys):
    code = main(["train", "--layers", "64,32,10", "--activation", "relu", "--init", "he",
                 "--l1", "1e-3", "--l1-mode", "proximal", "--epochs", "3"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d", line)]
    assert len(rows) == 3 and "test accuracy" in out


def test_train_json_and_bad_layers(capsys, tmp_path):
    assert main(["train", "--epochs", "2", "--json", "--save", str(tmp_path / "m.npz")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["history"]["loss"]) == 2 and 0 <= data["test_accuracy"] <= 1
    assert (tmp_path / "m.npz").exists()
    assert main(["train", "--layers", "10,5,3", "--epochs", "1"]) == 2
    assert "must start with 64" in capsys.readouterr().err


def test_python_dash_m_initreg(tmp_path):
    # outside the source tree, which would shadow the installed package
    done = subprocess.run([sys.executable, "-m", "initreg", "train", "--epochs", "1", "--json"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=_env_for_this_initreg())
    assert done.returncode == 0, done.stderr
    assert np.isfinite(json.loads(done.stdout)["test_accuracy"])


def test_train_with_adam_and_weight_decay(capsys):
    assert main(["train", "--optimizer", "adamw", "--weight-decay", "0.05", "--epochs", "2",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["optimizer"]["optimizer"] == "AdamW"
    assert data["optimizer"]["weight_decay"] == 0.05 and data["optimizer"]["lr"] == 0.001
    assert main(["train", "--optimizer", "adam", "--momentum", "0.5"]) == 2
    assert "momentum" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--epochs", "-1"], ["--batch-size", "0"],
                                  ["--lr", "nan"], ["--dataset", "npz:/nonexistent.npz"],
                                  ["--optimizer", "adam", "--l1-mode", "cumulative"],
                                  ["--weight-decay", "-1"]])
def test_train_reports_bad_arguments_with_status_2(argv, capsys):
    assert main(["train", *argv]) == 2
    assert "initreg train:" in capsys.readouterr().err


def test_bench_runs_from_the_installed_package(tmp_path):
    # outside any checkout: initreg bench needs nothing but the package
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "initreg", "bench", "--configs", "tiny",
                           "--threads", "1", "--rounds", "1", "--only", "steps",
                           "--optimizers", "sgd,adam", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=_env_for_this_initreg())
    assert done.returncode == 0, done.stderr
    row = json.loads(out.read_text())["steps"]["1"]["tiny"]
    assert {"initreg-fit", "initreg-step", "initreg-engine", "numpy", "gemm-floor"} <= set(row)
    assert all(us > 0 for us in row.values())
    adam = json.loads(out.read_text())["adam_steps"]["1"]["tiny"]
    assert {"initreg-fit", "initreg-step", "numpy", "gemm-floor"} <= set(adam)
    assert adam["gemm-floor"] == row["gemm-floor"]  # one floor, timed in the same rounds
    assert "µs per training step (adam)" in done.stdout
    assert "Adam's step over the GEMM floor" in done.stdout


def test_bench_times_many_models_at_once(tmp_path):
    out = tmp_path / "models.json"
    done = subprocess.run([sys.executable, "-m", "initreg", "bench", "--only", "models",
                           "--model-configs", "2-8-8-2", "--model-counts", "8",
                           "--rounds", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=_env_for_this_initreg())
    assert done.returncode == 0, done.stderr
    row = json.loads(out.read_text())["models"]["2-8-8-2"]["8"]
    assert {"initreg-ensemble", "initreg-lanes", "initreg-each"} <= set(row)
    assert all(us > 0 for us in row.values())
    assert "many models at once" in done.stdout
