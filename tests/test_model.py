"""MLP: fit and its history, what zero init and L1/L2 do, persistence."""
import os
import pickle

import numpy as np
import pytest

import initreg as ir
from initreg.datasets import load_digits, train_test_split
from initreg.experiments import distinct_units
from initreg.history import HIST_EDGES, LAYER_STATS, History


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.25, seed=0, stratify=True)


def test_he_relu_on_digits_reaches_95_percent(digits):
    Xtr, Xte, ytr, yte = digits
    net = ir.MLP([64, 128, 10], activation="relu", init="he", seed=0)
    hist = net.fit(Xtr, ytr, epochs=30, batch_size=32,
                   optimizer=ir.SGD(lr=0.05, momentum=0.9), seed=0)
    assert not hist.diverged
    assert net.score(Xte, yte) >= 0.95
    assert hist.loss[-1] < hist.loss[0] / 5


def test_history_arrays_have_their_documented_shapes(digits):
    Xtr, Xte, ytr, yte = digits
    n_batches = -(-len(Xtr) // 50)
    net = ir.MLP([64, 32, 16, 10], activation="tanh", seed=1)
    opt = ir.SGD(lr=0.1, l1=1e-4, schedule=ir.StepDecay(2, 0.5))
    hist = net.fit(Xtr, ytr, epochs=5, batch_size=50, optimizer=opt,
                   validation_data=(Xte, yte), record=True, seed=0)
    E, L = 5, 3
    for name in ("loss", "penalty", "accuracy", "val_loss", "val_accuracy", "lr",
                 "epoch_time", "sparsity"):
        assert getattr(hist, name).shape == (E,), name
    assert hist.batch_loss.shape == (E * n_batches,)
    assert set(hist.layer_stats) == set(LAYER_STATS)
    for v in hist.layer_stats.values():
        assert v.shape == (E, L) and np.isfinite(v).all()
    assert hist.weight_hist.shape == (E, L, len(HIST_EDGES) - 1)
    np.testing.assert_array_equal(hist.weight_hist.sum(axis=2)[-1],
                                  [w.size for w in net.weights])
    np.testing.assert_allclose(hist.lr, [0.1, 0.1, 0.05, 0.05, 0.025])
    np.testing.assert_allclose(hist.penalty[-1], 1e-4 * sum(np.abs(w).sum() for w in net.weights),
                               rtol=1e-5)
    np.testing.assert_allclose(hist.layer_stats["weight_norm"][-1],
                               [np.linalg.norm(w.astype(np.float64)) for w in net.weights],
                               rtol=1e-6)
    assert hist.val_loss[-1] == pytest.approx(net.loss(Xte, yte).data)
    again = History.from_dict(hist.to_dict())
    np.testing.assert_array_equal(again.loss, hist.loss)
    np.testing.assert_array_equal(again.layer_stats["act_std"], hist.layer_stats["act_std"])
    assert hist.to_json() == again.to_json()


def test_fit_is_reproducible_for_a_seeded_model(digits):
    Xtr, _, ytr, _ = digits
    runs = [ir.MLP([64, 32, 10], seed=3) for _ in range(2)]
    for net in runs:
        net.fit(Xtr, ytr, epochs=3, optimizer=ir.SGD(lr=0.05, momentum=0.9))
    np.testing.assert_array_equal(runs[0].parameters, runs[1].parameters)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_zero_init_leaves_every_hidden_unit_identical(activation, digits):
    Xtr, _, ytr, _ = digits
    net = ir.MLP([64, 16, 16, 10], activation=activation, init="zeros", seed=0)
    hist = net.fit(Xtr, ytr, epochs=5, optimizer=ir.SGD(lr=0.1), seed=0)
    assert not hist.diverged
    for layer in range(2):  # hidden layers: incoming weights and bias per unit
        assert distinct_units(net, layer) == 1
    # ... while a random init breaks the symmetry
    other = ir.MLP([64, 16, 16, 10], activation=activation, init="xavier", seed=0)
    other.fit(Xtr, ytr, epochs=1, optimizer=ir.SGD(lr=0.1), seed=0)
    assert distinct_units(other, 0) == distinct_units(other, 1) == 16


def _trained(digits, **opt):
    Xtr, _, ytr, _ = digits
    net = ir.MLP([64, 64, 10], activation="relu", init="he", seed=0)
    net.fit(Xtr, ytr, epochs=15, optimizer=ir.SGD(lr=0.05, momentum=0.0, **opt), seed=0)
    return np.concatenate([w.ravel() for w in net.weights])


def test_l1_modes_and_l2_on_digits(digits):
    none = _trained(digits)
    sub = _trained(digits, l1=5e-3, l1_mode="subgradient")
    prox = _trained(digits, l1=5e-3, l1_mode="proximal")
    cum = _trained(digits, l1=5e-3, l1_mode="cumulative")
    l2 = _trained(digits, l2=1e-2)
    assert (sub == 0).mean() < 0.01 and (none == 0).mean() == 0
    # the thresholding modes zero a sizeable share (a quarter: far above what
    # rounding could give, well below the third or more they reach here),
    # two orders of magnitude more than the subgradient does
    assert (prox == 0).mean() > max(0.25, 100 * (sub == 0).mean())
    assert (cum == 0).mean() > max(0.25, 100 * (sub == 0).mean())
    assert np.linalg.norm(l2) < 0.8 * np.linalg.norm(none)
    assert (l2 == 0).mean() < 0.01  # L2 shrinks, it does not zero


def _scalar_model(w):
    # one weight, no hidden layer: loss = (w x - y)^2 with x = 1, y = 0, so dJ/dw = 2 w
    net = ir.MLP([1, 1], output="linear", dtype="float64", init="zeros", seed=0)
    net.weights[0][0, 0] = w
    return net


def test_hand_computed_regularized_steps():
    X, y = np.ones((1, 1)), np.zeros(1)
    lr = 0.1

    def sgd(**kw):  # plain SGD, no momentum, L1 as the formula unless told
        return ir.SGD(lr=lr, momentum=0.0, **{"l1_mode": "subgradient", **kw})

    # subgradient L1: w - lr (2w + l1 sign w) = 0.5 - 0.1 (1.0 + 0.3) = 0.37
    net = _scalar_model(0.5)
    net.step(X, y, sgd(l1=0.3))
    assert net.weights[0][0, 0] == pytest.approx(0.37)
    # L2: w - lr (2w + 2 l2 w) = 0.5 - 0.1 (1.0 + 0.2) = 0.38
    net = _scalar_model(0.5)
    net.step(X, y, sgd(l2=0.2))
    assert net.weights[0][0, 0] == pytest.approx(0.38)
    # proximal: 0.5 - 0.1 * 1.0 = 0.4, then soft-threshold by lr l1 = 0.5 -> exactly 0
    net = _scalar_model(0.5)
    net.step(X, y, sgd(l1=5.0, l1_mode="proximal"))
    assert net.weights[0][0, 0] == 0.0
    # subgradient with the same l1 overshoots instead: 0.5 - 0.1 (1 + 5) = -0.1
    net = _scalar_model(0.5)
    net.step(X, y, sgd(l1=5.0))
    assert net.weights[0][0, 0] == pytest.approx(-0.1)
    # cumulative: 0.4, u = 0.5 -> clipped at exactly 0, and stays there
    net = _scalar_model(0.5)
    opt = sgd(l1=5.0, l1_mode="cumulative")
    net.step(X, y, opt)
    net.step(X, y, opt)
    assert net.weights[0][0, 0] == 0.0
    # the bias is not penalised by default: db = 2 (w + b - y) = 2 * 0.5 -> b = -0.1
    net = _scalar_model(0.5)
    net.step(X, y, sgd(l1=5.0, l2=3.0))
    assert net.biases[0][0] == pytest.approx(-0.1)


def test_divergence_rolls_back_to_the_start_of_its_epoch(digits):
    Xtr, _, ytr, _ = digits
    net = ir.MLP([64, 64, 10], activation="relu", init="he", seed=0)
    opt = ir.SGD(lr=0.05)
    first = net.fit(Xtr, ytr, epochs=2, optimizer=opt)
    params, state = net.parameters.copy(), opt.state_dict()
    # inputs of 1e20: the first updates are finite but huge, then a forward overflows
    with pytest.warns(RuntimeWarning, match="non-finite"):
        hist = net.fit(Xtr * 1e20, ytr, epochs=5, optimizer=opt)
    assert hist.diverged and net.diverged and hist.diverged_epoch == 0
    assert hist.n_epochs == 0 and len(hist.batch_loss) == 0  # nothing half-recorded
    np.testing.assert_array_equal(net.parameters, params)  # back to the epoch's start
    now = opt.state_dict()
    assert (now["steps"], now["epoch"], net.epochs_trained) == (state["steps"], 2, 2)
    np.testing.assert_array_equal(now["buffers"]["velocity"], state["buffers"]["velocity"])
    assert len(first.batch_loss) == 2 * -(-len(ytr) // 32)
    # a too-large step size on a linear regression diverges too
    X = Xtr[:, :8]
    reg = ir.MLP([8, 32, 1], activation="identity", output="linear", seed=0)
    with pytest.warns(RuntimeWarning, match="non-finite"):
        hist = reg.fit(X, X.sum(axis=1) * 100, epochs=50, optimizer=ir.SGD(lr=0.1), seed=0)
    assert hist.diverged and np.isfinite(reg.parameters).all()
    with pytest.raises(FloatingPointError):
        net.reinitialize(0).fit(Xtr * 1e30, ytr, epochs=5, optimizer=ir.SGD(lr=0.1),
                                on_divergence="raise")
    np.testing.assert_array_equal(net.parameters, ir.MLP([64, 64, 10], activation="relu",
                                                         init="he", seed=0).parameters)


@pytest.mark.parametrize("sizes, activation, output", [
    ([64, 64, 1], "tanh", "linear"), ([64, 32, 32, 1], "identity", "linear"),
    ([64, 128, 128, 1], "relu", "linear"), ([64, 16, 10], "leaky_relu", "sigmoid")])
@pytest.mark.parametrize("warm", [False, True], ids=["from-init", "after-two-epochs"])
def test_a_diverged_model_predicts_and_trains_on_at_a_smaller_rate(sizes, activation, output,
                                                                   warm, digits):
    Xtr, Xte, ytr, yte = digits
    target = {"linear": Xtr.sum(axis=1) / 10,
              "sigmoid": (ytr[:, None] == np.arange(10)).astype(np.float32)}[output]
    net = ir.MLP(sizes, activation=activation, output=output, seed=0)
    opt = ir.SGD(lr=0.01, momentum=0.9)
    if warm:
        net.fit(Xtr, target, epochs=2, optimizer=opt)
    before = net.parameters.copy()
    opt.lr = 1e3
    hist = net.fit(Xtr, target, epochs=10, optimizer=opt, on_divergence="ignore")
    assert hist.diverged
    assert np.isfinite(net.forward(Xte)).all()  # a usable model ...
    if hist.diverged_epoch == 0:  # ... back where the diverged epoch began
        np.testing.assert_array_equal(net.parameters, before)
    start = net.loss(Xtr, target).data
    opt.lr = 1e-3
    hist = net.fit(Xtr, target, epochs=10, optimizer=opt)
    assert not hist.diverged and np.isfinite(hist.loss).all()
    assert net.loss(Xtr, target).data < start


def test_early_stopping_restores_the_best_epoch(digits):
    Xtr, Xte, ytr, yte = digits
    net = ir.MLP([64, 256, 10], activation="relu", init="he", seed=0)
    # a tiny training set overfits fast, so the validation loss turns up
    hist = net.fit(Xtr[:60], ytr[:60], epochs=300, batch_size=10,
                   optimizer=ir.SGD(lr=0.1, momentum=0.9), validation_data=(Xte, yte),
                   callbacks=[ir.EarlyStopping(5)], seed=0)
    assert hist.stopped_early and hist.n_epochs < 300
    assert hist.best_epoch == int(np.argmin(hist.val_loss))
    assert net.loss(Xte, yte).data == pytest.approx(hist.val_loss.min(), rel=1e-6)


def test_callbacks_can_stop_training(digits):
    Xtr, _, ytr, _ = digits
    seen = []

    def stop_at_three(model, history, epoch):
        seen.append((epoch, history.n_epochs))
        return epoch == 2

    hist = ir.MLP([64, 16, 10], seed=0).fit(Xtr, ytr, epochs=10, callbacks=[stop_at_three])
    assert hist.n_epochs == 3 and seen == [(0, 1), (1, 2), (2, 3)]


def test_sigmoid_and_linear_outputs(rng):
    X = rng.normal(size=(200, 5)).astype(np.float32)
    t = (X[:, :2] > 0).astype(np.float32)  # two independent binary targets
    net = ir.MLP([5, 16, 2], output="sigmoid", seed=0)
    net.fit(X, t, epochs=100, optimizer=ir.SGD(lr=0.5, momentum=0.9))
    assert net.predict(X).shape == (200, 2) and net.predict_proba(X).shape == (200, 2)
    assert net.score(X, t) > 0.95
    y = X @ rng.normal(size=5)
    reg = ir.MLP([5, 16, 1], output="linear", seed=0)
    reg.fit(X, y, epochs=100, optimizer=ir.SGD(lr=0.05, momentum=0.9))
    assert reg.predict(X).shape == (200,)
    assert reg.score(X, y) > 0.95
    with pytest.raises(ValueError, match="predict_proba"):
        reg.predict_proba(X)


def test_save_load_round_trips_exactly(tmp_path, digits):
    Xtr, Xte, ytr, _ = digits
    net = ir.MLP([64, 32, 10], activation=["relu"], init=ir.init.normal(std=0.1),
                 dtype="float64", seed=4)
    net.fit(Xtr, ytr, epochs=2)
    path = tmp_path / "model.npz"
    net.save(path)
    back = ir.MLP.load(path)
    np.testing.assert_array_equal(back.parameters, net.parameters)
    np.testing.assert_array_equal(back.forward(Xte), net.forward(Xte))
    assert (back.layer_sizes, back.activations, back.dtype, back.output, back.seed) == \
        (net.layer_sizes, net.activations, net.dtype, net.output, net.seed)
    assert repr(back.init) == "normal(std=0.1)"
    np.testing.assert_array_equal(back.reinitialize(4).parameters,
                                  ir.MLP([64, 32, 10], activation=["relu"],
                                         init=ir.init.normal(std=0.1), dtype="float64",
                                         seed=4).parameters)
    assert not [p for p in os.listdir(tmp_path) if p != "model.npz"]  # no temp files left
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(clone.parameters, net.parameters)


def test_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    net = ir.MLP([4, 3, 2], seed=0)
    good = tmp_path / "good.npz"
    net.save(good)
    data = good.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.npz").write_bytes(os.urandom(300))
    np.savez(tmp_path / "foreign.npz", a=np.arange(3))
    np.savez(tmp_path / "pickled.npz", format=np.array("initreg.MLP"), format_version=1,
             config=np.array([{"a": 1}], dtype=object), parameters=np.zeros(3))
    for name, words in [("truncated.npz", "truncated or corrupt|not a readable"),
                        ("noise.npz", "not an .npz archive"),
                        ("foreign.npz", "not an initreg model"),
                        ("pickled.npz", "pickle")]:
        with pytest.raises(ValueError, match=words):
            ir.MLP.load(tmp_path / name)
    with pytest.raises(IsADirectoryError):
        ir.MLP.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        ir.MLP.load(tmp_path / "missing.npz")
    with pytest.raises(IsADirectoryError):
        net.save(tmp_path)


def test_schedules_may_return_numpy_scalars():
    opt = ir.SGD(lr=0.1, schedule=lambda epoch: np.float32(0.5) ** epoch)
    assert opt.lr_at(2) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="schedule"):
        ir.SGD(lr=0.1, schedule=lambda epoch: np.float32(0)).lr_at(1)


def test_saving_per_layer_and_user_initializers(tmp_path, digits):
    Xtr, Xte, ytr, _ = digits
    per_layer = [ir.init.normal(std=0.05), "he", ir.init.orthogonal(gain=2.0)]
    net = ir.MLP([64, 16, 16, 10], activation="relu", init=per_layer, seed=3,
                 bias_init=ir.init.uniform(limit=0.1))
    net.save(tmp_path / "layers.npz")
    back = ir.MLP.load(tmp_path / "layers.npz")
    assert repr(back.init) == repr(per_layer) and repr(back.bias_init) == "uniform(limit=0.1)"
    np.testing.assert_array_equal(back.reinitialize(3).parameters, net.parameters)

    def mine(shape, *, rng=None, dtype=np.float32):
        return np.full(shape, 0.01, dtype=dtype)

    custom = ir.MLP([64, 16, 10], init=mine, seed=1)
    custom.fit(Xtr, ytr, epochs=1)
    custom.save(tmp_path / "custom.npz")
    loaded = ir.MLP.load(tmp_path / "custom.npz")  # the weights come back ...
    np.testing.assert_array_equal(loaded.forward(Xte), custom.forward(Xte))
    assert "mine" in repr(loaded.init)
    with pytest.raises(ValueError, match="not saved"):
        loaded.reinitialize()  # ... the function itself cannot
    np.testing.assert_array_equal(loaded.parameters, custom.parameters)


def test_random_biases_have_their_stated_spread():
    net = ir.MLP([300, 400, 400, 10], bias_init=ir.init.normal(std=0.3), seed=0)
    b = np.concatenate([x.astype(np.float64) for x in net.biases[:2]])
    assert b.std() == pytest.approx(0.3, rel=0.1) and abs(b.mean()) < 0.05
    again = ir.MLP([300, 400, 400, 10], bias_init=ir.init.normal(std=0.3), seed=0)
    np.testing.assert_array_equal(again.parameters, net.parameters)
    plain = ir.MLP([300, 400, 400, 10], seed=0)  # the weights do not depend on bias_init
    np.testing.assert_array_equal(plain.weights[0], net.weights[0])
