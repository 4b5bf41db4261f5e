"""The dense network (multi-layer perceptron) and its training loop.

:class:`MLP` is the validation boundary in front of the compiled engine
(:class:`initreg._core._network.Network`): it checks and converts every
argument once, then hands C-contiguous arrays of the model's dtype to the
engine, which trusts them.
"""
from __future__ import annotations

import threading
import time
import warnings
import weakref
from typing import NamedTuple

import numpy as np

from initreg import init as _init
from initreg._core import _kernels, _network
from initreg._progress import Progress
from initreg._validation import (MAX_DIM, as_float_array, as_labels, as_targets,
                                 check_choice, check_dtype, check_float, check_int,
                                 check_memory)
from initreg.history import HIST_EDGES, SMALL_WEIGHT, History
from initreg.optim import SGD

__all__ = ["MLP", "LossBreakdown", "Trace", "ACTIVATIONS", "OUTPUTS"]

#: Hidden-layer activations and their codes in the compiled core.
ACTIVATIONS = {
    "identity": _kernels.IDENTITY, "linear": _kernels.IDENTITY,
    "tanh": _kernels.TANH, "sigmoid": _kernels.SIGMOID, "logistic": _kernels.SIGMOID,
    "relu": _kernels.RELU, "leaky_relu": _kernels.LEAKY_RELU,
}
#: Output layers, each fused with its loss in the compiled core.
OUTPUTS = {
    "softmax": _network.SOFTMAX_XENT,  # cross-entropy on integer labels
    "sigmoid": _network.SIGMOID_BCE,   # binary cross-entropy on 0/1 targets
    "linear": _network.MSE,            # mean squared error
}


class Trace(NamedTuple):
    """Per-layer signals of one batch (see :meth:`MLP.trace`)."""

    pre_activations: list
    activations: list
    gradients: list
    loss: float


class LossBreakdown(NamedTuple):
    """A loss split into its parts: ``total = data + penalty``."""

    total: float
    data: float
    penalty: float


class MLP:
    """A fully connected network trained by the compiled core.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, hidden_1, ..., n_outputs]``, at least two entries.
    activation : str or sequence of str
        Hidden-layer activation, one name for all or one per hidden layer:
        "tanh", "sigmoid" (alias "logistic"), "relu", "leaky_relu",
        "identity" (alias "linear").
    init : str, callable or sequence of them
        Weight initializer for every layer, or one per layer: a name of
        :func:`initreg.init.get` ("xavier", "glorot", "he", "small", ...) or a
        callable ``f((fan_in, fan_out), *, rng, dtype) -> array``.
    bias_init : float
        Initial value of every bias.
    output : {"softmax", "sigmoid", "linear"}
        Output non-linearity and loss: softmax + cross-entropy on integer
        labels, sigmoid + binary cross-entropy on 0/1 targets, or identity +
        mean squared error.
    dtype : {"float32", "float64"}
        Precision of parameters and computation.
    seed : int or None
        Seed of the initialization.  Each layer draws from its own stream
        (``numpy.random.SeedSequence(seed).spawn``), so changing one layer
        leaves the others' initial weights unchanged.  None: fresh entropy,
        kept in :attr:`seed` so the model can be rebuilt.
    leaky_slope : float
        Negative-side slope of "leaky_relu", in [0, 1).

    Attributes
    ----------
    weights : list of ndarray, shapes (fan_in, fan_out)
    biases : list of ndarray, shapes (fan_out,)
        Writable views into one flat parameter buffer (:attr:`parameters`):
        writing into them changes the model.
    """

    def __init__(self, layer_sizes, activation="tanh", init="xavier", bias_init=0.0,
                 output="softmax", dtype="float32", seed=None, leaky_slope=0.01):
        sizes = self._check_sizes(layer_sizes)
        n_layers = len(sizes) - 1
        # The architecture is fixed once built (read-only properties): the
        # validation of every later call relies on it matching the engine.
        self._dtype = check_dtype(dtype)
        self._output = check_choice(output, "output", tuple(OUTPUTS))
        if self._output == "softmax" and sizes[-1] < 2:
            raise ValueError("a softmax output needs at least 2 units; use "
                             "output='sigmoid' for a single binary output")
        self._leaky_slope = check_float(leaky_slope, "leaky_slope", low=0, high=1,
                                        high_open=True)
        self._activations = self._per_hidden_layer(activation, n_layers)
        self.bias_init = check_float(bias_init, "bias_init")
        inits = init if isinstance(init, (list, tuple)) else [init] * n_layers
        if len(inits) != n_layers:
            raise ValueError(f"init has {len(inits)} entries for {n_layers} layers")
        self._inits = [_init.get(i) for i in inits]
        self.init = init
        self._layer_sizes = tuple(sizes)

        check_memory(sum(a * b + b for a, b in zip(sizes, sizes[1:])) * self.dtype.itemsize * 4,
                     f"layer sizes {sizes} (parameters, gradients, velocity, L1 state)")
        codes = [ACTIVATIONS[a] for a in self.activations] + [_kernels.IDENTITY]
        self._net = _network.Network(sizes, codes, [self.leaky_slope] * n_layers,
                                     OUTPUTS[self.output], self.dtype == np.float64)
        params = self._net.params
        self.weights = [params[w:w + fi * fo].reshape(fi, fo)
                        for w, fi, fo, _ in self._net.layout()]
        self.biases = [params[b:b + fo] for _, _, fo, b in self._net.layout()]
        self._opt_ref = None
        self.diverged = False
        self.seed = self._initialize(seed)

    # -- construction helpers -------------------------------------------------

    @staticmethod
    def _check_sizes(layer_sizes):
        if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
            raise TypeError(f"layer_sizes must be a sequence of ints, got {layer_sizes!r}")
        if len(layer_sizes) < 2:
            raise ValueError("layer_sizes needs at least an input and an output size, "
                             f"got {list(layer_sizes)}")
        return [check_int(s, f"layer_sizes[{i}]", low=1, high=MAX_DIM)
                for i, s in enumerate(layer_sizes)]

    @staticmethod
    def _per_hidden_layer(activation, n_layers):
        n_hidden = n_layers - 1
        names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        if len(names) != n_hidden:
            raise ValueError(f"activation has {len(names)} entries for {n_hidden} hidden layers")
        return tuple(check_choice(a, "activation", tuple(ACTIVATIONS)) for a in names)

    def _initialize(self, seed):
        if seed is not None:
            check_int(seed, "seed", low=0)
        seq = np.random.SeedSequence(seed)
        for layer, (w, b, f, child) in enumerate(
                zip(self.weights, self.biases, self._inits, seq.spawn(self.n_layers))):
            value = np.asarray(f(w.shape, rng=np.random.default_rng(child), dtype=self.dtype))
            if value.shape != w.shape:
                raise ValueError(f"initializer {f!r} returned shape {value.shape} for "
                                 f"layer {layer}, expected {w.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"initializer {f!r} returned non-finite values for layer {layer}")
            w[...] = value
            b[...] = self.bias_init
        self._shuffle_seq = seq.spawn(1)[0]  # fit's default shuffling stream
        self._forget_optimizer()
        self.diverged = False
        return seq.entropy

    def _forget_optimizer(self):
        """New weights: the momentum and cumulative penalty are meaningless."""
        self._net.reset_optimizer()
        self._opt_ref = None

    def reinitialize(self, seed=None):
        """Draw fresh initial parameters (same architecture and initializers)."""
        self.seed = self._initialize(seed)
        return self

    # -- description ----------------------------------------------------------

    @property
    def layer_sizes(self):
        """(n_features, hidden..., n_outputs)."""
        return self._layer_sizes

    @property
    def activations(self):
        """The hidden layers' activations, one name per hidden layer."""
        return self._activations

    @property
    def output(self):
        """"softmax", "sigmoid" or "linear": the output layer and its loss."""
        return self._output

    @property
    def dtype(self):
        """np.float32 or np.float64."""
        return self._dtype

    @property
    def leaky_slope(self):
        """Negative-side slope of "leaky_relu"."""
        return self._leaky_slope

    @property
    def n_layers(self):
        """Number of weight layers (hidden layers + the output layer)."""
        return len(self.layer_sizes) - 1

    @property
    def n_params(self):
        """Number of trainable parameters (weights and biases)."""
        return int(self._net.params.size)

    @property
    def parameters(self):
        """The flat parameter buffer: all weights (layer by layer, row-major),
        then all biases.  :attr:`weights` and :attr:`biases` are views of it."""
        return self._net.params

    def __repr__(self):
        inner = [f"{n}" for n in self.layer_sizes]
        acts = ",".join(sorted(set(self.activations))) or "-"
        return (f"MLP({' -> '.join(inner)}, activation={acts}, output={self.output}, "
                f"init={self.init!r}, dtype={self.dtype.name}, params={self.n_params})")

    # -- input checks (the boundary) -----------------------------------------

    def _check_X(self, X, name="X"):
        return as_float_array(X, name, self.dtype, ndim=2, n_cols=self.layer_sizes[0])

    def _check_y(self, y, n_rows, name="y"):
        n_out = self.layer_sizes[-1]
        if self.output == "softmax":
            return as_labels(y, name, n_rows, n_out)
        return as_targets(y, name, n_rows, n_out, self.dtype,
                          unit_interval=self.output == "sigmoid")

    def _check_Xy(self, X, y):
        X = self._check_X(X)
        return X, self._check_y(y, X.shape[0])

    def _check_workspace(self, rows):
        # calls that process a batch in one piece need all its layer outputs;
        # only growing the workspace costs memory (and reading /proc/meminfo
        # costs more than a tiny network's whole step)
        if rows <= self._net.capacity:
            return
        check_memory(self._net.workspace_bytes(rows), f"a batch of {rows} rows through "
                     f"layers {list(self.layer_sizes)} in one piece")

    def _use_optimizer(self, optimizer):
        if not isinstance(optimizer, SGD):
            raise TypeError(f"optimizer must be an initreg.SGD, got {type(optimizer).__name__}")
        if self._opt_ref is None or self._opt_ref() is not optimizer:
            self._net.reset_optimizer()  # velocity etc. belong to one optimiser
            self._opt_ref = weakref.ref(optimizer)

    # -- inference ------------------------------------------------------------

    def logits(self, X):
        """Output-layer values before the output non-linearity,
        shape (n_samples, n_outputs)."""
        X = self._check_X(X)
        out = np.empty((X.shape[0], self.layer_sizes[-1]), dtype=self.dtype)
        self._net.forward(X, out)
        return out

    def forward(self, X):
        """The network's output for X (n_samples, n_features): softmax
        probabilities, sigmoid probabilities or linear values, shape
        (n_samples, n_outputs)."""
        out = self.logits(X)
        if self.output == "softmax":
            _kernels.softmax_rows(out)
        elif self.output == "sigmoid":
            out = _kernels.sigmoid(out.ravel()).reshape(out.shape)
        return out

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_outputs); classifier outputs only."""
        if self.output == "linear":
            raise ValueError("predict_proba needs a 'softmax' or 'sigmoid' output")
        return self.forward(X)

    def predict(self, X):
        """Class labels (softmax: argmax; sigmoid: p > 0.5 per output) or
        values (linear).  A single output column is returned as (n_samples,)."""
        out = self.logits(X)
        if self.output == "softmax":
            return out.argmax(axis=1)
        pred = (out > 0).astype(np.int64) if self.output == "sigmoid" else out
        return pred[:, 0] if pred.shape[1] == 1 else pred

    def score(self, X, y):
        """Accuracy for classifier outputs (the fraction of correct labels, or
        of correct 0/1 entries for sigmoid); R^2 for a linear output."""
        X, t = self._check_Xy(X, y)
        if self.output == "linear":
            pred = self.logits(X)
            ss_res = float(((t - pred) ** 2).sum(dtype=np.float64))
            ss_tot = float(((t - t.mean(axis=0)) ** 2).sum(dtype=np.float64))
            return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
        _, correct = self._net.evaluate(X, t)
        return correct / t.size

    # -- losses and gradients -------------------------------------------------

    def _penalty(self, l1, l2, regularize_bias, add_to_gradient=False):
        abs_sum, sq_sum, _ = self._net.penalty(l1, l2, regularize_bias, add_to_gradient)
        return l1 * abs_sum + l2 * sq_sum

    def loss(self, X, y, l1=0.0, l2=0.0, regularize_bias=False):
        """The cost on (X, y): mean data loss + l1 sum|W| + l2 sum W^2 (over
        the weights; the biases too if ``regularize_bias``).

        Returns a :class:`LossBreakdown` (total, data, penalty)."""
        l1 = check_float(l1, "l1", low=0)
        l2 = check_float(l2, "l2", low=0)
        X, t = self._check_Xy(X, y)
        data, _ = self._net.evaluate(X, t)
        penalty = self._penalty(l1, l2, regularize_bias)
        return LossBreakdown(data + penalty, data, penalty)

    def loss_and_gradients(self, X, y, l1=0.0, l2=0.0, regularize_bias=False):
        """The cost on the batch (X, y) and its gradient.

        Returns ``(loss, [(dW, db), ...])``: loss = mean data loss +
        l1 sum|W| + l2 sum W^2, and per layer the gradients (copies) with
        shapes of ``weights[l]`` and ``biases[l]``.  The penalty's gradient is
        l1 sign(W) + 2 l2 W, with sign(0) = 0.
        """
        l1 = check_float(l1, "l1", low=0)
        l2 = check_float(l2, "l2", low=0)
        X, t = self._check_Xy(X, y)
        self._check_workspace(X.shape[0])
        data = self._net.loss_and_gradients(X, t)
        penalty = self._penalty(l1, l2, regularize_bias, add_to_gradient=l1 > 0 or l2 > 0)
        g = self._net.grads
        grads = [(g[w:w + fi * fo].reshape(fi, fo).copy(), g[b:b + fo].copy())
                 for w, fi, fo, b in self._net.layout()]
        return data + penalty, grads

    def step(self, X, y, optimizer):
        """One SGD step on the batch (X, y) with ``optimizer`` (an
        :class:`initreg.SGD`); returns the batch's mean data loss before the
        update.  A non-finite loss leaves the parameters unchanged and sets
        :attr:`diverged`."""
        X, t = self._check_Xy(X, y)
        self._check_workspace(X.shape[0])
        self._use_optimizer(optimizer)
        status, loss, _ = self._net.step(X, t, **optimizer.engine_args())
        if status != _network.OK:
            self.diverged = True
        return loss

    # -- training -------------------------------------------------------------

    def fit(self, X, y, epochs=10, batch_size=32, optimizer=None, validation_data=None,
            shuffle=True, record=False, progress=False, seed=None, callbacks=None,
            early_stopping=None, raise_on_divergence=False):
        """Minibatch SGD for ``epochs`` passes over (X, y); each epoch is one
        call into the compiled core.

        Parameters
        ----------
        X : array (n_samples, n_features)
        y : labels (n_samples,) for a softmax output; 0/1 targets
            (n_samples, n_outputs) or (n_samples,) for sigmoid; values for linear.
        epochs : int >= 0
        batch_size : int >= 1
            Larger than n_samples means full-batch (it is clipped).
        optimizer : SGD, default ``SGD(lr=0.01)``
            Its L1/L2 penalties, momentum and schedule apply.  Calling ``fit``
            again with the same object continues its momentum.
        validation_data : (X_val, y_val) or None
            Evaluated after every epoch (data loss and accuracy).
        shuffle : bool
            Visit the samples in a new random order every epoch.
        record : bool
            Record per-layer statistics and weight histograms every epoch
            (see :class:`History`); costs some extra passes.
        progress : bool
            Show a progress bar (tqdm if installed).
        seed : int or None
            Seed of the shuffling; None draws it from the model's seed, so a
            seeded model trains reproducibly.
        callbacks : list of callables ``cb(model, history, epoch) -> bool``
            Called after every epoch; returning True stops training.
        early_stopping : int or None
            Patience: stop when the validation loss has not improved for that
            many epochs, and restore the weights of the best epoch.
        raise_on_divergence : bool
            Raise FloatingPointError when the loss becomes non-finite, instead
            of stopping with ``history.diverged`` set.

        Returns
        -------
        History
            Also kept as ``self.history_``.  Divergence and Ctrl-C end training
            cleanly, every parameter finite, the history covering the epochs
            completed so far: after a non-finite loss or Ctrl-C the parameters
            are those of the last completed step; after an update that
            overflowed, that step is applied except for the elements that would
            have become non-finite.
        """
        X, t = self._check_Xy(X, y)
        n = X.shape[0]
        epochs = check_int(epochs, "epochs", low=0)
        batch_size = min(check_int(batch_size, "batch_size", low=1), n)
        optimizer = SGD() if optimizer is None else optimizer
        self._use_optimizer(optimizer)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            Xv = self._check_X(validation_data[0], "validation_data[0]")
            tv = self._check_y(validation_data[1], Xv.shape[0], "validation_data[1]")
        if early_stopping is not None:
            early_stopping = check_int(early_stopping, "early_stopping", low=1)
            if validation_data is None:
                raise ValueError("early_stopping needs validation_data")
        callbacks = list(callbacks or ())
        if not all(callable(cb) for cb in callbacks):
            raise TypeError("callbacks must be callables cb(model, history, epoch)")
        if seed is not None:
            check_int(seed, "seed", low=0)
        rng = np.random.default_rng(seed if seed is not None else self._shuffle_seq.spawn(1)[0])

        hist = History()
        if validation_data is not None:
            hist.val_loss, hist.val_accuracy = np.zeros(0), np.zeros(0)
        self.history_ = hist
        self.diverged = False
        check_signals = threading.current_thread() is threading.main_thread()
        n_batches = -(-n // batch_size)
        per_sample = self.layer_sizes[-1] if self.output == "sigmoid" else 1
        best_loss, best_params, waited = np.inf, None, 0
        try:
            with Progress(epochs, "fit", enabled=progress) as bar:
                for epoch in range(epochs):
                    lr = optimizer.lr_at(epoch)
                    order = (rng.permutation(n) if shuffle else np.arange(n)).astype(np.int64)
                    stats = np.zeros((self.n_layers, len(_network.STAT_COLUMNS))) if record else None
                    losses = np.empty(n_batches)
                    start = time.perf_counter()
                    status, loss_sum, correct, seen, steps, pending = self._net.train_epoch(
                        X, t, order, batch_size, stats=stats, batch_losses=losses,
                        check_signals=check_signals, **optimizer.engine_args(lr))
                    elapsed = time.perf_counter() - start
                    hist.batch_loss = np.concatenate([hist.batch_loss, losses[:steps]])
                    if status == _network.DIVERGED:
                        hist.diverged, hist.diverged_epoch, self.diverged = True, epoch, True
                        if not raise_on_divergence:
                            warnings.warn(f"fit: non-finite loss in epoch {epoch}; stopped with "
                                          "the parameters of the last finite step", RuntimeWarning,
                                          stacklevel=2)
                        break
                    if status == _network.INTERRUPTED:
                        hist.interrupted = True
                        warnings.warn(f"fit interrupted ({type(pending).__name__}) in epoch {epoch} "
                                      f"after {steps} of {n_batches} batches; the model holds the "
                                      "parameters of the last completed step", RuntimeWarning,
                                      stacklevel=2)
                        break
                    abs_sum, sq_sum, zeros = self._net.penalty(0.0, 0.0)  # one pass: weights
                    if optimizer.regularize_bias:
                        abs_sum, sq_sum, _ = self._net.penalty(0.0, 0.0, True)
                    values = {
                        "loss": loss_sum / seen,
                        "penalty": optimizer.l1 * abs_sum + optimizer.l2 * sq_sum,
                        "accuracy": np.nan if self.output == "linear"
                        else correct / (seen * per_sample),
                        "lr": lr, "epoch_time": elapsed,
                        "sparsity": zeros / self._net.n_weights,
                    }
                    if validation_data is not None:
                        val_loss, val_correct = self._net.evaluate(Xv, tv)
                        values["val_loss"] = val_loss
                        values["val_accuracy"] = (np.nan if self.output == "linear"
                                                  else val_correct / tv.size)
                    layer_stats = self._layer_stats(stats, seen, steps) if record else None
                    hist._append_epoch(values, layer_stats,
                                       self._weight_histograms() if record else None)
                    bar.update(loss=values["loss"], **({"val_loss": values["val_loss"]}
                                                       if validation_data is not None else {}))
                    if early_stopping is not None:
                        if values["val_loss"] < best_loss:
                            best_loss, best_params, waited = values["val_loss"], \
                                self._net.params.copy(), 0
                            hist.best_epoch = epoch
                        else:
                            waited += 1
                            if waited >= early_stopping:
                                hist.stopped_early = True
                                break
                    if any(cb(self, hist, epoch) for cb in callbacks):
                        break
        except KeyboardInterrupt:
            # Ctrl-C between epochs (inside one, the compiled loop stops by itself
            # between two batches and reports it as INTERRUPTED above)
            hist.interrupted = True
            warnings.warn("fit interrupted (KeyboardInterrupt) between epochs; the model "
                          "holds the parameters of the last completed step", RuntimeWarning,
                          stacklevel=2)
        if best_params is not None and hist.best_epoch != hist.n_epochs - 1:
            self._net.params[...] = best_params
        if hist.diverged and raise_on_divergence:
            raise FloatingPointError(f"training diverged in epoch {hist.diverged_epoch} "
                                     "(non-finite loss)")
        return hist

    def _layer_stats(self, sums, seen, steps):
        """Per-layer statistics of one epoch from the engine's sums."""
        out = {k: np.zeros(self.n_layers) for k in
               ("act_mean", "act_std", "grad_std", "weight_grad_std", "weight_std",
                "weight_norm", "zero_fraction", "small_fraction")}
        for l, w in enumerate(self.weights):
            fan_out = w.shape[1]
            n_act, n_w = seen * fan_out, max(steps, 1) * w.size
            a_sum, a_sq, d_sum, d_sq, g_sum, g_sq = sums[l]
            out["act_mean"][l] = a_sum / n_act
            out["act_std"][l] = _std(a_sum, a_sq, n_act)
            out["grad_std"][l] = _std(d_sum, d_sq, n_act)
            out["weight_grad_std"][l] = _std(g_sum, g_sq, n_w)
            w64 = w.astype(np.float64)
            out["weight_std"][l] = w64.std()
            out["weight_norm"][l] = np.sqrt((w64 * w64).sum())
            out["zero_fraction"][l] = np.mean(w == 0)
            out["small_fraction"][l] = np.mean(np.abs(w) < SMALL_WEIGHT)
        return out

    def _weight_histograms(self):
        lo, hi = HIST_EDGES[0], HIST_EDGES[-1]
        return np.stack([np.histogram(np.clip(w, lo, hi), bins=HIST_EDGES)[0] for w in self.weights])

    # -- persistence ----------------------------------------------------------

    def _config(self):
        """The architecture and construction arguments, as plain values."""
        return {"layer_sizes": list(self.layer_sizes), "activation": list(self.activations),
                "init": _init.describe(self.init), "bias_init": self.bias_init,
                "output": self.output, "dtype": self.dtype.name,
                "leaky_slope": self.leaky_slope, "seed": str(self.seed)}

    @classmethod
    def _from_config(cls, config, parameters):
        """A model with the given configuration and parameter values."""
        init = _init.restore(config["init"])
        net = cls(config["layer_sizes"], config["activation"], "zeros", config["bias_init"],
                  config["output"], config["dtype"], None, config["leaky_slope"])
        net.init = init
        net._inits = [_init.get(i) for i in (init if isinstance(init, list) else
                                             [init] * net.n_layers)]
        net.seed = int(config["seed"])
        net._shuffle_seq = np.random.SeedSequence(net.seed).spawn(net.n_layers + 1)[-1]
        if parameters.shape != net.parameters.shape:
            raise ValueError(f"{parameters.size} parameters stored for a model of "
                             f"{net.n_params}")
        net.parameters[...] = parameters
        return net

    def save(self, path):
        """Write the model to ``path`` (an .npz file: architecture, parameters,
        format version; no pickled objects).  Atomic: a temporary file in the
        same directory is renamed over ``path``, so a crash never leaves a
        half-written model.  The optimiser state is not saved."""
        from initreg.persistence import save_model
        save_model(self, path)

    @classmethod
    def load(cls, path):
        """A model saved by :meth:`save`.  Raises ValueError for a truncated,
        corrupt or foreign file, OSError (IsADirectoryError, FileNotFoundError)
        for a wrong path."""
        from initreg.persistence import load_model
        return load_model(path)

    def __getstate__(self):
        return {"config": self._config(), "parameters": self.parameters.copy(),
                "diverged": self.diverged}

    def __setstate__(self, state):
        other = MLP._from_config(state["config"], state["parameters"])
        self.__dict__.update(other.__dict__)
        self.diverged = state["diverged"]

    # -- layer-by-layer access (experiments) ----------------------------------

    def trace(self, X, y=None):
        """Forward (and, given targets y, backward) one batch, keeping every
        layer's signals.

        Returns a :class:`Trace` with, for each layer l, the pre-activations
        Z_l = A_{l-1} W_l + b_l, the activations A_l = f(Z_l) (the last
        layer's are its logits) and, with y, the back-propagated gradients
        dLoss/dZ_l and the batch's mean data loss; all of shape
        (n_samples, fan_out).  The batch is processed in one piece."""
        X = self._check_X(X)
        t = None if y is None else self._check_y(y, X.shape[0])
        self._check_workspace(X.shape[0])
        loss, activations, gradients = self._net.trace(X, t)
        inputs = [X] + activations[:-1]
        pre = [a @ w + b for a, w, b in zip(inputs, self.weights, self.biases)]
        return Trace(pre, activations, gradients, loss)


def _std(total, total_sq, count):
    mean = total / count
    return float(np.sqrt(max(total_sq / count - mean * mean, 0.0)))

