"""Side-by-side cost of a training step: initreg against what else you'd use.

    initreg bench [--threads 1,2] [--configs tiny,small,large,deep]
                  [--rounds 7] [--only steps,update,threads] [--json FILE]
    python benchmarks/compare.py ...     (the same, from a source checkout)

Everything runs in one process, the implementations interleaved round by
round (so machine noise hits them alike), and the medians over rounds are
reported.  Per configuration (MLP classifier, softmax cross-entropy, SGD with
the L1 + L2 update, float32 unless --dtype float64):

- initreg-fit:  steps through ``MLP.fit`` (one compiled call per epoch)
- initreg-step: ``MLP.step`` called from Python, one batch at a time
- initreg-engine: the compiled step alone (``MLP._net.step``) on batches
                validated beforehand: the step without its Python layer
- numpy:        initreg/bench/_numpy_mlp.py, plain vectorised NumPy
- torch:        PyTorch eager (nn.Linear, F.cross_entropy, optim.SGD with
                weight_decay = 2 l2 on the weights, L1 added to the loss), if installed
- sklearn:      MLPClassifier.partial_fit (L2 only), if installed
- gemm-floor:   only the step's matrix products, same BLAS as initreg, called
                from compiled code

Also: the fused update alone on a 64M-element float32 buffer (GB/s against
an in-place NumPy subtract and the naive NumPy expression), two models
trained in two threads against one, and (``--only models``) many small
models trained at once against one after another, JAX and torch.func
(initreg/bench/_models.py), and (``--only playground``) the live page's
steps and frames per second (initreg/bench/_playground.py).  Install
PyTorch's CPU build with
``pip install torch==2.13.0``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import threading
import time

# PyTorch's OpenMP workers otherwise spin after each call and steal a core
# from whatever runs next (set before torch is imported; no effect on BLAS).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

import initreg as ir  # noqa: E402
from initreg._core import _floor, _kernels, _network  # noqa: E402
from initreg.bench import _models  # noqa: E402
from initreg.bench._numpy_mlp import NumpyMLP  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError('initreg bench needs threadpoolctl: pip install "initreg[report]"') from exc

CONFIGS = {
    "tiny": ([64, 128, 128, 10], 32, "tanh"),
    "small": ([784, 256, 256, 10], 128, "relu"),
    "large": ([784, 1024, 1024, 1024, 10], 256, "relu"),
    "deep": ([64] + [64] * 20 + [10], 64, "tanh"),
}
LR, ADAM_LR, L1, L2 = 0.01, 0.001, 1e-5, 1e-4
#: The optimizers the steps can be timed with.
OPTIMIZERS = ("sgd", "adam")


def _optimizer(kind):
    """The compared update, with the subgradient L1 and L2 terms that the
    NumPy and PyTorch lines compute: plain SGD, or Adam."""
    if kind == "adam":
        return ir.Adam(lr=ADAM_LR, l1=L1, l2=L2, l1_mode="subgradient")
    return ir.SGD(lr=LR, momentum=0.0, l1=L1, l2=L2, l1_mode="subgradient")


def step_flops(sizes, batch):
    """Multiply-adds x 2 of one step: forward, dW for every layer, dX for all but the first."""
    prods = [a * b for a, b in zip(sizes, sizes[1:])]
    return 2 * batch * (2 * sum(prods) + sum(prods[1:]))


def _data(sizes, batch, n_batches, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch * n_batches, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], batch * n_batches)
    return X, y


def make_runners(name, n_batches, dtype=np.float32, optimizer="sgd"):
    """name -> run(k): k training steps; every runner sees the same data."""
    sizes, batch, act = CONFIGS[name]
    X, y = _data(sizes, batch, n_batches, dtype=dtype)
    batches = [(np.ascontiguousarray(X[i * batch:(i + 1) * batch]), y[i * batch:(i + 1) * batch])
               for i in range(n_batches)]
    init = "he" if act == "relu" else "xavier"
    runners = {}

    net_fit = ir.MLP(sizes, activation=act, init=init, seed=0, dtype=dtype)
    opt_fit = _optimizer(optimizer)

    def fit(k):
        assert k == n_batches
        net_fit.fit(X, y, epochs=1, batch_size=batch, optimizer=opt_fit, shuffle=False)
    runners["initreg-fit"] = fit

    net_step = ir.MLP(sizes, activation=act, init=init, seed=0, dtype=dtype)
    opt_step = _optimizer(optimizer)

    def step(k):
        for i in range(k):
            net_step.step(*batches[i % n_batches], opt_step)
    runners["initreg-step"] = step

    # the compiled step alone, on batches validated once up front: its
    # difference from initreg-step is what MLP.step's Python layer costs
    net_engine = ir.MLP(sizes, activation=act, init=init, seed=0, dtype=dtype)
    checked = [net_engine._check_Xy(xb, yb) for xb, yb in batches]
    state = _optimizer(optimizer)._bind(net_engine)

    def engine(k):
        for i in range(k):
            net_engine._net.step(*checked[i % n_batches], state)
    runners["initreg-engine"] = engine

    ref = NumpyMLP(sizes, act, dtype=dtype)
    numpy_step = ((lambda xb, yb: ref.adam_step(xb, yb, ADAM_LR, L1, L2)) if optimizer == "adam"
                  else (lambda xb, yb: ref.step(xb, yb, LR, L1, L2)))

    def numpy_run(k):
        for i in range(k):
            numpy_step(*batches[i % n_batches])
    runners["numpy"] = numpy_run

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        variants = {"torch": {}}
        if optimizer == "adam":  # PyTorch's three Adam implementations on the CPU
            variants = {"torch": {"foreach": False}, "torch-foreach": {"foreach": True},
                        "torch-fused": {"fused": True}}
        for label, how in variants.items():
            run = _torch_runner(torch, sizes, act, dtype, batches, optimizer, how)
            if run is not None:
                runners[label] = run

    if optimizer == "sgd":
        try:
            from sklearn.neural_network import MLPClassifier
        except ImportError:
            MLPClassifier = None
        if MLPClassifier is not None:
            # scikit-learn's penalty is alpha / (2 n) sum W^2 with n the batch: l2 = alpha / (2 n)
            clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation=act,
                                solver="sgd",
                                alpha=ir.regularization.sklearn_alpha_from_l2(L2, batch),
                                batch_size=batch, learning_rate_init=LR, momentum=0.0,
                                random_state=0)
            classes = np.arange(sizes[-1])
            clf.partial_fit(*batches[0], classes=classes)

            def sklearn_run(k):
                for i in range(k):
                    clf.partial_fit(*batches[i % n_batches])
            runners["sklearn"] = sklearn_run

    runners["gemm-floor"] = _floor.StepProducts(sizes, batch, dtype).run
    return runners


def _torch_runner(torch, sizes, act, dtype, batches, optimizer, how):
    """PyTorch eager: nn.Linear layers, F.cross_entropy, the optimizer's L2
    (``weight_decay = 2 l2``) on the weights only, L1 added to the loss.
    None when this PyTorch lacks the implementation ``how`` asks for."""
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh() if act == "tanh" else torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*layers)
    if dtype == np.float64:
        model = model.double()
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    biases = [m.bias for m in model if isinstance(m, torch.nn.Linear)]
    groups = [{"params": weights, "weight_decay": 2 * L2},
              {"params": biases, "weight_decay": 0.0}]
    try:
        topt = (torch.optim.Adam(groups, lr=ADAM_LR, **how) if optimizer == "adam"
                else torch.optim.SGD(groups, lr=LR))
    except (RuntimeError, TypeError, ValueError):
        return None
    tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]  # dtype kept

    def torch_run(k):
        for i in range(k):
            xb, yb = tb[i % len(tb)]
            topt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss = loss + L1 * sum(w.abs().sum() for w in weights)
            loss.backward()
            topt.step()
    try:
        torch_run(1)
    except (RuntimeError, NotImplementedError):  # e.g. no fused kernel for this device
        return None
    return torch_run


@contextlib.contextmanager
def blas_threads(n):
    try:
        import torch
        before = torch.get_num_threads()
        torch.set_num_threads(n)
    except ImportError:
        torch = None
    with threadpool_limits(limits=n):
        yield
    if torch is not None:
        torch.set_num_threads(before)


def time_steps(names, rounds, threads, settle=0.0, dtype=np.float32, optimizers=("sgd",)):
    """Median microseconds per step, [optimizer][config][implementation].
    Every optimizer's implementations and the one GEMM floor are timed in
    the same interleaved rounds, so the optimizers compare side by side.

    settle : seconds to pause after each timing, so that the worker threads
    of the BLAS libraries that just ran (OpenBLAS spins for a while before it
    sleeps) do not compete with the next implementation."""
    results = {opt: {} for opt in optimizers}
    for name in names:
        sizes, batch, _ = CONFIGS[name]
        # enough steps per timing (>= ~2 GFLOP) that cold caches after the
        # other implementations ran do not count
        n_batches = max(16, min(128, int(2e9 / step_flops(sizes, batch))))
        runners = {}
        for opt in optimizers:
            for impl, run in make_runners(name, n_batches, dtype, opt).items():
                if impl != "gemm-floor" or "gemm-floor" not in {i for _, i in runners}:
                    runners[opt, impl] = run
        samples = {key: [] for key in runners}
        with blas_threads(threads):
            for run in runners.values():  # warm-up: allocations, caches, JIT-free paths
                run(n_batches)
            for r in range(rounds):
                order = list(runners)
                order = order[r % len(order):] + order[:r % len(order)]  # rotate who goes first
                for key in order:
                    start = time.perf_counter()
                    runners[key](n_batches)
                    samples[key].append((time.perf_counter() - start) / n_batches)
                    time.sleep(settle)
        us = {key: 1e6 * statistics.median(v) for key, v in samples.items()}
        floor = next(v for (_, impl), v in us.items() if impl == "gemm-floor")
        for opt in optimizers:
            results[opt][name] = {impl: v for (o, impl), v in us.items() if o == opt}
            results[opt][name]["gemm-floor"] = floor
    return results


#: Bytes each update moves per parameter (float32): SGD reads w and g and
#: writes w; Adam reads w, g, m, v and writes w, m, v.
UPDATE_BYTES = {"initreg fused update": 12, "numpy w -= g (bound)": 12,
                "numpy naive update": 12, "initreg adam update": 28}


def update_bandwidth(rounds, n=64 * 2**20):
    """GB/s of the fused SGD and Adam updates against NumPy's in-place
    subtract (the streaming bound: read two arrays, write one) and the naive
    NumPy expression, each counting the bytes it must move (UPDATE_BYTES)."""
    rng = np.random.default_rng(0)
    # aligned as a model's own parameter, gradient and state buffers
    w, g, m, v = (_network.aligned_zeros(n, np.float32) for _ in range(4))
    w[:] = rng.standard_normal(n, dtype=np.float32)
    g[:] = rng.standard_normal(n, dtype=np.float32) * np.float32(1e-3)
    lr, l1, l2 = np.float32(1e-3), np.float32(1e-6), np.float32(1e-5)
    steps = iter(range(1, 10**9))
    impls = {
        "initreg fused update": lambda: _kernels.sgd_update(w, g, lr=1e-3, l1=1e-6, l2=1e-5),
        "initreg adam update": lambda: _kernels.adam_update(w, g, m, v, lr=1e-3, l1=1e-6,
                                                            l2=1e-5, step=next(steps)),
        "numpy w -= g (bound)": lambda: np.subtract(w, g, out=w),
        "numpy naive update": lambda: np.subtract(
            w, lr * (g + l1 * np.sign(w) + 2 * l2 * w), out=w),
    }
    times = {k: [] for k in impls}
    with threadpool_limits(limits=1):
        for f in impls.values():
            f()
        for _ in range(rounds):
            for k, f in impls.items():
                start = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - start)
    return {k: UPDATE_BYTES[k] * n / statistics.median(t) / 1e9 for k, t in times.items()}


def two_threads(rounds, config="tiny", epochs=3):
    """Steps per second: two models in two threads against one model in one."""
    sizes, batch, act = CONFIGS[config]
    X, y = _data(sizes, batch, 256)
    nets = [ir.MLP(sizes, activation=act, seed=s) for s in (0, 1)]
    opts = [_optimizer("sgd") for _ in nets]

    def train(i):
        nets[i].fit(X, y, epochs=epochs, batch_size=batch, optimizer=opts[i], shuffle=False)

    one, two = [], []
    steps = epochs * 256
    with threadpool_limits(limits=1):
        train(0)
        for _ in range(rounds):
            start = time.perf_counter()
            train(0)
            one.append(steps / (time.perf_counter() - start))
            threads = [threading.Thread(target=train, args=(i,)) for i in (0, 1)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            two.append(2 * steps / (time.perf_counter() - start))
    return {"config": config, "one_thread_steps_per_s": statistics.median(one),
            "two_threads_steps_per_s": statistics.median(two),
            "speedup": statistics.median(two) / statistics.median(one)}


# OpenBLAS kernel sets (threadpoolctl's "architecture") that use AVX-512
AVX512_KERNELS = {"skylakex", "cooperlake", "sapphirerapids"}


def _cpu_info():
    """The CPU's model name and feature flags (Linux; elsewhere a guess and none)."""
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    cpu = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return cpu, flags


def machine():
    cpu, flags = _cpu_info()
    blas = [{"library": f"{i['internal_api']} {i.get('version')}",
             "file": os.path.basename(i["filepath"]), "kernels": i.get("architecture")}
            for i in threadpool_info() if i["user_api"] == "blas"]
    return {"cpu": cpu, "cpus": os.cpu_count(), "avx512f": "avx512f" in flags,
            "python": platform.python_version(), "numpy": np.__version__, "blas": blas,
            # set by the user, never by initreg; it changes every GEMM timing
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "initreg": ir.__version__}


def blas_note(info):
    """A line saying so when OpenBLAS runs kernels without AVX-512 on a CPU that
    has it (the GEMMs of small networks can then take twice as long); else
    None."""
    narrow = sorted({b["kernels"] for b in info["blas"] if b["library"].startswith("openblas")
                     and b["kernels"] and b["kernels"].lower() not in AVX512_KERNELS})
    if not info["avx512f"] or not narrow:
        return None
    why = (f"OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']} is set in the environment"
           if info["OPENBLAS_CORETYPE"] else "that is what OpenBLAS chose")
    return (f"note: this CPU has AVX-512 but OpenBLAS runs its {', '.join(narrow)} kernels "
            f"(no AVX-512): {why}. Every GEMM below, the floor's included, may be slower than "
            "the hardware allows (docs/performance.md)")


def print_steps(results, threads, dtype="float32", optimizer="sgd"):
    print(f"\n# µs per training step ({optimizer}), {threads} BLAS thread(s), {dtype}; "
          "medians of interleaved rounds (lower is better)")
    for name, row in results.items():
        sizes, batch, act = CONFIGS[name]
        flops = step_flops(sizes, batch)
        floor = row["gemm-floor"]
        print(f"\n{name}: {sizes if len(sizes) < 8 else f'[{sizes[0]}] + [{sizes[1]}]*{len(sizes) - 2} + [{sizes[-1]}]'}"
              f", batch {batch}, {act}  ({flops / 1e6:.1f} MFLOP per step)")
        print(f"  {'implementation':14s} {'µs/step':>10s} {'GFLOP/s':>8s} {'/ floor':>8s} "
              f"{'vs initreg-fit':>15s}")
        for impl, us in row.items():
            print(f"  {impl:14s} {us:10.1f} {flops / us / 1e3:8.1f} {us / floor:8.2f} "
                  f"{us / row['initreg-fit']:14.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="initreg bench",
                                     description="initreg against NumPy, PyTorch, "
                                     "scikit-learn and the GEMM floor")
    parser.add_argument("--threads", default="1,2", help="BLAS thread counts (default 1,2)")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default="steps,update,threads",
                        help="of steps, update, threads, models, playground")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                        help="precision of the step comparison")
    parser.add_argument("--optimizers", default="sgd",
                        help=f"the steps' optimizers, of {', '.join(OPTIMIZERS)} (default sgd)")
    parser.add_argument("--settle", type=float, default=0.3,
                        help="pause (s) after each timing with several BLAS threads")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--model-configs", default=",".join(_models.MODEL_CONFIGS),
                        help="the model-axis comparison's networks (--only models)")
    parser.add_argument("--model-counts", default=",".join(map(str, _models.MODEL_COUNTS)),
                        help="its numbers of models K")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    if "models" in only:
        _models.jax_single_core()
    optimizers = args.optimizers.split(",")
    if not set(optimizers) <= set(OPTIMIZERS):
        parser.error(f"--optimizers takes {', '.join(OPTIMIZERS)}, got {args.optimizers!r}")
    command = ["initreg bench", *(sys.argv[1:] if argv is None else argv)]
    out = {"machine": machine(), "command": " ".join(command)}
    print(json.dumps(out["machine"]))
    note = blas_note(out["machine"])
    if note:
        print(note)
    if "steps" in only:
        for optimizer in optimizers:
            out["steps" if optimizer == "sgd" else f"{optimizer}_steps"] = {}
        for t in (int(v) for v in args.threads.split(",")):
            res = time_steps(args.configs.split(","), args.rounds, t,
                             settle=args.settle if t > 1 else 0.0,
                             dtype=np.dtype(args.dtype), optimizers=optimizers)
            for optimizer, rows in res.items():
                out["steps" if optimizer == "sgd" else f"{optimizer}_steps"][t] = rows
                print_steps(rows, t, args.dtype, optimizer)
        if {"sgd", "adam"} <= set(optimizers):
            print("\n# Adam's step over the GEMM floor, against SGD's (fit / floor; the "
                  "same rounds)")
            for t, rows in out["adam_steps"].items():
                for name, row in rows.items():
                    sgd = out["steps"][t][name]
                    adam_over, sgd_over = (r["initreg-fit"] / r["gemm-floor"] for r in (row, sgd))
                    print(f"  {t} thread(s) {name:6s} adam {adam_over:.2f}, sgd {sgd_over:.2f}: "
                          f"{adam_over / sgd_over:.2f}x")
    if "update" in only:
        bw = update_bandwidth(args.rounds)
        out["update_GBps"] = bw
        print("\n# fused updates on 64M float32 (GB/s of the bytes each must move)")
        for k, v in bw.items():
            print(f"  {k:24s} {v:7.1f}  ({UPDATE_BYTES[k]} bytes per parameter)")
        bound = bw["numpy w -= g (bound)"]
        print(f"  sgd / bound: {bw['initreg fused update'] / bound:.2f}; "
              f"adam / bound: {bw['initreg adam update'] / bound:.2f}")
    if "threads" in only:
        out["two_threads"] = []
        print("\n# two models in two threads (1 BLAS thread each) against one model in one")
        for cfg in ("tiny", "deep", "small"):
            tt = two_threads(args.rounds, config=cfg, epochs=2 if cfg == "small" else 3)
            out["two_threads"].append(tt)
            print(f"  {cfg:6s} {tt['two_threads_steps_per_s']:8.0f} steps/s against "
                  f"{tt['one_thread_steps_per_s']:8.0f}: {tt['speedup']:.2f}x")
    if "models" in only:
        res = _models.time_models(args.rounds, lambda: blas_threads(1),
                                  args.model_configs.split(","),
                                  [int(k) for k in args.model_counts.split(",")])
        out["models"] = res
        _models.print_models(res)
    if "playground" in only:
        from initreg.bench import _playground
        res = _playground.time_playground(lambda: blas_threads(1))
        out["playground"] = res
        _playground.print_playground(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0
