"""Property-based fuzzing of initreg's public surface (run by test_fuzz.py in a
child process, so that a crash of the interpreter fails the test instead of
killing the test run).

Every call either works or raises an exception of the documented kinds
(TypeError / ValueError, OSError for file paths, RuntimeError for a model in
use); anything else -- and any crash -- is a failure.

    python tests/fuzz_public.py [--examples N] [--seed S]
"""
import argparse
import os
import sys
import tempfile
import traceback
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import initreg as ir
from initreg import _fit, datasets, init
from initreg.cli import main as cli_main

ALLOWED = (TypeError, ValueError)
FILE_ERRORS = ALLOWED + (OSError,)


# ---- the strategies ---------------------------------------------------------

DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_,
          np.complex64, object]
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-10**12, max_value=10**12),
    st.sampled_from([0, 1, -1, 0.5, 1.0, 1.5, 1e30, -1e30, float("nan"), float("inf"),
                     -float("inf"), 2**31, 2**63, True, False]),
)


@st.composite
def arrays(draw, n_rows=None, n_cols=None):
    """Arrays of every awkward kind: shapes and ranks, dtypes, layouts,
    read-only, empty, special values."""
    ndim = draw(st.sampled_from([0, 1, 2, 2, 2, 3]))
    shape = []
    for axis in range(ndim):
        if axis == 0 and n_rows is not None and draw(st.booleans()):
            shape.append(n_rows)
        elif axis == 1 and n_cols is not None and draw(st.booleans()):
            shape.append(n_cols)
        else:
            shape.append(draw(st.integers(min_value=0, max_value=9)))
    dtype = draw(st.sampled_from(DTYPES))
    fill = draw(st.sampled_from(["normal", "nan", "inf", "huge", "ints", "zeros"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    base = {"normal": lambda s: rng.normal(size=s), "nan": lambda s: np.full(s, np.nan),
            "inf": lambda s: np.full(s, np.inf), "huge": lambda s: np.full(s, 1e30),
            "ints": lambda s: rng.integers(-3, 12, size=s).astype(float),
            "zeros": np.zeros}[fill](tuple(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype is object:
            a = np.empty(base.shape, dtype=object)
            a[...] = base
        else:
            a = base.astype(dtype)
    layout = draw(st.sampled_from(["c", "f", "strided", "readonly", "list"]))
    if layout == "f":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim >= 1 and a.shape[0] > 1:
        a = np.repeat(a, 2, axis=0)[::2]
    elif layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    elif layout == "list":
        return a.tolist()
    return a


HYPER = st.fixed_dictionaries({}, optional={
    "lr": NUMBERS, "momentum": NUMBERS, "l1": NUMBERS, "l2": NUMBERS,
    "weight_decay": NUMBERS, "nesterov": st.one_of(st.booleans(), NUMBERS),
    "l1_mode": st.sampled_from(["subgradient", "proximal", "cumulative",
                                "proximal_preconditioned", "lasso", "", 3]),
    "regularize_bias": st.one_of(st.booleans(), st.just("yes")),
})
ADAM_HYPER = st.fixed_dictionaries({}, optional={
    "lr": NUMBERS, "l1": NUMBERS, "l2": NUMBERS, "weight_decay": NUMBERS, "eps": NUMBERS,
    "betas": st.one_of(st.tuples(NUMBERS, NUMBERS), NUMBERS, st.lists(NUMBERS, max_size=3)),
    "amsgrad": st.one_of(st.booleans(), NUMBERS),
    "l1_mode": st.sampled_from(["subgradient", "proximal", "cumulative",
                                "proximal_preconditioned", "lasso"]),
})
DIMS = st.one_of(st.integers(-3, 300), st.sampled_from([2**31, 10**12, 2**63, 0.5, float("nan"),
                                                      True, None, "3"]))
SIZES = st.lists(st.one_of(st.integers(min_value=-3, max_value=12), NUMBERS,
                           st.sampled_from([2**31, 10**12])), min_size=0, max_size=5)
# Bounded: a valid huge epoch count would simply train for ever.
EPOCHS = st.one_of(st.integers(-1, 3), st.floats(allow_nan=True),
                   st.sampled_from([True, None, "2", 2.0]))
NAMES = st.sampled_from(["tanh", "relu", "sigmoid", "leaky_relu", "identity", "swish", "",
                         "TANH", None, 3])
INITS = st.sampled_from(list(init.names()) + ["kaiming", "", None, 3])
OUTPUTS = st.sampled_from(["softmax", "sigmoid", "linear", "tanh", None])


def call(fn, *args, allowed=ALLOWED, blame=None, **kwargs):
    """fn(*args, **kwargs) must work or raise an allowed exception; with
    ``blame`` (the names of the arguments at fault), the refusal must name
    one of them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except allowed as exc:
        if blame and not any(name in str(exc) for name in blame):
            raise AssertionError(f"{getattr(fn, '__qualname__', fn)} refused with {exc!r}, "
                                 f"which names none of the arguments at fault {blame}") from exc
        return None


def refuses(fn):
    """True if fn() raises one of the documented errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except ALLOWED:
        return True
    return False


def at_fault(check, values, words=None):
    """The argument names that ``check(name, value)`` refuses one at a time
    (as the words an error should use for them, ``words[name]``); all of
    them when none is refused alone (a combination is at fault)."""
    words = words or {}
    single = [n for n, v in values.items() if refuses(lambda n=n, v=v: check(n, v))]
    return [w for n in (single or values) for w in words.get(n, (n,))]


FIT_DEFAULTS = dict(epochs=1, batch_size=2, optimizer=None, validation_data=None, shuffle=True,
                    record=False, progress=False, seed=None, callbacks=None,
                    on_divergence="warn")

SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)


def run_all(n):
    small = settings(max_examples=n, **SETTINGS)

    @small
    @given(sizes=SIZES, activation=NAMES, init_name=INITS, output=OUTPUTS,
           dtype=st.sampled_from(["float32", "float64", "float16", "int", None]),
           seed=st.one_of(st.none(), st.integers(-5, 2**70)), slope=NUMBERS)
    def fuzz_constructor(sizes, activation, init_name, output, dtype, seed, slope):
        args = dict(layer_sizes=sizes, activation=activation, init=init_name, output=output,
                    dtype=dtype, seed=seed, leaky_slope=slope)

        def alone(name, value):
            if name == "layer_sizes":
                return ir.MLP(value)
            return ir.MLP([4, 5, 3], **{name: value})

        blame = at_fault(alone, args, {"init": ("initializer", "init")})
        call(ir.MLP, sizes, activation=activation, init=init_name, output=output,
             dtype=dtype, seed=seed, leaky_slope=slope, blame=blame)

    @small
    @given(hyper=HYPER, adam=ADAM_HYPER, cls=st.sampled_from([ir.Adam, ir.AdamW]))
    def fuzz_optimizers(hyper, adam, cls):
        call(ir.SGD, **hyper, blame=at_fault(lambda n, v: ir.SGD(**{n: v}), hyper,
                                             {"weight_decay": ("weight_decay", "lr")}))
        call(cls, **adam, blame=at_fault(lambda n, v: cls(**{n: v}), adam,
                                         {"weight_decay": ("weight_decay", "lr"),
                                          "betas": ("betas",)}))

    nets = {out: ir.MLP([4, 5, 3], output=out, seed=0) for out in ("softmax", "sigmoid", "linear")}

    @small
    @given(X=arrays(n_cols=4), y=arrays(n_rows=3), out=st.sampled_from(list(nets)),
           hyper=HYPER, epochs=EPOCHS,
           batch=st.one_of(st.integers(-1, 50), NUMBERS), record=st.booleans())
    def fuzz_model(X, y, out, hyper, epochs, batch, record):
        net = nets[out]
        X_before = np.array(X, dtype=object, copy=True) if X is not None else None
        call(net.forward, X)
        call(net.predict, X)
        call(net.predict_proba, X)
        call(net.logits, X)
        call(net.trace, X)
        call(net.jacobian, X)
        call(net.trace, X, y)
        call(net.score, X, y)
        call(net.loss, X, y, l1=hyper.get("l1", 0.0), l2=hyper.get("l2", 0.0))
        call(net.loss_and_gradients, X, y, l1=hyper.get("l1", 0.0))
        opt = call(ir.SGD, **hyper)
        if opt is not None:
            call(net.step, X, y, opt)
            call(net.fit, X, y, epochs=epochs, batch_size=batch, optimizer=opt, record=record)

        def fit_alone(name, value):
            if name == "X":
                return net._check_X(value)
            if name == "y":
                return net._check_y(value, net._check_X(X).shape[0])
            good_y = np.zeros(3, int) if out == "softmax" else np.zeros((3, 3))
            return _fit.plan(net, np.zeros((3, 4)), good_y, **{**FIT_DEFAULTS, name: value})

        fit_blame = (["X"] if refuses(lambda: net._check_X(X)) else
                     ["y"] if refuses(lambda: fit_alone("y", y)) else
                     at_fault(fit_alone, {"epochs": epochs, "batch_size": batch}))
        call(net.fit, X, y, epochs=epochs, batch_size=batch, validation_data=(X, y),
             blame=fit_blame)
        if X_before is not None:  # user arrays are never modified
            after = np.array(X, dtype=object, copy=True)
            assert X_before.shape == after.shape
            assert all(a is b or a == b or (a != a and b != b)
                       for a, b in zip(X_before.ravel(), after.ravel())), "X was modified"
        assert np.isfinite(net.parameters).all(), "non-finite parameters after a refused call"

    @small
    # sizes: small ones, or so large that they must be refused (a valid size
    # in the tens of thousands would only make the fuzzing slow)
    @given(shape=st.one_of(st.tuples(DIMS, DIMS), st.lists(st.integers(-2, 5)), NUMBERS),
           name=INITS, rng=st.one_of(st.none(), NUMBERS, st.just("seed")),
           dtype=st.sampled_from(["float32", "float64", "int8", None, 3]), param=NUMBERS)
    def fuzz_init(shape, name, rng, dtype, param):
        f = call(init.get, name, blame=["initializer"])
        if f is not None:
            blame = at_fault(lambda n, v: f(**{"shape": (3, 2), "rng": 0, n: v}),
                             {"shape": shape, "rng": rng, "dtype": dtype},
                             {"shape": ("shape", "fan_in", "fan_out")})
            call(f, shape, rng=rng, dtype=dtype, blame=blame)
        call(init.normal, shape, std=param, rng=rng)
        call(init.uniform, shape, limit=param)
        call(init.orthogonal, shape, gain=param)
        call(init.variance_scaling, shape, scale=param, mode=name, distribution=name)
        call(init.gain, name, param)

    @small
    @given(X=arrays(), y=arrays(), n=st.one_of(st.integers(-3, 50), NUMBERS), noise=NUMBERS,
           size=st.one_of(NUMBERS, st.integers(-2, 20)), seed=st.one_of(st.none(), NUMBERS))
    def fuzz_datasets(X, y, n, noise, size, seed):
        call(datasets.make_spirals, n_samples=n, noise=noise, seed=seed)
        call(datasets.make_moons, n_samples=n, noise=noise, seed=seed)
        call(datasets.make_circles, n_samples=n, noise=noise, factor=noise, seed=seed)
        call(datasets.make_blobs, n_samples=n, centers=size, std=noise, seed=seed)
        call(datasets.train_test_split, X, y, test_size=size, seed=seed, stratify=True)
        call(datasets.standardize, X)

    tmp = tempfile.mkdtemp()
    junk = {"empty": b"", "text": b"hello", "zip-ish": b"PK\x03\x04" + os.urandom(64),
            "noise": os.urandom(200)}
    for name, data in junk.items():
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(data)
    paths = [os.path.join(tmp, k) for k in junk] + [tmp, os.path.join(tmp, "missing.npz"),
                                                     os.path.join(tmp, "no", "dir.npz"), ""]

    @small
    @given(path=st.sampled_from(paths))
    def fuzz_files(path):
        call(ir.MLP.load, path, allowed=FILE_ERRORS)
        call(datasets.load_npz, path, allowed=FILE_ERRORS)
        call(datasets.load_csv, path, allowed=FILE_ERRORS)
        call(datasets.load_mnist, path, allowed=FILE_ERRORS)
        call(nets["softmax"].save, path, allowed=FILE_ERRORS)

    words = st.sampled_from(["train", "report", "bench", "sweep", paths[0], "--dask",
                             "local:0", "local:x", "--scheduler", "--layers", "64,0,10", "64,x",
                             "--epochs", "-1", "0", "abc", "--lr", "nan", "-5", "--l1",
                             "inf", "--init", "magic", "--activation", "--dataset",
                             "npz:/nonexistent", "mnist:/nonexistent", "spirals", "--json",
                             "--batch-size", "1000000", "--dtype", "float16", "--l1-mode",
                             "--out", tmp, "--seed", "99999999999999999999"])

    @settings(max_examples=max(n // 4, 10), **SETTINGS)
    @given(argv=st.lists(words, max_size=7))
    def fuzz_cli(argv):
        if argv[:1] == ["report"] or argv[:1] == ["bench"]:
            return  # long-running jobs; their argument errors are tested in test_report.py
        try:
            import contextlib
            import io
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = cli_main(argv)
            assert code in (0, 1, 2), code
        except SystemExit as exc:  # argparse's usage errors
            assert exc.code in (0, 2), exc.code

    for fuzz in (fuzz_constructor, fuzz_optimizers, fuzz_model, fuzz_init, fuzz_datasets, fuzz_files,
                 fuzz_cli):
        fuzz()
        print(f"{fuzz.__name__}: ok", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=300)
    args = parser.parse_args()
    try:
        run_all(args.examples)
    except Exception:  # a disallowed exception: report it and fail
        traceback.print_exc()
        return 1
    print("fuzz: all calls worked or raised the documented errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
