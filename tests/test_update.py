"""The fused SGD update against the closed-form formula, element by element."""
import numpy as np
import pytest

from initreg._core import _kernels as K

# float32: a few roundings of operands of size ~1 per step, over 4 steps
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-13, atol=1e-14)}
MODES = {"subgradient": K.L1_SUBGRADIENT, "proximal": K.L1_PROXIMAL,
         "cumulative": K.L1_CUMULATIVE}


def reference_steps(w, grads, *, lr, momentum=0.0, nesterov=False, l1=0.0, l2=0.0,
                    mode="subgradient"):
    """The update rules written out in float64, one step per gradient."""
    w = w.astype(np.float64)
    v = np.zeros_like(w)
    q = np.zeros_like(w)  # cumulative: penalty applied to each weight so far
    u = 0.0               # cumulative: penalty each weight could have had
    for g in grads:
        g_tot = g + 2 * l2 * w
        if mode == "subgradient":
            g_tot = g_tot + l1 * np.sign(w)
        if momentum:
            v = momentum * v + g_tot
            step = g_tot + momentum * v if nesterov else v
        else:
            step = g_tot
        w_half = w - lr * step
        if mode == "proximal":
            w = np.sign(w_half) * np.maximum(np.abs(w_half) - lr * l1, 0.0)
        elif mode == "cumulative":
            u += lr * l1
            w = w_half.copy()
            pos, neg = w_half > 0, w_half < 0
            w[pos] = np.maximum(0.0, w_half[pos] - (u + q[pos]))
            w[neg] = np.minimum(0.0, w_half[neg] + (u - q[neg]))
            q += w - w_half
        else:
            w = w_half
    return w, v, q, u


def run_kernel(w, grads, dtype, *, lr, momentum=0.0, nesterov=False, l1=0.0, l2=0.0,
               mode="subgradient"):
    w = w.astype(dtype)
    v = np.zeros_like(w)
    q = np.zeros_like(w)
    u = 0.0
    for g in grads:
        if mode == "cumulative":
            u += lr * l1
        bad = K.sgd_update(w, g.astype(dtype), v, q, lr=lr, momentum=momentum, l1=l1,
                           l2=l2, cum_u=u, nesterov=nesterov, l1_mode=MODES[mode])
        assert bad == 0
    return w, v, q


def assert_matches_closed_form(w0, grads, dtype, kw):
    """The kernel's steps against the reference's, both from the same
    starting point and gradients, already rounded to ``dtype``."""
    w_ref, v_ref, q_ref, _ = reference_steps(w0, grads, lr=0.1, **kw)
    w, v, q = run_kernel(w0, grads, dtype, lr=0.1, **kw)
    np.testing.assert_allclose(w, w_ref, **TOL[dtype])
    if kw.get("momentum"):
        np.testing.assert_allclose(v, v_ref, **TOL[dtype])
    if kw.get("mode") == "cumulative":
        np.testing.assert_allclose(q, q_ref, **TOL[dtype])


CASES = {
    "plain": dict(),
    "l1": dict(l1=0.05),
    "l2": dict(l2=0.1),
    "l1+l2": dict(l1=0.05, l2=0.1),
    "momentum": dict(momentum=0.9, l2=0.01),
    "nesterov": dict(momentum=0.9, nesterov=True, l1=0.02),
    "proximal": dict(mode="proximal", l1=0.3, l2=0.05),
    "proximal+momentum": dict(mode="proximal", l1=0.3, momentum=0.5),
    "cumulative": dict(mode="cumulative", l1=0.3, l2=0.05),
    "cumulative+nesterov": dict(mode="cumulative", l1=0.3, momentum=0.5, nesterov=True),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_update_matches_closed_form(case, n, dtype, rng):
    kw = CASES[case]
    w0 = rng.normal(0, 0.5, n)
    w0[::5] = 0.0  # sign(0) = 0 must hold
    grads = [rng.normal(0, 1, n) for _ in range(4)]
    assert_matches_closed_form(w0.astype(dtype), [g.astype(dtype) for g in grads], dtype, kw)


def test_sign_of_zero_is_zero(dtype):
    w = np.zeros(4, dtype=dtype)
    K.sgd_update(w, np.zeros(4, dtype=dtype), lr=0.5, l1=1.0, l2=1.0)
    assert (w == 0).all()


@pytest.mark.parametrize("mode", ["proximal", "cumulative"])
def test_thresholding_modes_reach_exact_zeros_and_subgradient_does_not(mode, dtype, rng):
    w0 = rng.normal(0, 0.05, 500)
    grads = [rng.normal(0, 0.01, 500) for _ in range(50)]
    w_sub, _, _ = run_kernel(w0, grads, dtype, lr=0.1, l1=0.05)
    w_thr, _, _ = run_kernel(w0, grads, dtype, lr=0.1, l1=0.05, mode=mode)
    assert (w_thr == 0).mean() > 0.5
    assert (w_sub == 0).sum() == 0


def test_proximal_hand_computed_case(dtype):
    # lr * l1 = 0.1: 0.5 -> 0.4, -0.05 -> 0, 0.1 -> 0 (exactly on the threshold), -2 -> -1.9
    w = np.array([0.5, -0.05, 0.1, -2.0], dtype=dtype)
    K.sgd_update(w, np.zeros(4, dtype=dtype), lr=0.1, l1=1.0, l1_mode=K.L1_PROXIMAL)
    np.testing.assert_allclose(w, [0.4, 0.0, 0.0, -1.9], rtol=1e-6)
    assert w[1] == 0 and w[2] == 0


def test_cumulative_hand_computed_case(dtype):
    # Two steps, lr * l1 = 0.1 each: u = 0.1 then 0.2.
    # w = 0.15, gradient 0: step 1 -> max(0, 0.15 - (0.1 + 0)) = 0.05, q = -0.1;
    #   step 2 -> max(0, 0.05 - (0.2 - 0.1)) = 0 (clipped), q = -0.15.
    # w = -0.3, gradient +1 (-0.1 per step): step 1: min(0, -0.4 + (0.1 - 0)) = -0.3,
    #   q = 0.1; step 2: min(0, -0.4 + (0.2 - 0.1)) = -0.3, q = 0.2.
    w = np.array([0.15, -0.3], dtype=dtype)
    q = np.zeros(2, dtype=dtype)
    g = np.array([0.0, 1.0], dtype=dtype)
    for u in (0.1, 0.2):
        K.sgd_update(w, g, None, q, lr=0.1, l1=1.0, cum_u=u, l1_mode=K.L1_CUMULATIVE)
    np.testing.assert_allclose(w, [0.0, -0.3], atol=1e-6)
    np.testing.assert_allclose(q, [-0.15, 0.2], atol=1e-6)
    assert w[0] == 0


def test_non_finite_results_keep_the_old_value_and_are_counted(dtype):
    w = np.array([1.0, 2.0, 3.0], dtype=dtype)
    g = np.array([np.inf, np.nan, 1.0], dtype=dtype)
    for mode in MODES.values():
        w2 = w.copy()
        bad = K.sgd_update(w2, g, None, np.zeros(3, dtype=dtype), lr=0.1, l1=0.1,
                           l1_mode=mode, cum_u=0.01)
        assert bad == 2
        assert w2[0] == 1.0 and w2[1] == 2.0 and w2[2] != 3.0


def test_matches_pytorch_sgd_where_installed(rng):
    torch = pytest.importorskip("torch")
    n, lr, mu, l2 = 50, 0.05, 0.9, 0.01
    w0 = rng.normal(size=n)
    grads = [rng.normal(size=n) for _ in range(5)]
    for nesterov in (False, True):
        p = torch.nn.Parameter(torch.tensor(w0))
        opt = torch.optim.SGD([p], lr=lr, momentum=mu, nesterov=nesterov, weight_decay=2 * l2)
        for g in grads:
            p.grad = torch.tensor(g)
            opt.step()
        w, _, _ = run_kernel(w0, grads, np.float64, lr=lr, momentum=mu, nesterov=nesterov, l2=l2)
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_non_finite_results_leave_velocity_and_cumulative_penalty_alone(dtype):
    w = np.array([1.0, 2.0], dtype=dtype)
    g = np.array([np.inf, 1.0], dtype=dtype)
    v = np.array([0.5, 0.5], dtype=dtype)
    q = np.array([0.25, 0.25], dtype=dtype)
    bad = K.sgd_update(w, g, v, q, lr=0.1, momentum=0.9, l1=0.1, cum_u=0.2,
                       l1_mode=K.L1_CUMULATIVE)
    assert bad == 1
    assert (w[0], v[0], q[0]) == (1.0, 0.5, 0.25)  # untouched
    assert v[1] != 0.5 and w[1] != 2.0             # the healthy element moved


# From STREAM_BYTES on, the kernel runs its loop in prefetching blocks and
# then a tail (fewer than block + ahead elements) without prefetches.
STREAMING = ["plain", "momentum", "l1+l2", "nesterov", "proximal+momentum", "cumulative",
             "cumulative+nesterov"]


def _streaming_size(dtype, past=1029):
    return K.STREAM_BYTES // np.dtype(dtype).itemsize + past


def _update(w, g, v, q, *, lr=0.1, momentum=0.0, nesterov=False, l1=0.0, l2=0.0,
            mode="subgradient", cum_u=0.0):
    return K.sgd_update(w, g, v, q, lr=lr, momentum=momentum, nesterov=nesterov, l1=l1,
                        l2=l2, cum_u=cum_u, l1_mode=MODES[mode])


def _normal(rng, n, dtype, scale):
    return rng.standard_normal(n, dtype=dtype) * dtype(scale)


@pytest.mark.parametrize("case", ["l1+l2", "cumulative+nesterov"])
def test_arrays_past_the_stream_size_match_closed_form(case, dtype, rng):
    n = _streaming_size(dtype)
    kw = CASES[case]
    w0 = _normal(rng, n, dtype, 0.5)
    w0[::5] = 0.0
    grads = [_normal(rng, n, dtype, 1.0) for _ in range(2)]
    assert_matches_closed_form(w0, grads, dtype, kw)


@pytest.mark.parametrize("case, past", [(case, 1029) for case in STREAMING]
                         + [("cumulative+nesterov", -1), ("cumulative+nesterov", 0),
                            ("plain", 0)])
def test_blocked_loop_equals_the_plain_one(case, past, dtype, rng):
    # The same arrays updated whole (past the stream size: blocks and tail)
    # and in two halves (below it: the plain loop) must agree bit for bit,
    # non-finite results and their count included; past = -1 is just below.
    n = _streaming_size(dtype, past)
    kw = dict(CASES[case], cum_u=0.03)
    w = _normal(rng, n, dtype, 0.5)
    w[::7] = 0.0
    g = _normal(rng, n, dtype, 1.0)
    bad_at = [0, 1, n // 2 - 1, n // 2 + 3, n - 300, n - 2, n - 1]
    g[bad_at] = [np.inf, np.nan, -np.inf, np.nan, np.inf, -np.inf, np.nan]
    v = _normal(rng, n, dtype, 0.1)
    q = _normal(rng, n, dtype, 0.01)
    whole = [a.copy() for a in (w, g, v, q)]
    bad_whole = _update(*whole, **kw)
    half = n // 2
    bad_halves = sum(_update(*(a[sl] for a in (w, g, v, q)), **kw)
                     for sl in (slice(None, half), slice(half, None)))
    assert bad_whole == bad_halves == len(bad_at)
    for got, expected in zip(whole, (w, g, v, q)):
        np.testing.assert_array_equal(got, expected)
