"""scikit-learn compatible estimators over :class:`initreg.MLP` (needs the
``sklearn`` extra: ``pip install "initreg[sklearn]"``).

They take scikit-learn's conventions at the edge -- any label values, pandas
input, ``get_params``/``set_params``, ``classes_``, ``n_features_in_`` -- and
train with initreg's compiled core.  The penalties are initreg's: ``l2`` adds
``l2 * sum W**2`` to the mean loss (scikit-learn's ``alpha`` is
``2 * batch_size * l2``; see :mod:`initreg.regularization`).

Their defaults follow scikit-learn's ``MLPClassifier``: ``solver="adam"``
with ``lr=0.001`` (its ``learning_rate_init``), ``beta_1=0.9``,
``beta_2=0.999``, ``epsilon=1e-8``; ``solver="sgd"`` with ``momentum=0.9``;
200 epochs -- not initreg's own (:data:`initreg.optim.DEFAULT_LR`), so that
code moved from scikit-learn trains the same way.  ``solver="adamw"`` is
Adam with decoupled ``weight_decay``.
"""
from __future__ import annotations

import numbers

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised without scikit-learn
    raise ImportError("initreg.MLPClassifier and MLPRegressor need scikit-learn: "
                      'pip install "initreg[sklearn]"') from exc

from initreg._vocabulary import activation
from initreg.callbacks import EarlyStopping
from initreg.datasets import train_test_split
from initreg.model import MLP
from initreg.optim import DEFAULT_L1_MODE, OPTIMIZERS

__all__ = ["MLPClassifier", "MLPRegressor"]


class _BaseMLP(BaseEstimator):
    """Shared parameters and training of the two estimators."""

    _output: str | None = None

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", init="auto",
                 solver="adam", l1=0.0, l2=0.0, weight_decay=0.0, l1_mode=DEFAULT_L1_MODE,
                 lr=0.001, momentum=0.9, nesterov=False, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, batch_size=32, epochs=200, dtype="auto", random_state=None,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 shuffle=True, verbose=False, warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.solver = solver
        self.l1 = l1
        self.l2 = l2
        self.weight_decay = weight_decay
        self.l1_mode = l1_mode
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.epochs = epochs
        self.dtype = dtype
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.verbose = verbose
        self.warm_start = warm_start

    # -- helpers ------------------------------------------------------------------

    def _hidden(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        return list(sizes)

    def _seed(self):
        # A reproducible int seed from whatever random_state scikit-learn allows.
        if self.random_state is None:
            return None
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state) % 2**32
        return int(check_random_state(self.random_state).randint(2**31))

    def _optimizer(self):
        """The optimizer class of ``solver`` and its settings."""
        if self.solver not in OPTIMIZERS:
            raise ValueError(f"solver must be one of {', '.join(map(repr, OPTIMIZERS))}; got "
                             f"{self.solver!r}")
        settings = dict(lr=self.lr, l1=self.l1, l2=self.l2, weight_decay=self.weight_decay,
                        l1_mode=self.l1_mode)
        if self.solver == "sgd":
            settings.update(momentum=self.momentum, nesterov=self.nesterov)
        else:
            settings.update(betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        return OPTIMIZERS[self.solver], settings

    def _model_dtype(self, X):
        if self.dtype == "auto":
            return "float32" if X.dtype == np.float32 else "float64"
        return self.dtype

    def _build(self, X, n_out):
        init = self.init
        if init == "auto":
            init = activation(self.activation).init
        self.model_ = MLP([X.shape[1], *self._hidden(), n_out], activation=self.activation,
                          init=init, output=self._output, dtype=self._model_dtype(X),
                          seed=self._seed())
        self.__dict__.pop("_optimizer_", None)  # its state belonged to the old model

    def _train(self, X, t, epochs, incremental):
        """Train ``epochs`` epochs.  ``fit`` starts a fresh optimizer (a warm
        start keeps the weights only, as scikit-learn's MLP does);
        ``partial_fit`` continues the optimizer's state with the current
        settings (``set_params`` between calls takes effect, momentum kept)."""
        cls, settings = self._optimizer()
        if incremental and type(getattr(self, "_optimizer_", None)) is cls:
            self._optimizer_.set(**settings)
        else:
            self._optimizer_ = cls(**settings)
        validation, callbacks = None, []
        if self.early_stopping and epochs > 0:
            stratify = self._output == "softmax"
            X, Xv, t, tv = train_test_split(X, t, test_size=self.validation_fraction,
                                            seed=self._seed(), stratify=stratify)
            validation = (Xv, tv)
            callbacks.append(EarlyStopping(self.n_iter_no_change))
        # seed=None: the model's own stream, reproducible from random_state;
        # every epoch (of partial_fit too) gets a new order
        history = self.model_.fit(X, t, epochs=epochs, batch_size=self.batch_size,
                                  optimizer=self._optimizer_, validation_data=validation,
                                  shuffle=self.shuffle, progress=self.verbose,
                                  callbacks=callbacks)
        self.history_ = history
        self.n_iter_ = getattr(self, "n_iter_", 0) + history.n_epochs
        self.loss_curve_ = list(history.loss)
        self.loss_ = float(history.loss[-1]) if history.n_epochs else np.nan
        return self

    @property
    def coefs_(self):
        """Weight matrices (fan_in, fan_out), as scikit-learn's MLP names them."""
        check_is_fitted(self, "model_")
        return self.model_.weights

    @property
    def intercepts_(self):
        """Bias vectors, as scikit-learn's MLP names them."""
        check_is_fitted(self, "model_")
        return self.model_.biases


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier trained by initreg's compiled core.

    Softmax output with cross-entropy (also for two classes). Parameters as
    :class:`initreg.MLP`, :class:`initreg.SGD` (``solver="sgd"``) and
    :class:`initreg.Adam` (``solver="adam"``, ``"adamw"``; ``beta_1``,
    ``beta_2``, ``epsilon`` as scikit-learn names them); ``init="auto"`` is
    "he" for (leaky) ReLU and "glorot" otherwise; ``dtype="auto"`` keeps
    float32 input in float32 and computes everything else in float64.

    Attributes: ``classes_``, ``n_features_in_``, ``model_`` (the
    :class:`initreg.MLP`), ``history_``, ``loss_curve_``, ``n_iter_``.
    """

    _output = "softmax"

    def fit(self, X, y):
        """Train from scratch (or continue, with ``warm_start``) for ``epochs``."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        if not (self.warm_start and hasattr(self, "model_")):
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs at least 2 classes in y; got "
                                 f"{len(self.classes_)} class")
            self._build(X, len(self.classes_))
            self.n_iter_ = 0
        return self._train(X, self._encode(y), self.epochs, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y).  The first call needs ``classes`` (all labels)."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("classes must be given in the first call to partial_fit")
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError("classes must hold at least 2 labels")
            self._build(X, len(self.classes_))
            self.n_iter_ = 0
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {np.unique(classes)} differ from the first call's "
                             f"{self.classes_}")
        return self._train(X, self._encode(y), 1, incremental=True)

    def _encode(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if unknown.any():
            raise ValueError(f"y holds labels not in classes_: {np.unique(y[unknown])}")
        return idx

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in
        ``classes_`` order."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.model_.predict_proba(X).astype(np.float64)

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each sample."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.classes_[self.model_.predict(X)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor (identity output, mean squared
    error) trained by initreg's compiled core; parameters as
    :class:`MLPClassifier`.  One or several targets.

    The targets are standardized for training (each column to zero mean and
    unit variance, statistics of the first ``fit``), so the default step size
    works whatever their scale; predictions are mapped back.  The losses in
    ``history_`` are in standardized units.
    """

    _output = "linear"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Train from scratch (or continue, with ``warm_start``) for ``epochs``."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=True)
        if not (self.warm_start and hasattr(self, "model_")):
            self._build(X, 1 if y.ndim == 1 else y.shape[1])
            self._set_target_scale(y)
            self.n_iter_ = 0
        return self._train(X, self._scale(y), self.epochs, incremental=False)

    def partial_fit(self, X, y):
        """One epoch on (X, y)."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=True, reset=first)
        if first:
            self._build(X, 1 if y.ndim == 1 else y.shape[1])
            self._set_target_scale(y)
            self.n_iter_ = 0
        return self._train(X, self._scale(y), 1, incremental=True)

    def _set_target_scale(self, y):
        self._y_1d = y.ndim == 1
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        self.target_mean_ = y2.mean(axis=0)
        std = y2.std(axis=0)
        self.target_std_ = np.where(std > 0, std, 1.0)

    def _scale(self, y):
        return (np.asarray(y, dtype=np.float64).reshape(len(y), -1) - self.target_mean_) \
            / self.target_std_

    def predict(self, X):
        """Predicted values, (n_samples,) for a single target."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        out = self.model_.logits(X).astype(np.float64) * self.target_std_ + self.target_mean_
        return out[:, 0] if self._y_1d else out
