"""The record of a training run, returned by :meth:`initreg.MLP.fit`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from initreg._serialize import Serializable

__all__ = ["History", "LAYER_STATS", "HIST_EDGES", "SMALL_WEIGHT"]

#: Per-layer statistics recorded with ``fit(record=True)``, each an array of
#: shape (n_epochs, n_layers):
LAYER_STATS = {
    "act_mean": "mean of the layer's outputs over the epoch's batches",
    "act_std": "std of the layer's outputs (activations; logits for the last layer)",
    "grad_std": "std of the back-propagated gradient dLoss/dZ at the layer",
    "weight_grad_std": "std of the weight gradient dLoss/dW (data loss), over the epoch",
    "weight_std": "std of the weights at the end of the epoch",
    "weight_norm": "Frobenius norm of the weights at the end of the epoch",
    "zero_fraction": "fraction of weights exactly 0 at the end of the epoch",
    "small_fraction": "fraction of weights with |w| < 1e-3 at the end of the epoch",
}
#: Threshold of ``small_fraction``.
SMALL_WEIGHT = 1e-3
#: Fixed bin edges of the recorded weight histograms: 100 bins on [-1, 1];
#: weights outside are counted in the outermost bins.
HIST_EDGES = np.linspace(-1.0, 1.0, 101)


@dataclass
class History(Serializable):
    """What happened during :meth:`initreg.MLP.fit`, epoch by epoch.

    Shapes below: E completed epochs, S optimisation steps, L layers.

    Attributes
    ----------
    loss : (E,)
        Mean data loss over the epoch's batches (running: the weights change
        during the epoch).
    penalty : (E,)
        ``l1 * sum|W| + l2 * sum W**2`` at the end of the epoch.
    accuracy : (E,)
        Running training accuracy of the epoch (NaN for a linear output).
    val_loss, val_accuracy : (E,) or None
        Data loss and accuracy on ``validation_data`` after each epoch.
    lr : (E,)
        Learning rate used in each epoch.
    epoch_time : (E,)
        Wall time of each epoch in seconds (training only).
    batch_loss : (S,)
        The loss of every step, in order.
    sparsity : (E,)
        Fraction of all weights that are exactly 0 at the end of each epoch.
    layer_stats : dict of (E, L) arrays, or None
        With ``record=True``: see :data:`LAYER_STATS`.
    weight_hist : (E, L, 100) or None
        With ``record=True``: counts of each layer's weights on
        :data:`HIST_EDGES` at the end of each epoch.
    diverged : bool, diverged_epoch : int or None
        Training stopped because a loss was not finite, in that (0-based)
        epoch; see below for what the model then holds.
    interrupted : bool
        Stopped by Ctrl-C (KeyboardInterrupt, which fit raised).
    stopped_early : bool, best_epoch : int or None
        Early stopping on the validation loss ended the run
        (:class:`initreg.EarlyStopping`); ``best_epoch`` is the epoch whose
        parameters it restored.

    Notes
    -----
    When training stops early -- this is the contract every other part of
    initreg refers to:

    - :meth:`~initreg.MLP.fit`, a non-finite loss or an update that would
      overflow: the model and its optimizer's state go back to where they
      were at the start of the epoch in which it happened (``diverged_epoch``);
      the epochs before it are kept, and recorded.  The model predicts
      finite values and training can go on, with a smaller learning rate.
    - ``fit``, Ctrl-C: the same rollback to the start of the epoch that was
      running; fit then raises KeyboardInterrupt, and ``model.history_``
      holds the completed epochs (``interrupted`` set).  A second Ctrl-C
      while fit puts the model back is held until it is done.
    - Each recorded epoch is whole: every per-epoch array has one entry per
      completed epoch, and ``batch_loss`` the steps of those epochs.
    - :meth:`~initreg.MLP.step`, a non-finite loss: the step changes nothing.
      An update that would overflow: the step is applied except for the
      elements that would become NaN or infinity, which keep their values.
    """

    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    penalty: np.ndarray = field(default_factory=lambda: np.zeros(0))
    accuracy: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_loss: np.ndarray | None = None
    val_accuracy: np.ndarray | None = None
    lr: np.ndarray = field(default_factory=lambda: np.zeros(0))
    epoch_time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    batch_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sparsity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    layer_stats: dict | None = None
    weight_hist: np.ndarray | None = None
    hist_edges: np.ndarray | None = None
    diverged: bool = False
    diverged_epoch: int | None = None
    interrupted: bool = False
    stopped_early: bool = False
    best_epoch: int | None = None

    @property
    def n_epochs(self):
        """Number of completed epochs."""
        return len(self.loss)

    def _append(self, name, value):
        old = getattr(self, name)
        value = np.asarray(value, dtype=np.float64)[None]
        setattr(self, name, value if old is None else np.concatenate([old, value]))

    def _append_epoch(self, values, layer_stats=None, weight_hist=None, batch_losses=None):
        if batch_losses is not None:
            self.batch_loss = np.concatenate([self.batch_loss, batch_losses])
        for name, value in values.items():
            self._append(name, value)
        if layer_stats is not None:
            if self.layer_stats is None:
                self.layer_stats = {k: np.zeros((0, len(v))) for k, v in layer_stats.items()}
            for k, v in layer_stats.items():
                self.layer_stats[k] = np.concatenate([self.layer_stats[k], np.asarray(v)[None]])
            self._append("weight_hist", weight_hist)
            self.hist_edges = HIST_EDGES.copy()
