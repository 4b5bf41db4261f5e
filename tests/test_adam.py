"""Adam and AdamW, and SGD's decoupled weight decay: the fused update against
a NumPy transcription of the formulas, whole training runs against
torch.optim step by step, the two propositions of Loshchilov & Hutter (2019),
exact zeros, bad settings."""
import numpy as np
import pytest
from reference import forward_backward

import initreg as ir
from initreg._core import _kernels as K
from initreg._vocabulary import L1_MODES

# Four steps with operands up to a few units (weights of N(0, 1), thresholds
# up to lr * l1 / eps = 1): a few roundings of ulp(4) per step, absolute
TOL = {np.float32: dict(rtol=2e-6, atol=1e-5), np.float64: dict(rtol=1e-13, atol=2e-14)}


def numpy_adam(w, grads, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, l1=0.0, l2=0.0,
               weight_decay=0.0, amsgrad=False, mode="subgradient"):
    """The documented Adam / AdamW update, written out in float64."""
    w = w.astype(np.float64)
    m, v, vmax = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g + 2 * l2 * w + (l1 * np.sign(w) if mode == "subgradient" else 0)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        vmax = np.maximum(vmax, v)
        denom = np.sqrt((vmax if amsgrad else v) / (1 - beta2**t)) + eps
        w = w * (1 - lr * weight_decay) - lr / (1 - beta1**t) * m / denom
        if mode in ("proximal", "proximal_preconditioned"):
            thr = lr * l1 / (denom if mode == "proximal_preconditioned" else 1.0)
            w = np.sign(w) * np.maximum(np.abs(w) - thr, 0.0)
    return w, m, v, vmax


CASES = {
    "plain": dict(), "l2": dict(l2=0.05), "decay": dict(weight_decay=0.3),
    "amsgrad": dict(amsgrad=True, l2=0.01), "subgradient": dict(l1=0.01),
    "proximal": dict(l1=0.05, mode="proximal", weight_decay=0.1),
    "preconditioned": dict(l1=0.002, mode="proximal_preconditioned", amsgrad=True),
    "everything": dict(l1=0.01, l2=0.02, weight_decay=0.05, amsgrad=True,
                       mode="proximal_preconditioned", beta1=0.5, beta2=0.9, eps=1e-3),
}


# every case on short arrays; past IR_STREAM_BYTES (the prefetching blocks,
# the same loop) two of them
SIZES = [(case, n) for case in CASES for n in (1, 37)] + \
    [("plain", "stream"), ("everything", "stream")]


@pytest.mark.parametrize("case, n", SIZES, ids=[f"{c}-{n}" for c, n in SIZES])
def test_adam_update_is_the_documented_formula(case, n, dtype, rng):
    kw = CASES[case]
    if n == "stream":  # just past IR_STREAM_BYTES (16 MiB) per array
        n = (16 << 20) // np.dtype(dtype).itemsize + 1001
    w0 = rng.normal(size=n).astype(dtype)
    grads = [rng.normal(size=n).astype(dtype) for _ in range(4)]
    w_ref, m_ref, v_ref, vmax_ref = numpy_adam(w0, grads, lr=0.1, **kw)
    w, m, v, vmax = w0.copy(), *(np.zeros(n, dtype) for _ in range(3))
    args = {k: val for k, val in kw.items() if k != "mode"}
    for t, g in enumerate(grads, start=1):
        assert K.adam_update(w, g, m, v, vmax, lr=0.1, step=t,
                             l1_mode=L1_MODES[kw.get("mode", "subgradient")].code,
                             **args) == 0
    np.testing.assert_allclose(w, w_ref, **TOL[dtype])
    np.testing.assert_allclose(m, m_ref, **TOL[dtype])
    np.testing.assert_allclose(v, v_ref, **TOL[dtype])
    if kw.get("amsgrad"):
        np.testing.assert_allclose(vmax, vmax_ref, **TOL[dtype])


def test_sgd_weight_decay_is_the_documented_formula(dtype, rng):
    w0 = rng.normal(size=101).astype(dtype)
    g = rng.normal(size=101).astype(dtype)
    w, v = w0.copy(), np.zeros(101, dtype)
    K.sgd_update(w, g, v, lr=0.1, momentum=0.9, weight_decay=0.5, l1=0.03,
                 l1_mode=K.L1_PROXIMAL)
    w64 = w0.astype(np.float64)
    half = w64 * (1 - 0.05) - 0.1 * g
    expected = np.sign(half) * np.maximum(np.abs(half) - 0.003, 0)
    np.testing.assert_allclose(w, expected, **TOL[dtype])


def test_non_finite_adam_results_leave_every_array_alone(dtype):
    w = np.array([1.0, 2.0, 3.0], dtype)
    g = np.array([0.1, np.inf, 0.2], dtype)
    m, v, vmax = (np.array([0.5, 0.5, 0.5], dtype) for _ in range(3))
    before = [a.copy() for a in (w, m, v, vmax)]
    bad = K.adam_update(w, g, m, v, vmax, lr=0.1, step=3, amsgrad=True)
    assert bad == 1
    for now, old in zip((w, m, v, vmax), before):
        assert now[1] == old[1]  # the infinite gradient's element is untouched
        assert now[0] != old[0] or now is vmax  # the others moved


def test_decaying_moments_flush_to_zero_and_the_callers_mode_is_restored(dtype):
    # a dead unit's gradient is 0: its moments decay geometrically; below the
    # smallest normal number they become 0, not subnormals (which would slow
    # every later step down); the velocity of SGD's momentum likewise
    tiny = np.finfo(dtype).tiny
    w, g = np.ones(40, dtype), np.zeros(40, dtype)
    m, v = np.full(40, 1.05 * tiny, dtype), np.full(40, 1.0, dtype)
    K.adam_update(w, g, m, v, lr=1e-3, step=5)
    np.testing.assert_array_equal(m, 0)  # 0.9 * 1.05 tiny would be subnormal
    assert np.all(v == dtype(0.999))
    vel = np.full(40, 1.05 * tiny, dtype)
    K.sgd_update(w, g, vel, lr=0.1, momentum=0.5)
    np.testing.assert_array_equal(vel, 0)
    # the flush was the update's alone: NumPy still makes subnormals here
    assert np.multiply(np.array(1.05 * tiny, dtype), dtype(0.5)) > 0


def test_proximal_forms_give_exact_zeros_and_the_subgradient_does_not(rng):
    X, y = ir.datasets.load_digits()
    zeros = {}
    # the plain proximal step thresholds by lr l1 while Adam's steps are about
    # lr: it needs a larger l1 than the preconditioned one, whose threshold
    # lr l1 / denom is large where the gradients are small
    for mode, l1 in (("subgradient", 1e-2), ("proximal", 3e-2),
                     ("proximal_preconditioned", 1e-3)):
        net = ir.MLP([64, 32, 10], activation="relu", seed=0)
        net.fit(X, y, epochs=10, optimizer=ir.Adam(lr=0.01, l1=l1, l1_mode=mode), seed=0)
        w = np.concatenate([x.ravel() for x in net.weights])
        zeros[mode] = float(np.mean(w == 0))
    assert zeros["subgradient"] < 0.01
    assert zeros["proximal"] > 0.1 and zeros["proximal_preconditioned"] > 0.1, zeros


# ---- against PyTorch ----------------------------------------------------------------

def _torch_twin(torch, net, dtype):
    layers = []
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        lin = torch.nn.Linear(*w.shape, dtype=torch.float64 if dtype == np.float64
                              else torch.float32)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(lin)
        if i < net.n_layers - 1:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


TORCH = {  # initreg's optimizer, torch's class, torch's settings
    "adam": (lambda: ir.Adam(lr=0.01, betas=(0.8, 0.99)), "Adam",
             dict(lr=0.01, betas=(0.8, 0.99))),
    "adam-l2": (lambda: ir.Adam(lr=0.01, l2=0.02), "Adam", dict(lr=0.01, weight_decay=0.04)),
    "adam-amsgrad": (lambda: ir.Adam(lr=0.01, amsgrad=True, eps=1e-6), "Adam",
                     dict(lr=0.01, amsgrad=True, eps=1e-6)),
    "adamw": (lambda: ir.AdamW(lr=0.01, weight_decay=0.1), "AdamW",
              dict(lr=0.01, weight_decay=0.1)),
    "adamw-amsgrad": (lambda: ir.AdamW(lr=0.01, amsgrad=True), "AdamW",
                      dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    "sgd-momentum": (lambda: ir.SGD(lr=0.05, momentum=0.9, l2=0.01), "SGD",
                     dict(lr=0.05, momentum=0.9, weight_decay=0.02)),
    "sgd-nesterov": (lambda: ir.SGD(lr=0.05, momentum=0.8, nesterov=True), "SGD",
                     dict(lr=0.05, momentum=0.8, nesterov=True)),
}


@pytest.mark.parametrize("case", list(TORCH))
def test_a_hundred_steps_agree_with_torch_optim(case, dtype, rng):
    torch = pytest.importorskip("torch")
    make, name, theirs = TORCH[case]
    ours, theirs = make(), dict(theirs)
    net = ir.MLP([12, 16, 16, 5], dtype=dtype, seed=3)
    for b in net.biases:
        b[...] = rng.normal(0, 0.1, b.shape)
    model = _torch_twin(torch, net, dtype)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    # the penalty and the decay on the weights only, as initreg applies them
    decay = theirs.pop("weight_decay", 0.0)
    groups = [{"params": weights, "weight_decay": decay},
              {"params": biases, "weight_decay": 0.0}]
    topt = getattr(torch.optim, name)(groups, **theirs)
    X = rng.normal(size=(100 * 8, 12)).astype(dtype)
    y = rng.integers(0, 5, 100 * 8)
    for s in range(100):
        xb, yb = X[8 * s: 8 * s + 8], y[8 * s: 8 * s + 8]
        net.step(xb, yb, ours)
        topt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)),
                                          torch.from_numpy(yb)).backward()
        topt.step()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for w, b, lin in zip(net.weights, net.biases, model[::2]):
        np.testing.assert_allclose(w, lin.weight.detach().numpy().T, **tol)
        np.testing.assert_allclose(b, lin.bias.detach().numpy(), **tol)


@pytest.mark.parametrize("mode", ["subgradient", "proximal", "proximal_preconditioned"])
def test_l1_under_adam_agrees_with_a_numpy_transcription(mode, rng):
    """No library has these: a NumPy network (tests/reference.py) trained
    with numpy_adam's formulas, step by step, in float64."""
    net = ir.MLP([6, 8, 3], activation="tanh", dtype="float64", seed=4)
    weights = [w.astype(np.float64) for w in net.weights]
    biases = [b.astype(np.float64) for b in net.biases]
    opt = ir.Adam(lr=0.02, l1=0.003, l2=0.001, weight_decay=0.05, l1_mode=mode, amsgrad=True)
    state = {}
    X = rng.normal(size=(50 * 5, 6))
    y = rng.integers(0, 3, 50 * 5)
    for t in range(1, 51):
        xb, yb = X[5 * t - 5: 5 * t], y[5 * t - 5: 5 * t]
        net.step(xb, yb, opt)
        _, grads = forward_backward(weights, biases, ["tanh"], "softmax", xb, yb)
        for i, (dw, db) in enumerate(grads):
            weights[i] = _adam_element(state, ("w", i), weights[i], dw, t, mode, penalised=True)
            biases[i] = _adam_element(state, ("b", i), biases[i], db, t, mode, penalised=False)
    for w, ref in zip(net.weights, weights):
        np.testing.assert_allclose(w, ref, rtol=1e-10, atol=1e-12)
    for b, ref in zip(net.biases, biases):
        np.testing.assert_allclose(b, ref, rtol=1e-10, atol=1e-12)


def _adam_element(state, key, w, g, t, mode, *, penalised, lr=0.02, l1=0.003, l2=0.001, wd=0.05):
    m, v, vmax = state.get(key, (np.zeros_like(w),) * 3)
    if penalised:
        g = g + 2 * l2 * w + (l1 * np.sign(w) if mode == "subgradient" else 0)
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    vmax = np.maximum(vmax, v)
    denom = np.sqrt(vmax / (1 - 0.999**t)) + 1e-8
    w = w * (1 - lr * wd if penalised else 1) - lr / (1 - 0.9**t) * m / denom
    if penalised and mode != "subgradient":
        thr = lr * l1 / (denom if mode == "proximal_preconditioned" else 1)
        w = np.sign(w) * np.maximum(np.abs(w) - thr, 0)
    state[key] = (m, v, vmax)
    return w


# ---- Loshchilov & Hutter (2019) ------------------------------------------------------

def _trajectory(opt, steps=40, seed=5):
    rng = np.random.default_rng(seed)
    net = ir.MLP([10, 16, 4], activation="tanh", dtype="float64", seed=1)
    X = rng.normal(size=(steps * 8, 10)) * np.linspace(0.1, 3.0, 10)  # uneven scales
    y = rng.integers(0, 4, steps * 8)
    out = []
    for s in range(steps):
        net.step(X[8 * s: 8 * s + 8], y[8 * s: 8 * s + 8], opt)
        out.append(net.parameters.copy())
    return np.array(out)


def test_plain_sgd_l2_and_weight_decay_take_the_same_steps():
    """Proposition 1: for SGD, L2 with lambda is decoupled decay with 2 lambda."""
    for lam in (1e-3, 0.05):
        a = _trajectory(ir.SGD(lr=0.1, momentum=0.0, l2=lam))
        b = _trajectory(ir.SGD(lr=0.1, momentum=0.0, weight_decay=2 * lam))
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_no_l2_under_adam_reproduces_adamw():
    """Proposition 2: with a preconditioner that is not a multiple of the
    identity (uneven input scales), no L2 coefficient gives AdamW's steps."""
    target = _trajectory(ir.AdamW(lr=0.01, weight_decay=0.5))
    plain = _trajectory(ir.Adam(lr=0.01))
    gaps = [np.abs(_trajectory(ir.Adam(lr=0.01, l2=lam)) - target).max()
            for lam in np.geomspace(1e-5, 1.0, 26)]
    decay_effect = np.abs(plain - target).max()
    assert min(gaps) > 0.05 * decay_effect, (min(gaps), decay_effect)


# ---- bad settings -----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    (dict(betas=(1.0, 0.999)), r"betas\[0\]"), (dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (dict(betas=0.9), "betas"), (dict(betas=(0.9,)), "betas"),
    (dict(eps=-1.0), "eps"), (dict(eps=float("nan")), "eps"), (dict(lr=0.0), "lr"),
    (dict(lr=float("inf")), "lr"), (dict(l1=-1.0), "l1"), (dict(l2=float("nan")), "l2"),
    (dict(weight_decay=-0.1), "weight_decay"), (dict(l1_mode="cumulative"), "l1_mode"),
    (dict(amsgrad=1), "amsgrad"), (dict(momentum=0.9), "momentum"),
    (dict(lr=0.5, weight_decay=3.0), "weight_decay"),
])
def test_bad_adam_settings_name_the_argument(kwargs, words):
    for cls in (ir.Adam, ir.AdamW):
        with pytest.raises((ValueError, TypeError), match=words):
            cls(**kwargs)


def test_an_adam_state_of_another_model_is_refused_and_changes_nothing():
    X, y = ir.datasets.load_digits()
    net = ir.MLP([64, 8, 10], seed=0)
    opt = ir.AdamW(amsgrad=True)
    net.fit(X, y, epochs=1, optimizer=opt)
    d = opt.state_dict()
    assert set(d["buffers"]) == {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    for other in (ir.MLP([64, 9, 10], seed=0), ir.MLP([64, 8, 10], dtype="float64", seed=0)):
        before = other.parameters.copy()
        with pytest.raises(ValueError, match="layers"):
            other.fit(X, y, epochs=1, optimizer=ir.AdamW().load_state_dict(d))
        np.testing.assert_array_equal(other.parameters, before)
    with pytest.raises(ValueError, match="not Adam"):
        ir.Adam().load_state_dict(d)  # an AdamW's state
