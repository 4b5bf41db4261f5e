"""ir.Ensemble: K models trained together are the models MLP.fit trains one
at a time -- to 1e-12 in float64 after 20 epochs (exactly where every model
has the same settings, as the products then sum in the same order), 1e-5 in
float32 -- with the same histories; a diverging model stops alone; bad input
is refused before anything trains."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import initreg as ir
from initreg.datasets import make_spirals

SIZES = [2, 8, 8, 3]


@pytest.fixture(scope="module")
def data():
    X, y = make_spirals(n_samples=90, n_classes=3, seed=0)
    return X, y


def _optimizers():
    """One of every kind of setting, SGD and Adam mixed (14 models)."""
    return [
        ir.SGD(lr=0.05, momentum=0.9),
        ir.SGD(lr=0.03, momentum=0.8, nesterov=True, l2=1e-3),
        ir.SGD(lr=0.05, l1=1e-3, l1_mode="proximal"),
        ir.SGD(lr=0.05, momentum=0.9, l1=1e-3, l1_mode="cumulative"),
        ir.SGD(lr=0.05, momentum=0.9, l1=1e-3, l1_mode="subgradient"),
        ir.SGD(lr=0.04, weight_decay=0.5, regularize_bias=True, l2=1e-3),
        ir.SGD(lr=0.05, schedule=ir.StepDecay(5, 0.5)),
        ir.Adam(lr=0.01),
        ir.Adam(lr=0.01, l2=1e-3, amsgrad=True),
        ir.AdamW(lr=0.02, weight_decay=0.1),
        ir.AdamW(lr=0.01, amsgrad=True, regularize_bias=True),
        ir.Adam(lr=0.01, l1=1e-3, l1_mode="proximal"),
        ir.Adam(lr=0.01, l1=1e-3, l1_mode="proximal_preconditioned"),
        ir.Adam(lr=0.01, l1=1e-3, l1_mode="subgradient"),
    ]


SUBGRADIENT = {4, 13}  # the models whose sign(w) an ulp can flip


def _one_at_a_time(data, dtype, epochs, optimizers, seeds, **fit):
    models = [ir.MLP(SIZES, dtype=dtype, seed=s) for s in seeds]
    for m, opt in zip(models, optimizers):
        m.fit(*data, epochs=epochs, batch_size=16, optimizer=opt, **fit)
    return models


@pytest.mark.parametrize("engine", ["lanes", "sequential"])
def test_mixed_settings_match_mlp_fit_in_float64(data, engine):
    seeds = list(range(14))
    ens = ir.Ensemble(SIZES, seeds, dtype="float64")
    hists = ens.fit(*data, epochs=20, batch_size=16, optimizer=_optimizers(), engine=engine,
                    streams="per_model")
    ref = _one_at_a_time(data, np.float64, 20, _optimizers(), seeds)
    for k, (m, r) in enumerate(zip(ens, ref)):
        scale = np.abs(r.parameters).max()
        np.testing.assert_allclose(m.parameters, r.parameters, rtol=0, atol=1e-12 * scale,
                                   err_msg=f"model {k}")
        h, g = hists[k], r.history_
        np.testing.assert_allclose(h.loss, g.loss, rtol=1e-12)
        np.testing.assert_allclose(h.batch_loss, g.batch_loss, rtol=1e-12)
        np.testing.assert_allclose(h.accuracy, g.accuracy)
        np.testing.assert_allclose(h.penalty, g.penalty, rtol=1e-10, atol=1e-15)
        np.testing.assert_array_equal(h.lr, g.lr)
        np.testing.assert_allclose(h.sparsity, g.sparsity)
    assert all(m.epochs_trained == 20 for m in ens)


def test_identical_settings_give_exactly_mlp_fits_weights(data, dtype):
    # every model with the same kind of update: the products sum in the
    # order BLAS sums them here, and the update is the same formula
    seeds = range(5)
    opts = lambda: [ir.SGD(lr=0.05 + 0.01 * k, momentum=0.9, l2=1e-3) for k in seeds]  # noqa: E731
    ens = ir.Ensemble(SIZES, seeds, dtype=dtype)
    ens.fit(*data, epochs=20, batch_size=16, optimizer=opts(), engine="lanes",
            streams="per_model")
    for m, r in zip(ens, _one_at_a_time(data, dtype, 20, opts(), seeds)):
        np.testing.assert_array_equal(m.parameters, r.parameters)


def test_mixed_settings_in_float32_agree_to_1e_5(data):
    seeds = list(range(14))
    ens = ir.Ensemble(SIZES, seeds, dtype="float32")
    hists = ens.fit(*data, epochs=20, batch_size=16, optimizer=_optimizers(), engine="lanes",
                    streams="per_model")
    ref = _one_at_a_time(data, np.float32, 20, _optimizers(), seeds)
    for k, (m, r) in enumerate(zip(ens, ref)):
        if k in SUBGRADIENT:
            # an ulp moves a weight across 0 and sign(w) flips the L1 term: the
            # weights part, the training does not
            np.testing.assert_allclose(hists[k].loss, r.history_.loss, rtol=1e-3)
            assert np.mean(m.predict(data[0]) == r.predict(data[0])) > 0.95
            continue
        scale = np.abs(r.parameters).max()
        np.testing.assert_allclose(m.parameters, r.parameters, rtol=0, atol=1e-5 * scale,
                                   err_msg=f"model {k}")


def test_one_shared_stream_is_mlp_fit_with_that_seed(data):
    ens = ir.Ensemble(SIZES, [3, 4, 5], dtype="float64")
    ens.fit(*data, epochs=4, batch_size=16, optimizer=ir.SGD(lr=0.05, momentum=0.9), seed=11)
    for m, s in zip(ens, [3, 4, 5]):
        r = ir.MLP(SIZES, dtype="float64", seed=s)
        r.fit(*data, epochs=4, batch_size=16, optimizer=ir.SGD(lr=0.05, momentum=0.9), seed=11)
        np.testing.assert_allclose(m.parameters, r.parameters, rtol=0, atol=1e-13)
    # and the optimizer given for all was copied once per model, and kept
    assert len(ens.optimizers) == 3 and all(o.steps == 4 * 6 for o in ens.optimizers)


@pytest.mark.parametrize("streams", ["shared", "per_model"])
@pytest.mark.parametrize("sizes, n, batch", [
    # every remainder of the kernel's 4 x 4 register tiles, in the rows (16
    # and 10), the fan-ins (20, 7, 5, 6) and the fan-outs (7, 5, 6, 3)
    ([20, 7, 5, 6, 3], 90, 16),
    # the first layer's inputs broadcast to the lanes (fewer than 16, shared)
    ([6, 7, 5, 3], 90, 16),
    # a first layer of 128 shared inputs and 256 rows: BLAS in slices of
    # columns, and a last batch of 44 rows
    ([128, 7, 5, 3], 300, 256),
])
def test_every_shape_of_the_lanes_products_is_mlp_fit(sizes, n, batch, streams):
    # per_model: each model reads the rows in its own order (its own copy
    # of the inputs in the lanes)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((n, sizes[0])), rng.integers(0, 3, n)
    seeds = [3] * 10 if streams == "shared" else list(range(10))
    opts = lambda: [ir.SGD(lr=0.05, momentum=0.9) for _ in range(10)]  # noqa: E731
    ens = ir.Ensemble(sizes, range(10), dtype="float64")  # a block and a part
    ens.fit(X, y, epochs=5, batch_size=batch, optimizer=opts(), engine="lanes", seed=seeds,
            streams=streams)
    for k, (m, opt) in enumerate(zip(ens, opts())):
        r = ir.MLP(sizes, dtype="float64", seed=k)
        r.fit(X, y, epochs=5, batch_size=batch, optimizer=opt, seed=seeds[k])
        np.testing.assert_allclose(m.parameters, r.parameters, rtol=0,
                                   atol=1e-12 * np.abs(r.parameters).max(),
                                   err_msg=f"model {k}")


def test_training_resumes_where_it_stopped(data):
    opts = [ir.Adam(lr=0.01), ir.SGD(lr=0.05, momentum=0.9, l1=1e-3, l1_mode="cumulative")]
    ens = ir.Ensemble(SIZES, [0, 1], dtype="float64")
    ens.fit(*data, epochs=3, batch_size=16, optimizer=opts, streams="per_model")
    ens.fit(*data, epochs=4, batch_size=16, optimizer=opts, streams="per_model")
    ref_opts = [ir.Adam(lr=0.01), ir.SGD(lr=0.05, momentum=0.9, l1=1e-3, l1_mode="cumulative")]
    ref = _one_at_a_time(data, np.float64, 7, ref_opts, [0, 1])
    for m, r, o, ro in zip(ens, ref, opts, ref_opts):
        np.testing.assert_allclose(m.parameters, r.parameters, rtol=0, atol=1e-13)
        a, b = o.state_dict(), ro.state_dict()
        assert (a["steps"], a["epoch"]) == (b["steps"], b["epoch"])
        assert a["cum_u"] == pytest.approx(b["cum_u"])
        for name, values in b["buffers"].items():
            np.testing.assert_allclose(a["buffers"][name], values, rtol=0, atol=1e-13)


@pytest.mark.parametrize("engine", ["lanes", "sequential"])
def test_a_model_that_diverges_stops_alone(data, engine):
    X, t = data[0], data[1].astype(np.float64)  # least squares: lr = 1 blows up
    sizes, kw = [2, 8, 8, 1], dict(activation="identity", output="linear", dtype="float64")
    opts = lambda: [ir.SGD(lr=0.01), ir.SGD(lr=1.0), ir.SGD(lr=0.01, momentum=0.9)]  # noqa: E731
    ens = ir.Ensemble(sizes, [0, 1, 2], **kw)
    start = ens[1].parameters.copy()
    with pytest.warns(RuntimeWarning, match=r"models \[1\] diverged"):
        hists = ens.fit(X, t, epochs=5, batch_size=16, optimizer=opts(), engine=engine,
                        streams="per_model")
    assert hists[1].diverged and hists[1].diverged_epoch == 0 and hists[1].n_epochs == 0
    np.testing.assert_array_equal(ens[1].parameters, start)  # back where epoch 0 began
    assert ens[1].epochs_trained == 0 and ens.optimizers is None
    for k in (0, 2):
        assert not hists[k].diverged and hists[k].n_epochs == 5
        r = ir.MLP(sizes, seed=k, **kw)
        r.fit(X, t, epochs=5, batch_size=16, optimizer=opts()[k])
        np.testing.assert_allclose(ens[k].parameters, r.parameters, rtol=0, atol=1e-13)
    with pytest.raises(FloatingPointError, match="diverged"):
        ir.Ensemble(sizes, [0, 1], **kw).fit(X, t, epochs=5, optimizer=opts()[:2],
                                            on_divergence="raise", engine=engine,
                                            streams="per_model")


def test_record_and_validation_histories_match_mlp_fit(data):
    X, y = data
    ens = ir.Ensemble(SIZES, [0, 1], dtype="float64")
    hists = ens.fit(X, y, epochs=3, batch_size=16, optimizer=[ir.SGD(lr=0.05), ir.Adam()],
                    record=True, validation_data=(X[:20], y[:20]), streams="per_model",
                    engine="lanes")
    for h, m, opt in zip(hists, [0, 1], [ir.SGD(lr=0.05), ir.Adam()]):
        r = ir.MLP(SIZES, dtype="float64", seed=m)
        g = r.fit(X, y, epochs=3, batch_size=16, optimizer=opt, record=True,
                  validation_data=(X[:20], y[:20]))
        np.testing.assert_allclose(h.val_loss, g.val_loss, rtol=1e-12)
        np.testing.assert_allclose(h.val_accuracy, g.val_accuracy)
        for name, values in g.layer_stats.items():
            np.testing.assert_allclose(h.layer_stats[name], values, rtol=1e-9, atol=1e-12,
                                       err_msg=name)
        np.testing.assert_array_equal(h.weight_hist, g.weight_hist)


def test_the_models_are_mlps_that_predict_and_save(data, tmp_path):
    X, y = data
    ens = ir.Ensemble.from_models([ir.MLP(SIZES, seed=s) for s in range(3)])
    ens.fit(X, y, epochs=2)
    assert ens.predict(X).shape == (3, len(X)) and ens.score(X, y).shape == (3,)
    ens[1].save(tmp_path / "m.npz")
    np.testing.assert_array_equal(ir.MLP.load(tmp_path / "m.npz").parameters, ens[1].parameters)
    assert len(ens) == 3 and list(ens) == ens.models and "3 x [2, 8, 8, 3]" in repr(ens)


@pytest.mark.parametrize("make, error, match", [
    (lambda: ir.Ensemble.from_models([ir.MLP(SIZES), ir.MLP([2, 8, 3])]), ValueError,
     "model 1 differs from model 0 in layer_sizes"),
    (lambda: ir.Ensemble.from_models([ir.MLP(SIZES), ir.MLP(SIZES, dtype="float64")]),
     ValueError, "model 1 .* dtype"),
    (lambda: ir.Ensemble.from_models([ir.MLP(SIZES), ir.MLP(SIZES, activation="relu")]),
     ValueError, "model 1 .* activations"),
    (lambda: ir.Ensemble.from_models([ir.MLP(SIZES), "net"]), TypeError, r"models\[1\]"),
    (lambda: ir.Ensemble.from_models([]), ValueError, "at least one"),
    (lambda: ir.Ensemble(SIZES, 3), TypeError, "seeds"),
    (lambda: ir.Ensemble(SIZES, [0, 1], inits=["he", "bogus"]), ValueError, "model 1"),
    (lambda: ir.Ensemble(SIZES, [0, 1], inits=["he"]), ValueError, "inits"),
])
def test_bad_ensembles_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"optimizer": [ir.SGD()]}, ValueError, "one per model"),
    ({"optimizer": [ir.SGD(), "adam", ir.SGD()]}, TypeError, r"optimizer\[1\]"),
    ({"optimizer": "sgd"}, TypeError, "optimizer"),
    ({"engine": "gpu"}, ValueError, "engine"),
    ({"streams": "random"}, ValueError, "streams"),
    ({"seed": [1, 2]}, ValueError, "seed"),
    ({"epochs": -1}, ValueError, "epochs"),
])
def test_bad_fit_arguments_name_the_argument_and_train_nothing(data, kwargs, error, match):
    ens = ir.Ensemble(SIZES, [0, 1, 2])
    before = [m.parameters.copy() for m in ens]
    with pytest.raises(error, match=match):
        ens.fit(*data, **kwargs)
    for m, b in zip(ens, before):
        np.testing.assert_array_equal(m.parameters, b)


def test_an_optimizer_twice_or_of_another_model_is_refused(data):
    ens = ir.Ensemble(SIZES, [0, 1])
    opt = ir.SGD()
    with pytest.raises(ValueError, match=r"optimizer\[1\] is optimizer\[0\]"):
        ens.fit(*data, optimizer=[opt, opt])
    other = ir.SGD()
    ir.MLP(SIZES).fit(*data, epochs=1, optimizer=other)
    with pytest.raises(ValueError, match=r"optimizer\[1\] \(model 1\).*another model"):
        ens.fit(*data, optimizer=[ir.SGD(), other])


def test_work_beyond_memory_is_refused_with_its_size(data, monkeypatch):
    import initreg._validation as v
    ens = ir.Ensemble(SIZES, range(20))
    monkeypatch.setattr(v, "memory_limit", lambda: 200_000)
    with pytest.raises(ValueError, match=r"20 models .* memory"):
        ens.fit(*data, engine="lanes")


def test_a_second_thread_cannot_train_the_ensemble_at_once(data):
    X, y = np.tile(data[0], (100, 1)), np.tile(data[1], 100)
    ens = ir.Ensemble(SIZES, range(16))
    errors = []
    t = threading.Thread(target=lambda: ens.fit(X, y, epochs=200))
    t.start()
    time.sleep(0.05)
    try:
        ens.fit(X, y, epochs=1)
    except RuntimeError as exc:
        errors.append(str(exc))
    t.join()
    assert errors and "another thread" in errors[0]


def test_ctrl_c_puts_every_model_back_where_the_epoch_began(data):
    X, y = np.tile(data[0], (2000, 1)), np.tile(data[1], 2000)
    ens = ir.Ensemble(SIZES, range(16))
    ens.fit(X[:90], y[:90], epochs=1)
    before = [m.parameters.copy() for m in ens]
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        ens.fit(X, y, epochs=1000, engine="lanes")
    timer.join()
    for m, b in zip(ens, before):
        # whole epochs or none: the epoch under way was rolled back
        assert m.epochs_trained == 1 + m.history_.n_epochs
        if m.history_.n_epochs == 0:
            np.testing.assert_array_equal(m.parameters, b)
        assert m.history_.interrupted and len(m.history_.batch_loss) == \
            m.history_.n_epochs * -(-len(y) // 32)


@pytest.mark.parametrize("sizes, n_models, dtype, lanes", [
    # layers up to 32 x 32: vectors half filled pay
    ([2, 16, 16, 2], 8, "float32", True),
    ([2, 16, 16, 2], 7, "float32", False),
    ([2, 16, 16, 2], 17, "float32", True),   # 17 of 32 lanes
    ([20, 16, 2], 8, "float32", True),
    ([2, 32, 32, 2], 4, "float64", True),
    ([2, 33, 32, 2], 16, "float64", False),  # over 32 x 32 in float64
    # up to 64 x 64 in float32: full vectors
    ([2, 33, 32, 2], 16, "float32", True),
    ([2, 33, 32, 2], 15, "float32", False),
    ([2, 64, 64, 3], 32, "float32", True),
    ([2, 64, 64, 3], 17, "float32", False),  # 17 of 32 lanes
    ([2, 64, 65, 3], 16, "float32", False),
    ([64, 64, 10], 16, "float32", True),
    ([784, 32, 10], 16, "float32", False),
    ([64, 128, 128, 10], 256, "float32", False),
])
def test_auto_trains_in_lanes_where_they_pay(sizes, n_models, dtype, lanes):
    assert ir.ensemble.lanes_pay(sizes, n_models, dtype) is lanes
    if n_models in (8, 16, 32):  # and fit with engine="auto" goes that way
        ens = ir.Ensemble(sizes, range(n_models), dtype=dtype)
        X = np.random.default_rng(0).standard_normal((8, sizes[0]))
        ens.fit(X, np.arange(8) % sizes[-1], epochs=1, batch_size=8)
        assert (ens._engine is not None) is lanes  # only the lanes build it
