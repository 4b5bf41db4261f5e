"""Optimizers own their state: binding, hyperparameter changes, state dicts,
checkpoints, and exact resume in a fresh process."""
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import _env_for_this_initreg

import initreg as ir
from initreg.datasets import load_digits

# every way the state matters: velocity (plain and Nesterov), the three L1
# modes (the cumulative one keeps per-weight bookkeeping), a schedule, Adam's
# moments and step count (its bias correction), AdamW's decay, AMSGrad
RESUMED = {
    "momentum": (ir.SGD, dict(lr=0.05, momentum=0.9, l2=1e-4)),
    "nesterov": (ir.SGD, dict(lr=0.05, momentum=0.8, nesterov=True)),
    "subgradient": (ir.SGD, dict(lr=0.05, momentum=0.5, l1=1e-4, l1_mode="subgradient")),
    "proximal": (ir.SGD, dict(lr=0.05, momentum=0.5, l1=1e-3, l1_mode="proximal",
                              regularize_bias=True)),
    "cumulative": (ir.SGD, dict(lr=0.05, momentum=0.9, l1=1e-3, l1_mode="cumulative")),
    "schedule": (ir.SGD, dict(lr=0.1, momentum=0.9, schedule=ir.StepDecay(1, 0.5))),
    "sgdw": (ir.SGD, dict(lr=0.05, weight_decay=0.1)),
    "adam": (ir.Adam, dict(lr=0.005, l2=1e-4, l1=1e-4, l1_mode="proximal_preconditioned")),
    "adamw-amsgrad": (ir.AdamW, dict(lr=0.005, amsgrad=True,
                                     schedule=ir.ExponentialDecay(0.7))),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:600], y[:600]


def _fit(net, opt, digits, epochs):
    net.fit(*digits, epochs=epochs, batch_size=50, optimizer=opt, seed=3)


def test_resume_from_a_checkpoint_in_a_fresh_process_is_bit_identical(tmp_path, digits):
    straight, paths = {}, {}
    for name, (cls, settings) in RESUMED.items():
        net, opt = ir.MLP([64, 24, 10], activation="relu", seed=1), cls(**settings)
        _fit(net, opt, digits, 4)
        straight[name] = net.parameters.copy()
        net, opt = ir.MLP([64, 24, 10], activation="relu", seed=1), cls(**settings)
        _fit(net, opt, digits, 2)
        paths[name] = str(tmp_path / f"{name}.npz")
        net.save(paths[name], optimizer=opt)
    code = (
        "import json, sys, initreg as ir\n"
        "from initreg.datasets import load_digits\n"
        "X, y = load_digits()\n"
        "for path in json.loads(sys.argv[1]):\n"
        "    net, opt = ir.load_checkpoint(path)\n"
        "    net.fit(X[:600], y[:600], epochs=2, batch_size=50, optimizer=opt, seed=3)\n"
        "    net.save(path + '.resumed.npz', optimizer=opt)\n")
    subprocess.run([sys.executable, "-c", code, json.dumps(list(paths.values()))],
                   check=True, cwd=tmp_path, env=_env_for_this_initreg())
    for name, path in paths.items():
        resumed, opt = ir.load_checkpoint(path + ".resumed.npz")
        np.testing.assert_array_equal(resumed.parameters, straight[name], err_msg=name)
        assert opt.epoch == 4 and resumed.epochs_trained == 4
        assert opt.steps == 4 * 12


def test_an_optimizer_trains_one_model(tmp_path, digits):
    a, b = ir.MLP([64, 8, 10], seed=0), ir.MLP([64, 8, 10], seed=0)
    opt = ir.SGD(lr=0.01)
    a.fit(*digits, epochs=1, optimizer=opt)
    with pytest.raises(ValueError, match="another model"):
        b.fit(*digits, epochs=1, optimizer=opt)
    with pytest.raises(ValueError, match="another model"):
        b.step(*digits, opt)
    with pytest.raises(ValueError, match="another model"):
        b.save(tmp_path / "b.npz", optimizer=opt)
    assert not (tmp_path / "b.npz").exists()
    np.testing.assert_array_equal(b.parameters, ir.MLP([64, 8, 10], seed=0).parameters)
    opt.reset()  # forgets the state and the model: free for another one
    b.fit(*digits, epochs=1, optimizer=opt)
    assert opt.epoch == 1


def test_hyperparameters_change_in_place_and_keep_the_state(digits):
    net = ir.MLP([64, 8, 10], seed=0)
    opt = ir.SGD(lr=0.05, momentum=0.9)
    net.fit(*digits, epochs=1, optimizer=opt)
    velocity = opt.state_dict()["buffers"]["velocity"]
    assert np.abs(velocity).max() > 0
    opt.lr = 0.01
    opt.set(l2=1e-3, momentum=0.5)
    assert (opt.lr, opt.l2, opt.momentum) == (0.01, 1e-3, 0.5)
    np.testing.assert_array_equal(opt.state_dict()["buffers"]["velocity"], velocity)
    # the next step uses the kept velocity: v' = 0.5 v + g, w' = w - 0.01 v'
    X, y = digits[0][:20], digits[1][:20]
    w0 = net.parameters.astype(np.float64)
    _, grads = net.loss_and_gradients(X, y)
    g = np.concatenate([d[0].ravel() for d in grads] + [d[1] for d in grads])
    g[:net._net.n_weights] += 2e-3 * w0[:net._net.n_weights]
    net.step(X, y, opt)
    expected = w0 - 0.01 * (0.5 * velocity + g)
    np.testing.assert_allclose(net.parameters, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="momentum"):
        opt.momentum = 1.0
    assert opt.momentum == 0.5  # a refused change changes nothing
    with pytest.raises(TypeError, match="weight_decy"):
        opt.set(weight_decy=0.1)


def test_state_dict_round_trip_and_refusals(tmp_path, digits):
    net = ir.MLP([64, 8, 10], seed=0)
    opt = ir.SGD(lr=0.05, l1=1e-3, l1_mode="cumulative", schedule=ir.ExponentialDecay(0.5))
    net.fit(*digits, epochs=2, optimizer=opt)
    d = opt.state_dict()
    assert d["optimizer"] == "SGD" and d["epoch"] == 2 and d["steps"] == opt.steps
    assert d["schedule"] == {"schedule": "ExponentialDecay", "params": {"gamma": 0.5}}
    json.dumps({k: v for k, v in d.items() if k != "buffers"})  # plain values
    other = ir.SGD().load_state_dict(d)
    assert other.hyperparameters() == opt.hyperparameters() and other.epoch == 2
    net.save(tmp_path / "model.npz")
    clone = ir.MLP.load(tmp_path / "model.npz")  # the parameters and epoch count
    net.fit(*digits, epochs=1, optimizer=opt)
    clone.fit(*digits, epochs=1, optimizer=other)
    np.testing.assert_array_equal(net.parameters, clone.parameters)
    for bad, words in [
            ({**d, "optimizer": "Adam"}, "not SGD"),
            ({**d, "layer_sizes": [64, 9, 10]}, "values of float32"),
            ({**d, "dtype": "float16"}, "dtype"),
            ({**d, "lr": -1.0}, "lr"),
            ({**d, "epoch": -1}, "epoch"),
            ({**d, "buffers": {"velocity": np.zeros(3, np.float32)}}, "velocity"),
            ({**d, "buffers": {"mystery": d["buffers"]["cumulative"]}}, "mystery"),
            ({**d, "buffers": {"cumulative": np.full_like(d["buffers"]["cumulative"],
                                                          np.nan)}}, "NaN")]:
        fresh = ir.SGD(lr=0.3)
        with pytest.raises((ValueError, TypeError), match=words):
            fresh.load_state_dict(bad)
        assert fresh.lr == 0.3 and fresh.epoch == 0  # untouched
    wrong_model = ir.SGD().load_state_dict(d)
    with pytest.raises(ValueError, match="layers"):
        ir.MLP([64, 9, 10], seed=0).fit(*digits, epochs=1, optimizer=wrong_model)


def test_pickle_and_copy_of_an_optimizer_keep_its_state(digits):
    import copy
    import pickle
    net = ir.MLP([64, 8, 10], seed=0)
    opt = ir.SGD(lr=0.05, momentum=0.9, schedule=ir.InverseTimeDecay(0.5))
    net.fit(*digits, epochs=1, optimizer=opt)
    for twin in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        assert twin.epoch == 1 and twin.steps == opt.steps
        np.testing.assert_array_equal(twin.state_dict()["buffers"]["velocity"],
                                      opt.state_dict()["buffers"]["velocity"])
        assert twin.schedule == ir.InverseTimeDecay(0.5)


def test_schedules_follow_the_optimizer_epochs(digits):
    assert [ir.ExponentialDecay(0.5)(e) for e in range(3)] == [1, 0.5, 0.25]
    assert [ir.InverseTimeDecay(1.0)(e) for e in range(3)] == [1, 0.5, 1 / 3]
    assert [ir.StepDecay(2, 0.1)(e) for e in range(5)] == \
        pytest.approx([1, 1, 0.1, 0.1, 0.01])
    net = ir.MLP([64, 8, 10], seed=0)
    opt = ir.SGD(lr=0.2, schedule=ir.ExponentialDecay(0.5))
    h1 = net.fit(*digits, epochs=2, optimizer=opt)
    h2 = net.fit(*digits, epochs=2, optimizer=opt)  # continues the schedule
    np.testing.assert_allclose(np.r_[h1.lr, h2.lr], 0.2 * 0.5 ** np.arange(4))
    for bad in (ir.ExponentialDecay, ir.InverseTimeDecay):
        with pytest.raises(ValueError, match="gamma|decay"):
            bad(-0.5)


def test_a_user_schedule_is_saved_by_name_and_asked_for_after_loading(tmp_path, digits):
    net = ir.MLP([64, 8, 10], seed=0)
    opt = ir.SGD(lr=0.1, schedule=lambda epoch: 0.9**epoch)
    net.fit(*digits, epochs=1, optimizer=opt)
    net.save(tmp_path / "m.npz", optimizer=opt)
    back, opt2 = ir.load_checkpoint(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="not saved"):
        back.fit(*digits, epochs=1, optimizer=opt2)
    opt2.schedule = lambda epoch: 0.9**epoch
    back.fit(*digits, epochs=1, optimizer=opt2)
    assert opt2.epoch == 2


def test_a_checkpoint_without_an_optimizer(tmp_path, digits):
    net = ir.MLP([64, 8, 10], seed=0)
    net.save(tmp_path / "m.npz")
    back, opt = ir.load_checkpoint(tmp_path / "m.npz")
    assert opt is None
    np.testing.assert_array_equal(back.parameters, net.parameters)
    unused = ir.SGD(lr=0.3)  # never trained: only its settings are saved
    net.save(tmp_path / "u.npz", optimizer=unused)
    _, opt = ir.load_checkpoint(tmp_path / "u.npz")
    assert opt.lr == 0.3 and opt.steps == 0
