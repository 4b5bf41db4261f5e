"""The dense network (multi-layer perceptron) and its training loop.

:class:`MLP` is the validation boundary in front of the compiled engine
(:class:`initreg._core._network.Network`): it checks and converts every
argument once, then hands C-contiguous arrays of the model's dtype to the
engine, which trusts them.
"""
from __future__ import annotations

import contextlib
import numbers
from typing import NamedTuple

import numpy as np

from initreg import _fit, persistence
from initreg import init as _init
from initreg._core import _kernels, _network
from initreg._progress import Progress
from initreg._validation import (MAX_DIM, as_float_array, as_labels, as_targets, check_choice,
                                 check_dtype, check_float, check_int, check_memory)
from initreg._vocabulary import LEAKY_SLOPE, OUTPUTS
from initreg._vocabulary import activation as _activation
from initreg.history import History
from initreg.optim import Optimizer

__all__ = ["MLP", "LossBreakdown", "Trace"]


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
        :data:`initreg.init.INITIALIZERS` ("xavier", "glorot", "he", "small",
        ...) or a callable ``f((fan_in, fan_out), *, rng, dtype) -> array``.
    bias_init : float or callable
        The value of every bias, or an initializer called with the shape
        ``(1, fan_out)`` (``ir.init.normal(std=0.05)`` draws random biases).
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

    Notes
    -----
    Every argument is fixed once the model is built: the attributes that
    describe it are read-only (:meth:`reinitialize` draws new weights from a
    new seed).  :attr:`weights` and :attr:`biases` are writable views into
    one flat parameter buffer (:attr:`parameters`): writing into them changes
    the model.
    """

    def __init__(self, layer_sizes, *, activation="tanh", init="xavier", bias_init=0.0,
                 output="softmax", dtype="float32", seed=None, leaky_slope=LEAKY_SLOPE):
        self._setup(layer_sizes, activation, init, bias_init, output, dtype, leaky_slope)
        self._draw(seed)

    # -- construction ---------------------------------------------------------

    def _setup(self, layer_sizes, activation, init, bias_init, output, dtype, leaky_slope):
        """Check the architecture and build the engine (parameters zero)."""
        sizes = self._check_sizes(layer_sizes)
        n_layers = len(sizes) - 1
        self._dtype = check_dtype(dtype)
        self._output = check_choice(output, "output", tuple(OUTPUTS))
        if self._output == "softmax" and sizes[-1] < 2:
            raise ValueError(f"output='softmax' needs at least 2 units in layer_sizes[-1], "
                             f"got {sizes[-1]}; use output='sigmoid' for a single binary "
                             "output")
        self._leaky_slope = check_float(leaky_slope, "leaky_slope", low=0, high=1,
                                        high_open=True)
        self._activations = self._per_hidden_layer(activation, n_layers)
        inits = list(init) if isinstance(init, (list, tuple)) else [init] * n_layers
        if len(inits) != n_layers:
            raise ValueError(f"init has {len(inits)} entries for {n_layers} layers")
        self._inits = [_init.get(i) for i in inits]
        self._init = list(init) if isinstance(init, (list, tuple)) else init
        if callable(bias_init):
            self._bias_init = bias_init
        else:
            self._bias_init = check_float(bias_init, "bias_init")
        self._layer_sizes = tuple(sizes)
        check_memory(sum(a * b + b for a, b in zip(sizes, sizes[1:])) * self.dtype.itemsize * 4,
                     f"layer_sizes {sizes} (parameters, gradients and optimizer state)")
        codes = [_activation(a).code for a in self._activations] + [_kernels.IDENTITY]
        self._net = _network.Network(sizes, codes, [self._leaky_slope] * n_layers,
                                     OUTPUTS[self._output], self._dtype == np.float64)
        params = self._net.params
        self._weights = [params[w:w + fi * fo].reshape(fi, fo)
                         for w, fi, fo, _ in self._net.layout()]
        self._biases = [params[b:b + fo] for _, _, fo, b in self._net.layout()]
        self._seed = None
        self._epochs_trained = 0
        self._diverged = False

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
        if isinstance(activation, str):
            names = [activation] * n_hidden
        elif isinstance(activation, (list, tuple)):
            names = list(activation)
        else:
            raise TypeError(f"activation must be a name or a list of names, got {activation!r}")
        if len(names) != n_hidden:
            raise ValueError(f"activation has {len(names)} entries for {n_hidden} hidden layers")
        return tuple(_activation(a).name for a in names)

    def _draw(self, seed):
        """Draw every layer's weights (and biases) from ``seed``'s streams.
        Nothing changes unless every initializer succeeds."""
        if seed is not None:
            check_int(seed, "seed", low=0)
        seq = np.random.SeedSequence(seed)
        values = []
        for layer, (w, f, child) in enumerate(zip(self._weights, self._inits,
                                                  seq.spawn(self.n_layers))):
            value = np.asarray(f(w.shape, rng=np.random.default_rng(child), dtype=self.dtype))
            if value.shape != w.shape:
                raise ValueError(f"initializer {f!r} returned shape {value.shape} for "
                                 f"layer {layer}, expected {w.shape}")
            if callable(self._bias_init):
                bias = np.asarray(self._bias_init((1, w.shape[1]), dtype=self.dtype,
                                                  rng=np.random.default_rng(child.spawn(1)[0])))
                if bias.shape != (1, w.shape[1]):
                    raise ValueError(f"bias_init {self._bias_init!r} returned shape "
                                     f"{bias.shape} for layer {layer}, expected "
                                     f"{(1, w.shape[1])}")
            else:
                bias = np.full((1, w.shape[1]), self._bias_init)
            for what, v in (("initializer", value), ("bias_init", bias)):
                if not np.isfinite(np.asarray(v, dtype=np.float64)).all():
                    raise ValueError(f"{what} returned non-finite values for layer {layer}")
            values.append((value, bias[0]))
        with self._exclusive():
            for (value, bias), w, b in zip(values, self._weights, self._biases):
                w[...] = value
                b[...] = bias
            self._seed = seq.entropy
            self._epochs_trained = 0
            self._diverged = False

    def reinitialize(self, seed=None):
        """Draw fresh initial parameters (same architecture and initializers)
        from ``seed`` (None: fresh entropy; ``net.seed`` repeats the model's
        own draw).  An optimizer keeps its state: call its ``reset()`` to
        start it afresh too."""
        self._draw(seed)
        return self

    def _scratch_copy(self):
        """A model of the same architecture with its own, zero parameters."""
        other = type(self).__new__(type(self))
        other._setup(self.layer_sizes, self.activations, self._init, self._bias_init,
                     self.output, self.dtype, self.leaky_slope)
        other._seed = self._seed
        return other

    @contextlib.contextmanager
    def _exclusive(self):
        """Hold the engine's guard: RuntimeError, before anything is touched,
        while another thread trains or predicts with this model."""
        self._net.acquire()
        try:
            yield
        finally:
            self._net.release()

    def _assign_parameters(self, values, *, reinitialized=False):
        """Replace every parameter in one piece (under the guard)."""
        with self._exclusive():
            self._net.params[...] = values
            if reinitialized:
                self._epochs_trained = 0
                self._diverged = False

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
    def init(self):
        """The ``init`` argument the weights were drawn with."""
        return self._init

    @property
    def bias_init(self):
        """The ``bias_init`` argument the biases were drawn with."""
        return self._bias_init

    @property
    def seed(self):
        """The entropy the initial parameters were drawn from (an int)."""
        return self._seed

    @property
    def epochs_trained(self):
        """Epochs :meth:`fit` has completed since the parameters were drawn
        (it numbers the epochs' sample orders)."""
        return self._epochs_trained

    @property
    def diverged(self):
        """True after a step or fit met a non-finite loss or update (see
        :class:`initreg.History`); cleared by the next fit that starts."""
        return self._diverged

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

    @property
    def weights(self):
        """Per layer, the weight matrix (fan_in, fan_out): writable views."""
        return list(self._weights)

    @property
    def biases(self):
        """Per layer, the bias vector (fan_out,): writable views."""
        return list(self._biases)

    def __repr__(self):
        acts = ",".join(sorted(set(self.activations))) or "-"
        return (f"MLP({' -> '.join(map(str, self.layer_sizes))}, activation={acts}, "
                f"output={self.output}, init={self.init!r}, dtype={self.dtype.name}, "
                f"params={self.n_params})")

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

    @staticmethod
    def _check_optimizer(optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an initreg optimizer (initreg.SGD, ...), got "
                            f"{type(optimizer).__name__}")
        return optimizer

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

    def jacobian(self, X, *, layer=-1):
        """The input-output Jacobian at every row of X: ``J[i, o, j] =
        d z_o / d x_j`` at ``X[i]``, where z are the pre-activations of layer
        ``layer`` (0-based; negative counts from the top; default -1, the
        logits), shape (n_samples, that layer's width, n_features) -- the
        chain ``W_l^T D_{l-1} W_{l-1}^T ... D_0 W_0^T`` with D = diag(f'(z)).

        Computed in compiled code, a chunk of rows at a time with one BLAS
        product per layer for all of them, in the model's dtype.  Refused
        (ValueError, with the size) when the result would not fit in memory.
        """
        layer = check_int(layer, "layer", low=-self.n_layers, high=self.n_layers - 1)
        layer %= self.n_layers
        X = self._check_X(X)
        n, n_out, n_in = X.shape[0], self.layer_sizes[layer + 1], self.layer_sizes[0]
        width = max(self.layer_sizes[:layer + 1])
        # a chunk's scratch (two stacked chains and the derivatives) of about 64 MiB
        chunk = int(max(1, min(n, 256, (64 << 20) // (2 * n_out * width * self.dtype.itemsize))))
        check_memory(n * n_out * n_in * self.dtype.itemsize
                     + self._net.jacobian_bytes(layer, chunk),
                     f"the Jacobian of {n} rows, {n} x {n_out} x {n_in}")
        out = np.empty((n, n_out, n_in), dtype=self.dtype)
        self._net.jacobian(X, out, layer, chunk)
        return out

    # -- losses and gradients -------------------------------------------------

    def _penalty(self, l1, l2, regularize_bias, add_to_gradient=False):
        abs_sum, sq_sum, _ = self._net.penalty(l1, l2, regularize_bias, add_to_gradient)
        return l1 * abs_sum + l2 * sq_sum

    def loss(self, X, y, *, l1=0.0, l2=0.0, regularize_bias=False):
        """The cost on (X, y): mean data loss + l1 sum|W| + l2 sum W^2 (over
        the weights; the biases too if ``regularize_bias``).

        Returns a :class:`LossBreakdown` (total, data, penalty)."""
        l1 = check_float(l1, "l1", low=0)
        l2 = check_float(l2, "l2", low=0)
        X, t = self._check_Xy(X, y)
        data, _ = self._net.evaluate(X, t)
        penalty = self._penalty(l1, l2, regularize_bias)
        return LossBreakdown(data + penalty, data, penalty)

    def loss_and_gradients(self, X, y, *, l1=0.0, l2=0.0, regularize_bias=False):
        """The cost on the batch (X, y) and its gradient, in one piece.

        Returns ``(loss, grads)``: loss = mean data loss + l1 sum|W| +
        l2 sum W^2, and per layer the gradients (copies) with shapes of
        ``weights[l]`` and ``biases[l]``.  The penalty's gradient is
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
        """One training step on the batch (X, y) with ``optimizer`` (an
        :class:`initreg.SGD`, ...), at the learning rate of its current
        :attr:`~initreg.optim.Optimizer.epoch`.  Returns the batch's mean data
        loss before the update.  A non-finite loss leaves the parameters and
        the optimizer's state unchanged and sets :attr:`diverged`."""
        X, t = self._check_Xy(X, y)
        self._check_workspace(X.shape[0])
        state = self._check_optimizer(optimizer)._bind(self)
        if optimizer.schedule is not None:
            state.lr = optimizer.lr_at(optimizer.epoch)
        status, loss, _ = self._net.step(X, t, state)
        if status != _network.OK:
            self._diverged = True
        return loss

    # -- training -------------------------------------------------------------

    def fit(self, X, y, *, epochs=10, batch_size=32, optimizer=None, validation_data=None,
            shuffle=True, record=False, progress=False, seed=None, callbacks=None,
            on_divergence="warn"):
        """Minibatch training for ``epochs`` passes over (X, y); each epoch is
        one call into the compiled core.

        Parameters
        ----------
        X : array (n_samples, n_features)
        y : labels (n_samples,) for a softmax output; 0/1 targets
            (n_samples, n_outputs) or (n_samples,) for sigmoid; values for linear.
        epochs : int >= 0
            Epochs to train in this call.
        batch_size : int >= 1
            Larger than n_samples means full-batch (it is clipped).
        optimizer : Optimizer, default ``SGD()``
            Its penalties, momentum and schedule apply, and it keeps its
            state between calls: fitting again with the same object continues
            where the last call stopped.
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
            Seed of the shuffling; None uses the model's :attr:`seed`.  The
            order of the model's k-th epoch (k = :attr:`epochs_trained`)
            depends on the seed and k alone, so a run continued from a
            checkpoint with the same arguments sees the same orders as one
            uninterrupted run.
        callbacks : list of callables ``cb(model, history, epoch) -> bool``
            Called after every epoch; returning True stops training (see
            :mod:`initreg.callbacks`, e.g. :class:`initreg.EarlyStopping`).
        on_divergence : {"warn", "raise", "ignore"}
            When the loss becomes non-finite: stop with a RuntimeWarning,
            raise FloatingPointError, or stop silently; the history records
            it in every case.

        Returns
        -------
        History
            Also kept as ``self.history_``.  What the model holds after
            divergence or Ctrl-C (which fit passes on as KeyboardInterrupt,
            once the model is consistent) is stated in :class:`History`.

        Notes
        -----
        While fit runs, the model and the optimizer belong to its thread:
        calls from another thread raise RuntimeError.
        """
        plan = _fit.plan(self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                         validation_data=validation_data, shuffle=shuffle, record=record,
                         progress=progress, seed=seed, callbacks=callbacks,
                         on_divergence=on_divergence)
        opt = plan.optimizer
        hist = History()
        if plan.validation is not None:
            hist.val_loss, hist.val_accuracy = np.zeros(0), np.zeros(0)
        with self._exclusive():
            begun = []
            try:  # a callback that refuses the run refuses it before anything changes
                for cb in plan.callbacks:
                    if hasattr(cb, "on_train_begin"):
                        cb.on_train_begin(self, hist)
                    begun.append(cb)
                state = opt._bind(self)
                state.acquire()
            except BaseException:
                self._end_callbacks(begun, hist)
                raise
            try:
                self.history_ = hist
                self._diverged = False
                self._fit_epochs(plan, state, hist, begun)
            finally:
                state.release()
        if hist.diverged:
            message = (f"training diverged in epoch {hist.diverged_epoch} (non-finite loss); "
                       "the model is back where that epoch started (see History)")
            _fit.report_divergence(message, plan.on_divergence, stacklevel=2)
        return hist

    def _fit_epochs(self, plan, state, hist, callbacks):
        """fit's loop: every epoch starts from a snapshot that a diverged or
        interrupted epoch rolls back to, and is recorded whole or not at all."""
        opt = plan.optimizer
        snapshot = None  # while not None, an epoch is under way: roll back to it
        try:
            with Progress(plan.epochs, "fit", enabled=plan.progress) as bar:
                for epoch in range(plan.epochs):
                    snapshot = _fit.Snapshot.take(self, opt, state)
                    record = _fit.run_epoch(self, plan, state, opt.lr_at(opt.epoch))
                    if record.status == _network.INTERRUPTED:
                        raise record.pending
                    if record.status == _network.DIVERGED:
                        with _fit.deferred_interrupts():
                            snapshot.restore(self, opt, state)
                            snapshot = None
                            hist.diverged, hist.diverged_epoch = True, epoch
                            self._diverged = True
                        break
                    with _fit.deferred_interrupts():  # the epoch counts whole, or not at all
                        hist._append_epoch(record.values, record.layer_stats,
                                           record.weight_hist, record.batch_losses)
                        self._epochs_trained += 1
                        opt.epoch += 1
                        snapshot = None
                    bar.update(loss=record.values["loss"],
                               **({"val_loss": record.values["val_loss"]}
                                  if plan.validation is not None else {}))
                    if any([cb(self, hist, epoch) for cb in callbacks]):
                        break
        except BaseException as exc:
            with _fit.deferred_interrupts():
                if snapshot is not None:
                    snapshot.restore(self, opt, state)
                hist.interrupted = isinstance(exc, KeyboardInterrupt)
            raise
        finally:
            self._end_callbacks(callbacks, hist)

    def _end_callbacks(self, callbacks, hist):
        with _fit.deferred_interrupts():
            for cb in callbacks:
                if hasattr(cb, "on_train_end"):
                    cb.on_train_end(self, hist)

    # -- persistence ----------------------------------------------------------

    def _config(self):
        """The architecture and construction arguments, as plain values."""
        bias = self._bias_init if not callable(self._bias_init) else \
            _init.describe(self._bias_init)
        return {"layer_sizes": list(self.layer_sizes), "activation": list(self.activations),
                "init": _init.describe(self._init), "bias_init": bias,
                "output": self.output, "dtype": self.dtype.name,
                "leaky_slope": self.leaky_slope, "seed": str(self.seed),
                "epochs_trained": self.epochs_trained}

    @staticmethod
    def _expected_arrays(config):
        """The arrays a saved configuration needs, by name and shape (its
        layer sizes checked, and the memory they need)."""
        model = config["model"]
        if not isinstance(model, dict):
            raise ValueError("the model configuration is not a table")
        sizes = model.get("layer_sizes")
        if not isinstance(sizes, list) or len(sizes) < 2 or not all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool)
                and 1 <= s <= MAX_DIM for s in sizes):
            raise ValueError(f"layer_sizes must be a list of at least two sizes in "
                             f"[1, {MAX_DIM}], got {str(sizes)[:200]}")
        n = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
        dtype = check_dtype(model.get("dtype"), "dtype")
        check_memory(n * dtype.itemsize * 4, f"a model of layers {sizes[:20]}")
        shapes = {"parameters": (n,)}
        opt = config["optimizer"]
        if opt is not None:
            names = opt.get("buffers") if isinstance(opt, dict) else None
            if not isinstance(names, list) or not all(isinstance(b, str) for b in names):
                raise ValueError("the optimizer configuration does not list its arrays")
            shapes.update({f"optimizer.{b}": (n,) for b in names})
        return shapes

    @classmethod
    def _from_config(cls, config, parameters):
        """A model with the given configuration and parameter values."""
        try:
            init = _init.restore(config["init"])
            bias = config["bias_init"]
            bias = _init.restore(bias) if isinstance(bias, (dict, list)) else bias
            net = cls.__new__(cls)
            net._setup(config["layer_sizes"], config["activation"], init, bias,
                       config["output"], config["dtype"], config["leaky_slope"])
            seed = int(config["seed"])
            epochs_trained = check_int(config.get("epochs_trained", 0), "epochs_trained", low=0)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"the configuration does not describe a model: {exc!r}") from None
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        values = np.asarray(parameters)
        if values.shape != net.parameters.shape:
            raise ValueError(f"{values.size} parameters for a model of {net.n_params}")
        with np.errstate(over="ignore", invalid="ignore"):
            cast = values.astype(net.dtype)
        if not _kernels.all_finite(cast):
            raise ValueError(f"the parameters hold NaN or infinity (as {net.dtype.name})")
        net._net.params[...] = cast
        net._seed, net._epochs_trained = seed, epochs_trained
        return net

    def save(self, path, *, optimizer=None):
        """Write the model -- and, given ``optimizer``, that optimizer's
        state -- to ``path``: an .npz file of the configuration (JSON), the
        parameters and the optimizer's arrays, no pickled objects.  Atomic
        (see :mod:`initreg.persistence`): a crash never leaves a half-written
        file.  :meth:`load` reads the model back, :func:`initreg.load_checkpoint`
        the model and the optimizer.

        RuntimeError, and nothing written, while another thread trains this
        model."""
        persistence.write(path, *self._saved(optimizer))

    def to_bytes(self, *, optimizer=None):
        """The bytes :meth:`save` would write to a file, made in memory (to
        send over a network, say); written to a file, :meth:`load` and
        :func:`initreg.load_checkpoint` read them."""
        return persistence.dumps(*self._saved(optimizer))

    def _saved(self, optimizer):
        """(configuration, arrays) of the model and the optimizer's state."""
        config, arrays = {"model": None, "optimizer": None}, {}
        if optimizer is not None:
            self._check_optimizer(optimizer)._check_trains(self)
        with self._exclusive():  # model and optimizer from the same moment
            if optimizer is not None:
                state = optimizer.state_dict()
                buffers = state.pop("buffers")
                config["optimizer"] = {**state, "buffers": sorted(buffers)}
                arrays.update({f"optimizer.{k}": v for k, v in buffers.items()})
            arrays["parameters"] = self.parameters.copy()
            config["model"] = self._config()
        return config, arrays

    @classmethod
    def load(cls, path):
        """A model saved by :meth:`save` (an optimizer saved with it is not
        read; see :func:`initreg.load_checkpoint`).  Raises ValueError naming
        the file for a truncated, corrupt, oversized or foreign file, OSError
        (IsADirectoryError, FileNotFoundError) for a wrong path."""
        return cls._read(path)[0]

    @classmethod
    def _read(cls, path):
        """(model, optimizer configuration or None, optimizer arrays)."""
        config, arrays = persistence.read(path, cls._expected_arrays)
        try:
            net = cls._from_config(config["model"], arrays.pop("parameters"))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        buffers = {k.removeprefix("optimizer."): v for k, v in arrays.items()}
        return net, config["optimizer"], buffers

    def __getstate__(self):
        with self._exclusive():
            return {"config": self._config(), "parameters": self.parameters.copy(),
                    "diverged": self.diverged}

    def __setstate__(self, state):
        other = MLP._from_config(state["config"], state["parameters"])
        self.__dict__.update(other.__dict__)
        self._diverged = state["diverged"]

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
        pre = [a @ w + b for a, w, b in zip(inputs, self._weights, self._biases)]
        return Trace(pre, activations, gradients, loss)
