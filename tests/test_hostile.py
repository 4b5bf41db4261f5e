"""Training attacked as a hostile user would: Ctrl-C at random moments (in a
child process, many times, seeded), a second Ctrl-C while fit restores the
model, a second thread on the same model and optimizer, memory limits, and
the command line under Ctrl-C, a full disk and bad paths."""
import copy
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import initreg as ir
from conftest import _env_for_this_initreg
from initreg import _fit
from initreg.datasets import load_digits

linux = pytest.mark.skipif(sys.platform != "linux", reason="signals and rlimits of Linux")

# A child that trains with interrupts allowed ("armed") and checks, after
# each one, that the model, the optimizer and the history agree exactly with
# a reference trained epoch by epoch without interruption.
STRESS_CHILD = textwrap.dedent("""
    import json, signal, sys
    import numpy as np
    import initreg as ir
    from initreg.datasets import load_digits

    X, y = load_digits()
    X, y = np.tile(X, (4, 1)), np.tile(y, 4)
    EPOCHS, STEPS = 60, -(-len(y) // 32)

    def fresh():
        return (ir.MLP([64, 48, 48, 10], activation="relu", seed=0),
                ir.SGD(lr=0.02, momentum=0.9, l1=1e-4, l1_mode="cumulative"))

    net, opt = fresh()
    reference = [net.parameters.copy()]
    for _ in range(EPOCHS):
        net.fit(X, y, epochs=1, optimizer=opt)
        reference.append(net.parameters.copy())

    armed = [False]

    def on_sigint(signum, frame):
        if armed[0]:
            armed[0] = False
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    net, opt = fresh()
    interrupts = calls = 0
    print("ready", flush=True)
    while net.epochs_trained < EPOCHS:
        calls += 1
        armed[0] = True
        try:
            net.fit(X, y, epochs=EPOCHS - net.epochs_trained, optimizer=opt, record=True,
                    validation_data=(X[:300], y[:300]))
        except KeyboardInterrupt:
            interrupts += 1
        armed[0] = False
        h, k = net.history_, net.epochs_trained
        lengths = {len(h.loss), len(h.accuracy), len(h.val_loss), len(h.lr), len(h.sparsity),
                   len(h.penalty), len(h.epoch_time), h.n_epochs}
        if h.layer_stats is not None:
            lengths |= {len(v) for v in h.layer_stats.values()} | {len(h.weight_hist)}
        assert len(lengths) == 1, ("per-epoch arrays of different lengths", lengths)
        assert len(h.batch_loss) == h.n_epochs * STEPS, (len(h.batch_loss), h.n_epochs)
        assert np.array_equal(net.parameters, reference[k]), ("parameters", k)
        assert (opt.epoch, opt.steps) == (k, k * STEPS), (opt.epoch, opt.steps, k)
    # done: Ctrl-C from here on would only meet the interpreter's shutdown
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print(json.dumps({"interrupts": interrupts, "calls": calls}), flush=True)
""")


@linux
def test_ctrl_c_at_random_moments_never_leaves_a_torn_model_or_history(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", STRESS_CHILD], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env_for_this_initreg())
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    rng = np.random.default_rng(2026)
    sent = 0
    while child.poll() is None and sent < 400:
        time.sleep(float(rng.uniform(0.0, 0.02)))
        with_second = rng.random() < 0.3  # a second Ctrl-C right behind the first
        for _ in range(2 if with_second else 1):
            try:
                child.send_signal(signal.SIGINT)
                sent += 1
            except ProcessLookupError:
                break
            time.sleep(0.0002)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["interrupts"] >= 20, result  # many interrupts landed, and each was clean


def test_a_second_ctrl_c_while_fit_restores_the_model_is_held(monkeypatch):
    X, y = load_digits()
    net, opt = ir.MLP([64, 16, 10], seed=0), ir.SGD(lr=0.05)
    net.fit(X, y, epochs=1, optimizer=opt)
    start = net.parameters.copy()
    restore = _fit.Snapshot.restore
    seen = []

    def restore_with_a_second_ctrl_c(self, model, optimizer, state):
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the restore
        time.sleep(0.01)
        seen.append("restoring")
        restore(self, model, optimizer, state)

    monkeypatch.setattr(_fit.Snapshot, "restore", restore_with_a_second_ctrl_c)
    X, y = np.tile(X, (200, 1)), np.tile(y, 200)  # an epoch far longer than 50 ms
    stop = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    stop.start()
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=5, optimizer=opt)
    stop.join()
    assert seen == ["restoring"]  # the restore ran to its end
    np.testing.assert_array_equal(net.parameters, start)
    assert net.epochs_trained == opt.epoch == 1 and net.history_.interrupted


def test_deferred_interrupts_deliver_after_the_block():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with _fit.deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
            done.append(True)
    assert done == [True]


def test_a_second_thread_cannot_touch_a_model_that_is_training(tmp_path):
    X, y = load_digits()
    X, y = np.tile(X, (20, 1)), np.tile(y, 20)  # a fit of a second or more
    net, opt = ir.MLP([64, 64, 10], seed=0), ir.SGD(lr=0.01)
    reference = ir.MLP([64, 64, 10], seed=0)
    reference.fit(X, y, epochs=40, optimizer=ir.SGD(lr=0.01))
    worker = threading.Thread(target=lambda: net.fit(X, y, epochs=40, optimizer=opt))
    attempts = {
        "save": lambda: net.save(tmp_path / "m.npz"),
        "pickle": lambda: pickle.dumps(net),
        "deepcopy": lambda: copy.deepcopy(net),
        "reinitialize": lambda: net.reinitialize(3),
        "lsuv": lambda: ir.init.lsuv(net, X[:64]),
        "step": lambda: net.step(X[:8], y[:8], ir.SGD()),
        "state_dict": opt.state_dict,
        "reset": opt.reset,
        "load_state_dict": lambda: opt.load_state_dict(ir.SGD().state_dict()),
        "set": lambda: opt.set(lr=1.0),
    }
    refused = {name: 0 for name in attempts}
    worker.start()
    while not net._net.busy:
        assert worker.is_alive()
    deadline = time.perf_counter() + 0.1  # far from the fit's end
    while time.perf_counter() < deadline:
        for name, attempt in attempts.items():
            with pytest.raises(RuntimeError, match="another thread|while a fit"):
                attempt()
            refused[name] += 1
    worker.join()
    assert all(refused.values()), refused
    assert opt.lr == 0.01  # a refused change changed nothing
    np.testing.assert_array_equal(net.parameters, reference.parameters)
    assert not (tmp_path / "m.npz").exists()
    pickle.loads(pickle.dumps(net))  # after the fit, they work
    net.save(tmp_path / "m.npz")


def _limited(code, limit_mb, cwd):
    prelude = textwrap.dedent(f"""
        import resource
        import numpy as np
        import initreg as ir
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (mapped + {limit_mb} * 2**20, resource.RLIM_INFINITY))
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env=_env_for_this_initreg())


@linux
def test_work_beyond_the_memory_limit_is_refused_with_its_size(tmp_path):
    done = _limited("""
        def attempt(name, fn):
            try:
                fn()
            except ValueError as exc:
                print(name, "refused:", exc)
            except MemoryError:
                print(name, "MemoryError")
            else:
                print(name, "ran")

        # 1.4M parameters, but 160 kB of workspace per row of a batch
        net = ir.MLP([64, 20000, 10], seed=0)
        X = np.zeros((4000, 64), np.float32)
        y = np.zeros(4000, np.int64)
        attempt("model", lambda: ir.MLP([20000, 20000, 10]))
        attempt("fit", lambda: net.fit(X, y, batch_size=4000, epochs=1))
        attempt("step", lambda: net.step(X, y, ir.SGD()))
        attempt("loss_and_gradients", lambda: net.loss_and_gradients(X, y))
        attempt("init", lambda: ir.init.he_normal((30000, 30000)))
        attempt("data", lambda: ir.datasets.make_spirals(10**9))
        net.fit(X[:256], y[:256], epochs=2)  # what fits still runs
        print("trained", net.epochs_trained)
    """, limit_mb=400, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "trained 2", done.stdout
    for line in lines[:-1]:
        assert "refused:" in line and ("would need" in line or "GiB" in line), line


# ---- the command line ----------------------------------------------------------------

def _initreg(args, cwd, *, preexec=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "initreg", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=_env_for_this_initreg(),
                          preexec_fn=preexec)


def _one_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    return len(lines) == 1 and "Traceback" not in stderr


@pytest.mark.parametrize("save, words", [("", "needs a file name"),
                                         ("missing/dir/m.npz", "does not exist"),
                                         (".", "directory")])
def test_train_checks_its_save_path_before_training(tmp_path, save, words):
    done = _initreg(["train", "--epochs", "50", "--save", save], tmp_path)
    assert done.returncode == 2 and words in done.stderr and _one_line(done.stderr)
    assert "epoch" not in done.stdout  # refused before the first epoch


def _interrupt_when(child, ready, timeout=60):
    deadline = time.monotonic() + timeout
    while not ready():
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    return child.communicate(timeout=120)


GRID = {"experiment": "train", "seeds": [0, 1, 2, 3],
        "fixed": {"epochs": 15, "hidden": [32]},
        "grid": {"init": ["xavier", "he", "glorot"], "l2": [0.0, 1e-4, 1e-3]}}


def _without_time(records):
    return [{**r, "result": {k: v for k, v in (r["result"] or {}).items() if k != "seconds"}}
            for r in records]


@linux
def test_a_sweep_stopped_by_ctrl_c_resumes_to_the_same_results(tmp_path):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(GRID))
    out = tmp_path / "out"
    stream = out / "records.jsonl"
    child = subprocess.Popen([sys.executable, "-m", "initreg", "sweep", str(grid), "--out",
                              str(out), "--no-progress", "--workers", "2"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env_for_this_initreg())
    _, err = _interrupt_when(child, lambda: stream.exists() and
                             len(stream.read_text().splitlines()) >= 4)
    assert child.returncode == 130 and _one_line(err) and "--resume" in err, err
    lines = stream.read_text().splitlines()
    assert 4 <= len(lines) < 36 and all(json.loads(line) for line in lines)
    # a line cut by a crash is dropped, and that run is done again
    with open(stream, "a") as f:
        f.write(lines[0][: len(lines[0]) // 2])
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps({**GRID, "seeds": [0, 1]}))
    refused = _initreg(["sweep", str(changed), "--out", str(out), "--resume"], tmp_path)
    assert refused.returncode == 2 and "differs" in refused.stderr
    done = _initreg(["sweep", str(grid), "--out", str(out), "--resume", "--no-progress"],
                    tmp_path)
    assert done.returncode == 0, done.stderr
    resumed = json.loads((out / "results.json").read_text())["records"]
    assert len(stream.read_text().splitlines()) == 36  # each run recorded once
    whole = _initreg(["sweep", str(grid), "--out", str(tmp_path / "whole"), "--no-progress"],
                     tmp_path)
    assert whole.returncode == 0
    straight = json.loads((tmp_path / "whole" / "results.json").read_text())["records"]
    assert _without_time(resumed) == _without_time(straight)
    assert _initreg(["sweep", str(grid), "--out", str(out), "--workers", "0"],
                    tmp_path).returncode == 2


@linux
def test_report_ctrl_c_and_a_full_disk_end_with_one_line_and_no_litter(tmp_path):
    out = tmp_path / "rep"
    child = subprocess.Popen([sys.executable, "-m", "initreg", "report", "--quick", "--out",
                              str(out), "--no-progress"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env_for_this_initreg())
    _, err = _interrupt_when(child, lambda: (out / "results.json").exists())
    assert child.returncode == 130 and _one_line(err) and "interrupted" in err, err
    json.loads((out / "results.json").read_text())  # what finished is whole

    import resource

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    full = _initreg(["report", "--quick", "--out", str(tmp_path / "full"), "--no-progress"],
                    tmp_path, preexec=small_disk)
    assert full.returncode == 74 and _one_line(full.stderr), full.stderr
    litter = [p for p in (tmp_path / "full").rglob("*") if "tmp" in p.name]
    assert not litter, litter
    saved = _initreg(["train", "--epochs", "1", "--layers", "64,4096,10", "--save",
                      str(tmp_path / "m.npz")], tmp_path, preexec=small_disk)
    assert saved.returncode == 74 and _one_line(saved.stderr), saved.stderr
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]


def test_report_force_replaces_only_its_own_files(tmp_path):
    pytest.importorskip("matplotlib")
    from initreg.report import run_report
    out = tmp_path / "rep"
    (out / "figures").mkdir(parents=True)
    old = out / "figures" / "signal_tanh-signal_std_tanh.png"  # an earlier report's figure
    old.write_bytes(b"stale")
    mine = out / "figures" / "my-plot.png"
    mine.write_bytes(b"not the report's")
    (out / "notes.txt").write_text("keep me")
    run_report("digits", out=out, quick=True, force=True, progress=False, only=["landscape"])
    assert not old.exists()
    assert mine.read_bytes() == b"not the report's"
    assert (out / "notes.txt").read_text() == "keep me"
    assert [p.name for p in (out / "figures").glob("landscape-*.png")]
