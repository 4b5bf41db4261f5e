"""Every elementwise C kernel against a plain NumPy reference, both dtypes,
odd shapes and batches of one."""
import ctypes

import numpy as np
import pytest

from initreg._core import _kernels as K

from conftest import RTOL
from reference import act, act_grad, data_loss

SHAPES = [(1, 1), (1, 17), (7, 13), (33, 1), (64, 130)]
ACTS = {"identity": K.IDENTITY, "tanh": K.TANH, "sigmoid": K.SIGMOID,
        "relu": K.RELU, "leaky_relu": K.LEAKY_RELU}
# The stated error bounds of the vectorised exp / tanh / sigmoid, in units in
# the last place of the result's precision.  float32 tanh is a rational
# minimax fit (measured max 5.5 ulp, near |x| = 7.5 where the result is within
# 1e-6 of 1); tanh (float64) and sigmoid are built on a Pade approximant of
# exp (float64: 3.4 and 2.43 ulp against long double, tested below; float32
# sigmoid 2.46); exp measured 3.
MAX_ULP = {("tanh", np.float32): 6}
DEFAULT_MAX_ULP = 4


def ulp_error(got, exact, dtype):
    # in float64, or in the reference's own precision when it is finer (long double)
    work = np.result_type(exact, np.float64)
    exact = np.asarray(exact, dtype=work)
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(work)
    # below the smallest normal, measure against its spacing
    spacing = np.maximum(spacing, np.spacing(np.finfo(dtype).tiny))
    return np.abs(got.astype(work) - exact) / spacing


def _grid(dtype, lo, hi, rng):
    dense = np.linspace(lo, hi, 400_001)
    tiny = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 1e-3, -1e-3])
    wide = rng.uniform(lo, hi, 100_000)
    return np.concatenate([dense, tiny, wide]).astype(dtype)


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_elementary_functions_within_stated_ulp_bound(name, dtype, rng):
    lo, hi = {"exp": (-80, 88) if dtype == np.float32 else (-700, 709),
              "tanh": (-25, 25), "sigmoid": (-80, 80)}[name]
    x = _grid(dtype, lo, hi, rng)
    exact = {"exp": np.exp, "tanh": np.tanh,
             "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[name](x.astype(np.float64))
    got = getattr(K, name)(x)
    assert got.dtype == dtype
    err = ulp_error(got, exact, dtype)
    bound = MAX_ULP.get((name, dtype), DEFAULT_MAX_ULP)
    assert err.max() <= bound, f"{name}: {err.max():.2f} ulp at x={x[err.argmax()]!r}"


@pytest.mark.skipif(np.finfo(np.longdouble).nmant <= 52,
                    reason="needs an extended-precision long double as the exact value")
@pytest.mark.parametrize("name, bound", [("tanh", 3.5), ("sigmoid", 3.0)])
def test_float64_pade_functions_against_long_double(name, bound, rng):
    # NumPy's float64 tanh and exp are themselves off by up to an ulp, so the
    # test above allows 4; against long double (64-bit mantissa) the Pade
    # forms measured 3.4 (tanh) and 2.43 ulp (sigmoid) at most on 12-16M
    # points, 3.08 and 2.39 on these.  Densest on [-1.5, 1.5], where the
    # largest errors were found (tanh's near |x| = 0.176, n = 1, r ~ -ln2/2).
    x = np.concatenate([np.linspace(-1.5, 1.5, 1_000_001), rng.uniform(-40, 40, 500_000),
                        np.geomspace(1e-300, 1, 100_000)])
    xl = x.astype(np.longdouble)
    exact = np.tanh(xl) if name == "tanh" else 1 / (1 + np.exp(-xl))
    err = ulp_error(getattr(K, name)(x), exact, np.float64)
    assert err.max() <= bound, f"{float(err.max()):.2f} ulp at x={x[err.argmax()]!r}"


def test_sigmoid_where_exp_of_minus_x_overflows(dtype):
    # Near x = -ln(MAX), 2^n P(r) inside the sigmoid reaches the overflow:
    # the result must stay finite, non-negative and non-decreasing, keep its
    # accuracy (subnormals included) while nothing overflows, and be 0 beyond.
    top = float(np.log(np.finfo(dtype).max))
    x = np.linspace(-top - 2, -top + 2, 4001).astype(dtype)
    y = K.sigmoid(x)
    assert np.all(np.isfinite(y)) and np.all(y >= 0) and np.all(np.diff(y) >= 0)
    assert np.all(y[x < -top - 0.5] == 0)
    inside = x >= -top + 0.5
    exact = 1 / (1 + np.exp(-x[inside].astype(np.longdouble)))
    assert ulp_error(y[inside], exact, dtype).max() <= DEFAULT_MAX_ULP


def test_tanh_is_accurate_relative_to_tiny_arguments(dtype):
    # Activations of a too-small init are ~1e-6: relative accuracy matters there.
    x = np.geomspace(1e-20, 1e-2, 1000).astype(dtype)
    rel = np.abs(K.tanh(x).astype(np.float64) / np.tanh(x.astype(np.float64)) - 1)
    assert rel.max() < 4 * np.finfo(dtype).eps


def test_limits_and_special_values(dtype):
    x = np.array([-1e4, 1e4, -np.inf, np.inf, np.nan, 0.0], dtype=dtype)
    np.testing.assert_array_equal(K.tanh(x)[:4], [-1, 1, -1, 1])
    np.testing.assert_array_equal(K.sigmoid(x)[:4], [0, 1, 0, 1])
    np.testing.assert_array_equal(K.exp(x)[:4], [0, np.inf, 0, np.inf])
    for f in (K.tanh, K.sigmoid, K.exp):
        assert np.isnan(f(x)[4])
    assert K.tanh(x)[5] == 0 and K.sigmoid(x)[5] == 0.5 and K.exp(x)[5] == 1
    assert np.signbit(K.tanh(np.array([-0.0], dtype=dtype))[0])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(ACTS))
def test_bias_activation_matches_numpy(name, shape, dtype, rng):
    z = rng.normal(0, 3, shape).astype(dtype)
    b = rng.normal(0, 1, shape[1]).astype(dtype)
    expected = act(z.astype(np.float64) + b.astype(np.float64), name, 0.1)
    K.bias_activation(z, b, ACTS[name], 0.1)
    np.testing.assert_allclose(z, expected, rtol=RTOL[dtype] * 10, atol=RTOL[dtype])


def test_relu_propagates_nan(dtype):
    z = np.array([[np.nan, -1.0, 2.0]], dtype=dtype)
    K.bias_activation(z, np.zeros(3, dtype=dtype), K.RELU)
    assert np.isnan(z[0, 0]) and z[0, 1] == 0 and z[0, 2] == 2


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(ACTS))
def test_activation_backward_matches_numpy(name, shape, dtype, rng):
    zz = rng.normal(0, 2, shape)
    a = act(zz, name, 0.1).astype(dtype)
    d = rng.normal(0, 1, shape).astype(dtype)
    # f' from the stored activation, as the kernel does
    ref = d.astype(np.float64) * act_grad(zz, name, 0.1)
    colsum = K.activation_backward(d, a, ACTS[name], 0.1)
    np.testing.assert_allclose(d, ref, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(colsum, ref.sum(axis=0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 2), (5, 3), (32, 10), (17, 129)])
def test_softmax_xent_matches_numpy(shape, dtype, rng):
    z = rng.normal(0, 4, shape).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    loss_sum, dz, colsum, correct = K.softmax_xent(z, t)
    ref_loss, ref_dz = data_loss(z, t, "softmax")
    np.testing.assert_allclose(loss_sum / shape[0], ref_loss, rtol=RTOL[dtype] * 10)
    np.testing.assert_allclose(dz, ref_dz, rtol=1e-4, atol=RTOL[dtype] / shape[0])
    np.testing.assert_allclose(colsum, ref_dz.sum(0), atol=1e-5)
    assert correct == int((z.argmax(1) == t).sum())


def test_softmax_xent_is_finite_for_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    loss_sum, dz, _, _ = K.softmax_xent(z, np.array([1, 0]))
    # row 0: lse = 1e4, label logit -1e4 -> 2e4; row 1: log 3
    np.testing.assert_allclose(loss_sum, 2e4 + np.log(3), rtol=1e-6)
    assert np.isfinite(dz).all()


@pytest.mark.parametrize("shape", [(1, 1), (9, 1), (6, 4)])
def test_sigmoid_bce_matches_numpy(shape, dtype, rng):
    z = rng.normal(0, 4, shape).astype(dtype)
    t = rng.integers(0, 2, shape).astype(dtype)
    loss_sum, dz, colsum, correct = K.sigmoid_bce(z, t)
    ref_loss, ref_dz = data_loss(z, t, "sigmoid")
    np.testing.assert_allclose(loss_sum / z.size, ref_loss, rtol=RTOL[dtype] * 10)
    np.testing.assert_allclose(dz, ref_dz, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(colsum, ref_dz.sum(0), rtol=1e-4, atol=1e-6)
    assert correct == int(((z > 0) == (t > 0.5)).sum())
    big = np.array([[1e4], [-1e4]], dtype=dtype)
    loss_big, dz_big, _, _ = K.sigmoid_bce(big, np.array([[0.0], [0.0]], dtype=dtype))
    assert loss_big == pytest.approx(1e4) and np.isfinite(dz_big).all()


@pytest.mark.parametrize("shape", [(1, 1), (9, 2), (16, 5)])
def test_mse_matches_numpy(shape, dtype, rng):
    z = rng.normal(size=shape).astype(dtype)
    t = rng.normal(size=shape).astype(dtype)
    loss_sum, dz, colsum = K.mse(z, t)
    ref_loss, ref_dz = data_loss(z, t.astype(np.float64), "linear")
    np.testing.assert_allclose(loss_sum / z.size, ref_loss, rtol=RTOL[dtype] * 10)
    np.testing.assert_allclose(dz, ref_dz, rtol=1e-5)
    np.testing.assert_allclose(colsum, ref_dz.sum(0), rtol=1e-4, atol=1e-6)


def test_softmax_rows(dtype, rng):
    z = rng.normal(0, 10, (7, 5)).astype(dtype)
    e = np.exp(z.astype(np.float64) - z.max(1, keepdims=True))
    K.softmax_rows(z)
    np.testing.assert_allclose(z, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_penalty_and_moments(dtype, rng):
    w = rng.normal(size=101).astype(dtype)
    w[::10] = 0
    g = rng.normal(size=101).astype(dtype)
    g0 = g.copy()
    a, s, zeros = K.penalty(w, g, l1=0.3, l2=0.2)
    w64 = w.astype(np.float64)
    assert a == pytest.approx(np.abs(w64).sum()) and s == pytest.approx((w64**2).sum())
    assert zeros == 11
    np.testing.assert_allclose(g, g0 + 0.3 * np.sign(w64) + 0.4 * w64, rtol=1e-6)
    assert (g[::10] == g0[::10]).all()  # sign(0) = 0 and 2 l2 0 = 0
    m1, m2 = K.moments(w)
    assert m1 == pytest.approx(w64.sum()) and m2 == pytest.approx((w64**2).sum())


@pytest.mark.parametrize("n", [1, 7, 8, 33, 1000])
def test_all_finite_finds_every_nonfinite_value_at_every_position(n, dtype):
    info = np.finfo(dtype)
    x = np.linspace(-1, 1, n).astype(dtype)
    x[0], x[-1] = info.max, -info.max  # huge but finite: x - x is still 0
    assert K.all_finite(x)
    for bad in (np.nan, np.inf, -np.inf):
        for i in range(n):  # vector body and scalar remainder alike
            y = x.copy()
            y[i] = bad
            assert not K.all_finite(y), (bad, i)
    assert K.all_finite(np.empty(0, dtype))


def test_all_finite_reads_any_shape_and_refuses_other_buffers(dtype):
    x = np.zeros((3, 5, 2), dtype)
    assert K.all_finite(x)
    x[2, 4, 1] = np.nan
    assert not K.all_finite(x)
    assert K.all_finite(np.zeros((0, 4), dtype))
    with pytest.raises(ValueError):  # not C-contiguous: the buffer protocol refuses
        K.all_finite(np.zeros((4, 4), dtype)[:, ::2])
    for wrong in (np.zeros(3, np.float16), np.zeros(3, np.int64), np.zeros(3, np.int32),
                  np.zeros(3, np.dtype(dtype).newbyteorder())):  # the other byte order
        with pytest.raises(TypeError):
            K.all_finite(wrong)


def test_all_finite_reads_explicitly_native_formats():
    # ctypes describes its items with an explicit byte order ("<f" on x86)
    values = (ctypes.c_float * 3)(1.0, 2.0, 3.0)
    assert memoryview(values).format in ("<f", ">f")
    assert K.all_finite(values)
    values[1] = float("inf")
    assert not K.all_finite(values)


def test_label_range():
    labels = np.array([3, -2, 7, 0, 7, 5], dtype=np.int64)
    assert K.label_range(labels) == (-2, 7)
    assert K.label_range(labels[:1]) == (3, 3)
    assert K.label_range(np.array([-2**63, 2**63 - 1])) == (-2**63, 2**63 - 1)
    with pytest.raises(ValueError):
        K.label_range(np.empty(0, dtype=np.int64))
    for wrong in (labels.astype(np.int32), labels.astype(np.float64)):
        with pytest.raises(TypeError):
            K.label_range(wrong)
    with pytest.raises(ValueError):  # not contiguous
        K.label_range(labels[::2])
