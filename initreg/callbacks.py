"""Callbacks of :meth:`initreg.MLP.fit`.

A callback is any callable ``cb(model, history, epoch) -> bool``, called
after every completed epoch (``epoch`` counts from 0 within the call);
returning True stops training.  It may also have ``on_train_begin(model,
history)``, called before the first epoch (raising there refuses the call
before anything is trained), and ``on_train_end(model, history)``, called
once training stops for any reason.
"""
from __future__ import annotations

import numpy as np

from initreg._validation import check_bool, check_float, check_int

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience``
    epochs, and restore the parameters of the best epoch.

    Parameters
    ----------
    patience : int >= 1
        Epochs without improvement to wait.
    min_delta : float >= 0
        An improvement must lower the validation loss by more than this.
    restore_best : bool
        Put back the parameters of the best epoch when training ends.

    Notes
    -----
    Needs ``validation_data`` in :meth:`~initreg.MLP.fit`.  Sets
    ``history.best_epoch`` and ``history.stopped_early``.
    """

    def __init__(self, patience=10, *, min_delta=0.0, restore_best=True):
        self.patience = check_int(patience, "patience", low=1)
        self.min_delta = check_float(min_delta, "min_delta", low=0)
        self.restore_best = check_bool(restore_best, "restore_best")
        self._best, self._best_params, self._waited = np.inf, None, 0

    def __repr__(self):
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
                f"restore_best={self.restore_best})")

    def on_train_begin(self, model, history):
        if history.val_loss is None:
            raise ValueError("EarlyStopping needs validation_data")
        self._best, self._best_params, self._waited = np.inf, None, 0

    def __call__(self, model, history, epoch):
        loss = float(history.val_loss[-1])
        if loss < self._best - self.min_delta:
            self._best, self._waited = loss, 0
            self._best_params = model.parameters.copy() if self.restore_best else None
            history.best_epoch = epoch
            return False
        self._waited += 1
        if self._waited >= self.patience:
            history.stopped_early = True
            return True
        return False

    def on_train_end(self, model, history):
        if self._best_params is not None and history.best_epoch != history.n_epochs - 1:
            model._assign_parameters(self._best_params)
        self._best_params = None
