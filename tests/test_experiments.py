"""The experiments return their documented fields, serialise, and show the
physics they exist to show."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import initreg as ir
from initreg import experiments as ex


@pytest.fixture(scope="module")
def tanh_signal():
    return ex.signal_propagation(depth=10, width=256, activation="tanh",
                                 inits=("small", "xavier", "large"), batch=512, n_seeds=2)


def test_signal_fields(tanh_signal):
    r = tanh_signal
    shape = (3, 2, 10)
    for name in ("act_mean", "act_std", "act_second_moment", "pre_std", "grad_std", "saturated",
                 "dead", "pred_linear_std", "pred_mf_pre_std", "pred_mf_act_std",
                 "pred_mf_grad_std"):
        assert getattr(r, name).shape == shape, name
    assert r.hist.shape == (3, 10, r.hist_edges.shape[1] - 1)
    assert (r.hist.sum(axis=2) == 512 * 256).all()
    assert np.isnan(r.dead).all()  # dead units are a ReLU notion


def test_tanh_signal_physics(tanh_signal):
    r = tanh_signal
    small, xavier, large = (r.inits.index(k) for k in ("small", "xavier", "large"))
    assert (r.act_std[xavier, :, -1] > 0.15).all()       # decays slowly
    assert (r.act_std[small, :, -1] < 1e-4).all()        # collapses
    assert (r.saturated[large, :, -1] > 0.8).all()       # saturates
    # the mean-field recursion predicts the measured std (finite-width noise aside)
    np.testing.assert_allclose(r.pred_mf_act_std[xavier], r.act_std[xavier], rtol=0.1)
    np.testing.assert_allclose(r.pred_mf_grad_std[xavier], r.grad_std[xavier], rtol=0.2)
    # N(0, 1): gradients explode towards the input
    assert (r.grad_std[large, :, 0] > 100 * r.grad_std[large, :, -1]).all()


def test_relu_signal_physics():
    r = ex.signal_propagation(depth=30, width=256, activation="relu", inits=("xavier", "he"),
                              batch=512, n_seeds=2)
    xavier, he = r.inits.index("xavier"), r.inits.index("he")
    m = r.act_second_moment
    ratio_he = m[he, :, -1] / m[he, :, 0]
    assert ((ratio_he > 1 / 4) & (ratio_he < 4)).all()
    assert (m[xavier, :, 0] / m[xavier, :, -1] > 1e6).all()
    assert np.isnan(r.saturated).all() and np.isfinite(r.dead).all()


def test_mean_field_fixed_points():
    # ReLU with sigma_w^2 = 2 keeps q (E[relu(sqrt(q) z)^2] = q / 2) after the
    # first layer, which sees the raw inputs: q_1 = 2 q_0 = 2, then 2 forever
    q, _, std = ex.mean_field_variances([2.0] * 5, 1.0, "relu")
    np.testing.assert_allclose(q, 2.0, rtol=1e-6)
    # std of relu(sqrt(2) z): sqrt(E[a^2] - E[a]^2) = sqrt(1 - 1/pi)
    np.testing.assert_allclose(std, np.sqrt(1 - 1 / np.pi), rtol=1e-6)
    # a linear activation multiplies q by sigma_w^2 at every layer
    q, _, _ = ex.mean_field_variances([3.0] * 4, 1.0, "identity")
    np.testing.assert_allclose(q, 3.0 ** np.arange(1, 5), rtol=1e-9)


@pytest.fixture(scope="module")
def init_result():
    return ex.initialization("digits", inits=("zeros", "xavier", "large"), activation="tanh",
                             hidden=(16, 16), epochs=3, n_seeds=2)


def test_initialization_fields_and_symmetry(init_result):
    r = init_result
    assert r.loss.shape == (3, 2, 3) and r.test_acc.shape == (3, 2, 3)
    assert r.act_std.shape == (3, 2, 3, 3) and r.distinct_units.shape == (3, 2, 2)
    zeros, xavier = r.inits.index("zeros"), r.inits.index("xavier")
    assert (r.distinct_units[zeros] == 1).all()
    assert (r.distinct_units[xavier] == 16).all()
    assert r.final_test_acc[xavier].min() > 0.8 > r.final_test_acc[zeros].max()
    assert r.boundary is None  # digits is not 2-D


def test_distinct_units_ignores_rounding_but_not_real_differences():
    import initreg as ir
    net = ir.MLP([5, 4, 2], init="zeros")
    net.weights[0][:] = 0.25
    assert ex.distinct_units(net, 0) == 1
    net.weights[0][2, 1] = np.nextafter(np.float32(0.25), np.float32(1))  # one ulp off
    assert ex.distinct_units(net, 0) == 1
    net.weights[0][2, 1] = 0.26  # a real difference in one weight
    assert ex.distinct_units(net, 0) == 2
    net.biases[0][3] = -0.1  # ... or in one bias
    assert ex.distinct_units(net, 0) == 3
    net.weights[0][0, 0] = np.nan  # NaN: no unit matches another (and the count ends)
    assert ex.distinct_units(net, 0) == 4


def test_initialization_boundaries_on_2d_data():
    r = ex.initialization("moons", inits=("zeros", "he"), hidden=(8,), epochs=5, n_seeds=1,
                          grid_size=30)
    assert r.boundary.shape == (2, 30, 30) and r.grid_x.shape == (30,)
    assert len(np.unique(r.boundary[0])) == 1  # zero init: one class everywhere
    assert r.points.shape[1] == 2


def test_depth_study_shapes_and_he_beats_xavier_deep_relu():
    r = ex.depth_study(depths=(2, 20), activations=("relu",), epochs=8, n_seeds=1, lr=0.002)
    assert r.final_test_acc.shape == (1, 2, 2, 1) and r.loss.shape == (1, 2, 2, 1, 8)
    xavier, he = r.inits.index("xavier"), r.inits.index("he")
    assert r.final_test_acc[0, he, 1, 0] > r.final_test_acc[0, xavier, 1, 0] + 0.2


def test_regularization_l1_zeros_far_more_than_l2():
    r = ex.regularization(lambdas=(1e-3, 1e-2), epochs=8, n_seeds=1, lr=0.05)
    assert r.zero_fraction.shape == (4, 2, 1) and r.hist.shape[:2] == (4, 2)
    l1, l2, none = (r.penalties.index(p) for p in ("l1", "l2", "none"))
    # proximal L1 at lambda = 1e-2 zeroes a good share of the weights (more
    # than a tenth: the point of the experiment), L2 none worth counting
    assert r.zero_fraction[l1, 1, 0] > max(0.1, 20 * r.zero_fraction[l2, 1, 0])
    assert r.zero_fraction[l2, 1, 0] < 0.01 and r.zero_fraction[none, 0, 0] == 0
    assert r.l2_norm[l2, 1, 0] < r.l2_norm[none, 1, 0]
    np.testing.assert_allclose(r.gap, r.train_acc - r.test_acc)


@pytest.mark.parametrize("problem", ["least_squares", "logistic"])
def test_landscape_l1_optimum_reaches_an_axis(problem):
    r = ex.landscape(problem)
    assert r.cost.shape == (len(r.grid_w2), len(r.grid_w1))
    assert r.path_l1.shape == r.path_l2.shape == (len(r.lambdas), 2)
    big = r.lambdas > r.l1_zero_lambda
    assert (r.path_l1[big] == 0).any(axis=1).all()     # L1: a zero coordinate
    assert (r.path_l2[:-1] != 0).all()                  # L2: never exactly zero
    # L2 shrinks monotonically towards the origin
    assert (np.diff(np.linalg.norm(r.path_l2, axis=1)) < 1e-12).all()
    assert (r.opt_l1 == 0).sum() >= 1


def test_results_round_trip_through_json(tanh_signal, init_result):
    for r in (tanh_signal, init_result, ex.landscape()):
        back = type(r).from_json(r.to_json())
        assert back.to_json() == r.to_json()
        np.testing.assert_array_equal(back.act_std if hasattr(r, "act_std") else back.cost,
                                      r.act_std if hasattr(r, "act_std") else r.cost)
        json.loads(r.to_json())  # strict JSON


# ---- sweep -------------------------------------------------------------------------

def _slow_then_fast(a, b, seed):
    # later runs finish first: order must still follow the grid
    import time
    time.sleep(0.02 * (3 - a))
    return {"value": 100 * a + 10 * b + seed, "thread": threading.get_ident()}


def test_sweep_records_in_grid_then_seed_order():
    res = ex.sweep(_slow_then_fast, {"a": [0, 1, 2], "b": [5, 6]}, seeds=[0, 1])
    expected = [(a, b, s) for a in (0, 1, 2) for b in (5, 6) for s in (0, 1)]
    assert [(r["a"], r["b"], r["seed"]) for r in res.records] == expected
    assert res.values("value") == [100 * a + 10 * b + s for a, b, s in expected]


def test_sweep_with_given_executor_and_recorded_errors():
    def fn(x, seed):
        if x == 2:
            raise ValueError("boom")
        return x * 10 + seed

    with ThreadPoolExecutor(1) as pool:
        res = ex.sweep(fn, {"x": [1, 2, 3]}, seeds=[0], executor=pool, on_error="record")
    assert [r["result"] for r in res.records] == [10, None, 30]
    assert "boom" in res.records[1]["error"] and len(res.errors) == 1
    with pytest.raises(ValueError, match="boom"):
        ex.sweep(fn, {"x": [1, 2]}, seeds=[0])
    with pytest.raises(ValueError, match="reserved"):
        ex.sweep(fn, {"seed": [1]})


def test_sweep_of_training_runs_is_reproducible():
    def run(lr, seed):
        import initreg as ir
        X, y = ir.datasets.load_digits()
        net = ir.MLP([64, 32, 10], seed=seed)
        net.fit(X, y, epochs=2, optimizer=ir.SGD(lr=lr))
        return net.parameters.copy()

    a = ex.sweep(run, {"lr": [0.01, 0.1]}, seeds=[0, 1])
    b = ex.sweep(run, {"lr": [0.01, 0.1]}, seeds=[0, 1], max_workers=1)
    for ra, rb in zip(a.records, b.records):
        np.testing.assert_array_equal(ra["result"], rb["result"])


def test_weight_decay_grid_shapes_and_what_l1_does_under_adam():
    r = ex.weight_decay(lrs=(0.01, 0.1), strengths=(1e-4, 1e-2), epochs=4, n_seeds=1,
                        l1s=(1e-4, 0.1), l1_lr=1e-2, n_train=300)
    assert r.test_error.shape == (4, 2, 2, 1) and r.l1_test_acc.shape == (3, 2, 1)
    assert set(r.best) == set(r.methods)
    s = r.summary()
    for m in r.methods:
        assert 0 <= s[m]["best_test_error"] <= 1
        assert s[m]["weight_norm_at_best"] > 0
    # L1 under Adam: the proximal forms zero weights, the subgradient none
    zeros = r.l1_zero_fraction[:, -1, 0]
    assert zeros[r.l1_modes.index("subgradient")] == 0
    assert min(zeros[r.l1_modes.index("proximal")],
               zeros[r.l1_modes.index("proximal_preconditioned")]) > 0.05
    assert np.all(r.l1_zero_fraction[:, -1] >= r.l1_zero_fraction[:, 0])
    back = type(r).from_json(r.to_json())
    np.testing.assert_array_equal(back.test_error, r.test_error)
    assert back.valley("adamw")[1] == r.valley("adamw")[1] or np.isnan(r.valley("adamw")[1])


def _synthetic_weight_decay(best_log_strength, lrs, strengths, noise=0.0, n_seeds=3):
    """A WeightDecayResult whose test error is a parabola in log(strength)
    around best_log_strength(lr) (flat where that is None), plus seeded noise."""
    logs = np.log10(strengths)
    rng = np.random.default_rng(0)
    err = np.array([[[0.1 if best_log_strength(lr) is None
                      else 0.1 + 0.01 * (ls - best_log_strength(lr)) ** 2 for ls in logs]
                     for lr in lrs]])
    err = err[..., None] + noise * rng.standard_normal((1, len(lrs), len(strengths), n_seeds))
    zeros = np.zeros((0, 0, n_seeds))
    return ex.WeightDecayResult(
        dataset="synthetic", layer_sizes=[2, 2], methods=["sgd+l2"], lrs=list(lrs),
        adam_lr_scale=1.0, strengths=list(strengths), seeds=list(range(n_seeds)), epochs=1,
        n_train=1, test_error=err, train_error=err, weight_norm=err, zero_fraction=err,
        diverged=np.zeros(err.shape, bool), l1_modes=[], l1s=[], l1_lr=1e-3,
        l1_test_acc=zeros, l1_zero_fraction=zeros)


@pytest.mark.parametrize("slope", [-1.0, 0.0, 0.5])
def test_weight_decay_valley_slope_recovers_a_known_coupling(slope):
    lrs = np.geomspace(1e-3, 1e-1, 5)
    strengths = np.geomspace(1e-6, 1, 13)
    r = _synthetic_weight_decay(lambda lr: -3 + slope * (np.log10(lr) + 2), lrs, strengths)
    best, measured = r.valley("sgd+l2")
    assert measured == pytest.approx(slope, abs=0.02)
    np.testing.assert_allclose(np.log10(best), -3 + slope * (np.log10(lrs) + 2), atol=0.02)
    assert r.best["sgd+l2"][0] in range(5)


def test_weight_decay_valley_leaves_out_rows_where_regularization_does_not_matter():
    lrs, strengths = (1e-3, 1e-2, 1e-1, 1.0), np.geomspace(1e-4, 1e-1, 7)
    r = _synthetic_weight_decay(lambda lr: None if lr < 0.5 else -2.5, lrs, strengths)
    best, slope = r.valley("sgd+l2")
    assert np.isnan(best[:3]).all() and np.isnan(slope)  # one row left: no slope
    r = _synthetic_weight_decay(lambda lr: None if lr < 0.005 else -3.5 - np.log10(lr) / 2,
                                lrs, strengths)
    best, slope = r.valley("sgd+l2")
    assert np.isnan(best[0]) and slope == pytest.approx(-0.5, abs=0.02)
    # the same gain of 0.01 counts when the seeds agree, not when they scatter
    r = _synthetic_weight_decay(lambda lr: None, lrs, strengths, n_seeds=2)
    r.test_error[0, :, 3] = [0.09, 0.09]
    r.test_error[0, 1, 3] = [0.06, 0.12]
    best, _ = r.valley("sgd+l2")
    assert np.isnan(best[1]) and np.isfinite(best[[0, 2, 3]]).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"methods": ("rmsprop",)}, "methods"), ({"methods": ()}, "methods"),
    ({"strengths": (1e-3, 1.0)}, "strengths"), ({"strengths": (0.0,)}, "strengths"),
    ({"lrs": (-0.1,)}, "lrs"), ({"lrs": ()}, "lrs"), ({"l1s": (float("nan"),)}, "l1s"),
    ({"adam_lr_scale": 0}, "adam_lr_scale"), ({"l1_modes": ("soft",)}, "l1_mode"),
])
def test_weight_decay_refuses_bad_grids_before_training(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.weight_decay(**kwargs)


@pytest.mark.parametrize("sizes, n, workers, dtype, lengths", [
    # small layers: half-filled vectors (8 of 16 float32 lanes) pay, a part per worker
    ([2, 16, 2], 18, 2, "float32", [9, 9]),
    ([2, 16, 2], 25, 3, "float32", [8, 8, 9]),
    ([2, 16, 2], 10, 4, "float32", [10]),       # one part beats ten runs on four workers
    ([2, 16, 2], 600, 2, "float32", [200, 200, 200]),  # up to max_models = 256 each
    ([2, 16, 2], 7, 1, "float32", [1] * 7),
    ([2, 16, 2], 6, 1, "float64", [6]),
    ([2, 16, 2], 22, 5, "float64", [4, 4, 5, 4, 5]),  # none under half a vector (4)
    # 64 x 64 layers want vectors three quarters full, and parts that fill the workers
    ([2, 64, 64, 3], 64, 2, "float32", [32, 32]),
    ([2, 64, 64, 3], 48, 3, "float32", [16, 16, 16]),
    ([2, 64, 64, 3], 40, 2, "float32", [1] * 40),  # 20 models in 32 lanes
    ([2, 64, 64, 3], 18, 2, "float32", [1] * 18),
    ([2, 64, 64, 3], 16, 1, "float32", [16]),
    ([2, 128, 128, 3], 64, 2, "float32", [1] * 64),  # never in lanes
])
def test_runs_train_together_where_the_lanes_pay_and_the_workers_stay_busy(
        sizes, n, workers, dtype, lengths):
    parts = ex._sweep.lane_parts(range(n), sizes, dtype, workers, max_models=256)
    assert [len(p) for p in parts] == lengths
    assert sorted(i for p in parts for i in p) == list(range(n))


def test_sweep_training_gives_the_records_of_one_run_at_a_time():
    # 2-16-2 models: small enough for the lanes, so the 16 runs train together
    data = ex.load_dataset("moons", seed=0)
    sizes = [2, 16, 2]

    def spec(lr, seed):
        return ex.TrainSpec(sizes, "tanh", "he", seed, ir.SGD(lr=lr, momentum=0.9), 5, 16,
                            dtype="float64")

    def finish(net, hist, scores, lr, seed):
        return {"weights": net.parameters.copy(), "loss": hist.loss[-1], **scores}

    together = ex.sweep_training(spec, finish, {"lr": [0.01, 0.05, 0.1, 0.2]}, data=data,
                                 seeds=range(4), max_workers=1)

    def run(lr, seed):
        s = spec(lr, seed)
        net, hist, scores = ex._common.train_model(
            data, s.sizes, activation=s.activation, init=s.init, seed=seed,
            optimizer=s.optimizer, epochs=s.epochs, batch_size=s.batch_size, dtype=s.dtype)
        return finish(net, hist, scores, lr, seed)

    alone = ex.sweep(run, {"lr": [0.01, 0.05, 0.1, 0.2]}, seeds=range(4), max_workers=1)
    for a, b in zip(together.records, alone.records):
        assert (a["lr"], a["seed"]) == (b["lr"], b["seed"])
        np.testing.assert_allclose(a["result"]["weights"], b["result"]["weights"], rtol=0,
                                   atol=1e-12)
        assert a["result"]["test_acc"] == b["result"]["test_acc"]
    np.testing.assert_array_equal(together.array("loss").shape, (4, 4))
