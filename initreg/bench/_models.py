"""Many small models at once: the model axis against one model after another,
JAX and torch.func (``initreg bench --only models``).

Per configuration and number of models K, every implementation trains the
same K models (plain SGD, softmax cross-entropy, float32, one core) on the
same batches for the same steps; the cost is reported per model per step:

- initreg-ensemble: :class:`initreg.Ensemble` ``fit``, engine "auto" (the
                    models in SIMD lanes where that is faster, else one
                    after another)
- initreg-lanes:    the same, engine "lanes" whatever the size
- initreg-each:     ``MLP.fit`` for each model in turn
- jax:              ``jit(lax.scan(vmap(step)))`` over the stacked models, if
                    JAX is installed
- torch-func:       ``torch.func`` (stack_module_state, vmap, grad) over the
                    stacked models, one call per step, if PyTorch is installed
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

import initreg as ir

#: (layer sizes, batch, activation) of the model-axis comparison.
MODEL_CONFIGS = {
    "2-8-8-2": ([2, 8, 8, 2], 10, "tanh"),
    "2-16-16-2": ([2, 16, 16, 2], 32, "tanh"),
    "64-64-10": ([64, 64, 10], 32, "relu"),
    "tiny": ([64, 128, 128, 10], 32, "tanh"),
}
MODEL_COUNTS = (1, 8, 16, 64, 256)
LR = 0.01


def step_flops(sizes, batch):
    """Multiply-adds x 2 of one model's step: forward, dW, dX but the first's."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return 2 * batch * (2 * sum(a * b for a, b in pairs) + sum(a * b for a, b in pairs[1:]))


def _data(sizes, batch, n_batches, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch * n_batches, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch * n_batches)
    return X, y


def _ensemble_runner(engine):
    def make(sizes, batch, act, K, X, y, epochs):
        ens = ir.Ensemble(sizes, seeds=range(K), activation=act)
        opts = [ir.SGD(lr=LR, momentum=0.0) for _ in range(K)]

        def run():
            ens.fit(X, y, epochs=epochs, batch_size=batch, optimizer=opts, shuffle=False,
                    engine=engine)
        return run
    return make


def _each_runner(sizes, batch, act, K, X, y, epochs):
    nets = [ir.MLP(sizes, activation=act, seed=k) for k in range(K)]
    opts = [ir.SGD(lr=LR, momentum=0.0) for _ in range(K)]

    def run():
        for net, opt in zip(nets, opts):
            net.fit(X, y, epochs=epochs, batch_size=batch, optimizer=opt, shuffle=False)
    return run


def _jax_runner(sizes, batch, act, K, X, y, epochs):
    """jit(lax.scan(vmap(step))): every model's SGD step vectorised over the
    model axis, the steps of an epoch scanned in one compiled call."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    f = jnp.tanh if act == "tanh" else jax.nn.relu
    keys = jax.random.split(jax.random.PRNGKey(0), K)

    def init(key):
        params = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            key, sub = jax.random.split(key)
            params.append((jax.random.normal(sub, (a, b), jnp.float32) / np.sqrt(a),
                           jnp.zeros(b, jnp.float32)))
        return params

    params = jax.vmap(init)(keys)

    def loss(p, xb, yb):
        h = xb
        for i, (w, b) in enumerate(p):
            h = h @ w + b
            if i < len(p) - 1:
                h = f(h)
        return -jnp.mean(jax.nn.log_softmax(h)[jnp.arange(yb.shape[0]), yb])

    def step(p, xb, yb):
        g = jax.grad(loss)(p, xb, yb)
        return jax.tree_util.tree_map(lambda a, d: a - LR * d, p, g)

    many = jax.vmap(step, in_axes=(0, None, None))
    n_batches = X.shape[0] // batch
    xs = jnp.asarray(X[:n_batches * batch].reshape(n_batches, batch, -1))
    ys = jnp.asarray(y[:n_batches * batch].reshape(n_batches, batch))

    @jax.jit
    def epoch(p):
        return jax.lax.scan(lambda q, b: (many(q, *b), None), p, (xs, ys))[0]

    state = {"p": params}

    def run():
        for _ in range(epochs):
            state["p"] = epoch(state["p"])
        jax.block_until_ready(state["p"])
    run()  # compile
    return run


def _torch_func_runner(sizes, batch, act, K, X, y, epochs):
    """torch.func: stacked parameters, vmap(grad) over the models, one call
    per step, plain SGD on the stacked tensors."""
    try:
        import torch
        from torch.func import functional_call, grad, stack_module_state, vmap
    except ImportError:
        return None

    def make():
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:-1]):
            layers += [torch.nn.Linear(a, b), torch.nn.Tanh() if act == "tanh"
                       else torch.nn.ReLU()]
        layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
        return torch.nn.Sequential(*layers)

    models = [make() for _ in range(K)]
    params, buffers = stack_module_state(models)
    base = make().to("meta")

    def loss(p, b, xb, yb):
        return torch.nn.functional.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

    g = vmap(grad(loss), in_dims=(0, 0, None, None))
    n_batches = X.shape[0] // batch
    batches = [(torch.from_numpy(X[i * batch:(i + 1) * batch]),
                torch.from_numpy(y[i * batch:(i + 1) * batch])) for i in range(n_batches)]

    def run():
        with torch.no_grad():
            for _ in range(epochs):
                for xb, yb in batches:
                    grads = g(params, buffers, xb, yb)
                    for name in params:
                        params[name].sub_(LR * grads[name])
    run()
    return run


#: name -> make(sizes, batch, activation, K, X, y, epochs) -> run() or None
RUNNERS = {"initreg-ensemble": _ensemble_runner("auto"),
           "initreg-lanes": _ensemble_runner("lanes"),
           "initreg-each": None,  # set below: _each_runner
           "jax": None, "torch-func": None}


def time_models(rounds, one_thread, configs=tuple(MODEL_CONFIGS), counts=MODEL_COUNTS,
                seconds=0.3):
    """[config][K][implementation] -> microseconds per model per step, the
    median of interleaved rounds.  Each implementation trains whole epochs
    of 16 batches, as many as take it about ``seconds`` (measured on one
    epoch after a warm-up), so that what a call costs once -- checking the
    arguments, compiling -- counts little.  ``one_thread()``: a context that
    holds BLAS and PyTorch to one thread."""
    makers = {**RUNNERS, "initreg-each": _each_runner, "jax": _jax_runner,
              "torch-func": _torch_func_runner}
    results = {}
    for name in configs:
        sizes, batch, act = MODEL_CONFIGS[name]
        n_batches = 16
        X, y = _data(sizes, batch, n_batches)
        results[name] = {}
        for K in counts:
            runners, steps = {}, {}
            with one_thread():
                for label, make in makers.items():
                    probe = make(sizes, batch, act, K, X, y, 1)
                    if probe is None:
                        continue
                    probe()
                    start = time.perf_counter()
                    probe()
                    epochs = max(1, int(seconds / max(time.perf_counter() - start, 1e-6)))
                    runners[label] = make(sizes, batch, act, K, X, y, epochs)
                    steps[label] = epochs * n_batches * K
                samples = {label: [] for label in runners}
                for run in runners.values():
                    run()  # warm-up (and JAX's compilation)
                for r in range(rounds):
                    order = list(runners)
                    order = order[r % len(order):] + order[:r % len(order)]
                    for label in order:
                        start = time.perf_counter()
                        runners[label]()
                        samples[label].append(time.perf_counter() - start)
            results[name][K] = {label: 1e6 * statistics.median(v) / steps[label]
                                for label, v in samples.items()}
    return results


def print_models(results):
    print("\n# many models at once: µs per model per step, float32, 1 core; medians of "
          "interleaved rounds")
    for name, by_k in results.items():
        sizes, batch, act = MODEL_CONFIGS[name]
        flops = step_flops(sizes, batch)
        labels = list(next(iter(by_k.values())))
        print(f"\n{name}: {sizes}, batch {batch}, {act}  ({flops / 1e3:.1f} kFLOP per model-step)")
        print("     K  " + "".join(f"{label:>18s}" for label in labels)
              + "   each/ensemble")
        for K, row in by_k.items():
            cells = "".join(f"{row[label]:8.3f} ({flops / row[label] / 1e3:5.1f})"
                            for label in labels)
            print(f"  {K:4d}  {cells}   {row['initreg-each'] / row['initreg-ensemble']:6.2f}x")
        print("  (µs per model-step, GFLOP/s in brackets)")


def jax_single_core():
    """Ask XLA for one thread, as the other implementations get (before JAX
    is imported)."""
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1")
