"""What every experiment shares: the result base class, the one training
recipe, data preparation, seeds."""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from initreg import datasets as _ds
from initreg._serialize import Serializable


@dataclasses.dataclass
class Result(Serializable):
    """Base of the experiment results: dataclasses of NumPy arrays and
    metadata that serialise to JSON (``to_dict``, ``to_json``) and draw
    themselves (``plot()``: a dict of named matplotlib figures, needs the
    ``report`` extra)."""

    def plot(self):
        raise NotImplementedError

    @property
    def kind(self):
        return type(self).__name__.removesuffix("Result").lower()


def train_model(data, sizes, *, activation, init, seed, optimizer, epochs, batch_size,
                dtype="float32", validate=False, record=False, bias_init=0.0,
                output="softmax", callbacks=None):
    """The one training recipe of the experiments: a seeded MLP fitted on
    ``data``; divergence, if any, is recorded in the history (no warning:
    runs go on in worker threads).  Returns (model, history, scores) with
    scores train_acc, test_acc, gap."""
    from initreg.model import MLP

    net = MLP(sizes, activation=activation, init=init, bias_init=bias_init, output=output,
              dtype=dtype, seed=seed)
    hist = net.fit(data.X_train, data.y_train, epochs=epochs, batch_size=batch_size,
                   optimizer=optimizer, record=record, seed=seed, on_divergence="ignore",
                   validation_data=(data.X_test, data.y_test) if validate else None,
                   callbacks=callbacks)
    train, test = net.score(data.X_train, data.y_train), net.score(data.X_test, data.y_test)
    return net, hist, {"train_acc": train, "test_acc": test, "gap": train - test}


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """One run of :func:`train_model`'s recipe, as data: what a sweep of
    training runs (:func:`initreg.experiments.sweep_training`) hands to
    :func:`train_models`."""

    sizes: tuple
    activation: object
    init: object
    seed: int
    optimizer: object
    epochs: int
    batch_size: int
    dtype: str = "float32"
    validate: bool = False
    record: bool = False
    bias_init: object = 0.0
    output: str = "softmax"

    def group(self):
        """What the runs of one :class:`~initreg.Ensemble` must share: all
        but the initializer, the seed and the optimizer."""
        return (tuple(self.sizes), _key(self.activation), self.epochs, self.batch_size,
                self.dtype, self.validate, self.record, _key(self.bias_init), self.output)


def _key(value):
    """A hashable stand-in: the value, or its identity."""
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


def train_models(data, specs):
    """:func:`train_model` for every spec, in order: [(model, history,
    scores)].  Specs that share their :meth:`TrainSpec.group` train as one
    :class:`~initreg.Ensemble`, each model on its own sample order (its
    seed), as train_model trains it; a group of one trains alone."""
    from initreg.ensemble import Ensemble

    out = [None] * len(specs)
    groups = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.group(), []).append(i)
    for members in groups.values():
        s = specs[members[0]]
        if len(members) == 1:
            out[members[0]] = train_model(
                data, s.sizes, activation=s.activation, init=s.init, seed=s.seed,
                optimizer=s.optimizer, epochs=s.epochs, batch_size=s.batch_size,
                dtype=s.dtype, validate=s.validate, record=s.record, bias_init=s.bias_init,
                output=s.output)
            continue
        ens = Ensemble(s.sizes, [specs[i].seed for i in members],
                       inits=[specs[i].init for i in members], activation=s.activation,
                       bias_init=s.bias_init, output=s.output, dtype=s.dtype)
        hists = ens.fit(data.X_train, data.y_train, epochs=s.epochs, batch_size=s.batch_size,
                        optimizer=[specs[i].optimizer for i in members], record=s.record,
                        streams="per_model", on_divergence="ignore",
                        validation_data=(data.X_test, data.y_test) if s.validate else None)
        for net, hist, i in zip(ens, hists, members):
            train, test = net.score(data.X_train, data.y_train), net.score(data.X_test,
                                                                            data.y_test)
            out[i] = (net, hist, {"train_acc": train, "test_acc": test, "gap": train - test})
    return out


def weight_metrics(model, eps=1e-3):
    """What a penalty does to a model's weights (all layers, biases apart):
    fractions exactly 0 and below ``eps`` in magnitude, L1 and L2 norms."""
    w = np.concatenate([x.ravel() for x in model.weights]).astype(np.float64)
    return {"zero_fraction": float(np.mean(w == 0)),
            "small_fraction": float(np.mean(np.abs(w) < eps)),
            "l1_norm": float(np.abs(w).sum()), "l2_norm": float(np.sqrt(w @ w))}


@dataclasses.dataclass
class Data:
    """A prepared dataset: standardized features (statistics of the training
    part), integer labels, and where it came from."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self):
        return self.X_train.shape[1]

    @property
    def n_classes(self):
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


def load_dataset(spec, *, seed=0, test_size=0.25, n_train=None, n_samples=None, noise=None):
    """A :class:`Data` from a name or arrays.

    spec : a name of :data:`initreg.datasets.DATASETS` ("digits", the
        embedded UCI digits, or a seeded 2-D set: "spirals", "moons",
        "circles", "blobs", "xor"), "mnist:DIR" (IDX files: train and t10k),
        "npz:PATH" (arrays X and y), "csv:PATH" (last column the label), a
        tuple (X, y) split here, or a :class:`Data` (returned as is).
    n_train : int or None
        Keep only this many training samples (stratified), to make
        over-fitting -- and what regularization does about it -- visible.
    n_samples, noise : for a 2-D set of :data:`initreg.datasets.PLANES`, how
        many points to draw and their noise (:func:`initreg.datasets.make_plane`);
        None keeps the generator's default.

    Features are standardized with the training part's statistics: the
    initialization derivations assume zero-mean, unit-variance inputs.
    """
    if isinstance(spec, Data):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2:
        name, (X, y) = "arrays", spec
        Xtr, Xte, ytr, yte = _ds.train_test_split(X, y, test_size=test_size, seed=seed,
                                                  stratify=True)
    elif not isinstance(spec, str):
        raise TypeError(f"dataset must be a name, 'mnist:DIR', 'npz:PATH', 'csv:PATH' or "
                        f"(X, y); got {type(spec).__name__}")
    elif spec.startswith("mnist:"):
        name = "mnist"
        directory = os.path.expanduser(spec[len("mnist:"):])
        Xtr, ytr = _ds.load_mnist(directory, kind="train")
        Xte, yte = _ds.load_mnist(directory, kind="test")
    elif spec.startswith(("npz:", "csv:")):
        path = os.path.expanduser(spec[4:])
        name = os.path.basename(path)
        X, y = _ds.load_npz(path) if spec.startswith("npz:") else _ds.load_csv(path)
        Xtr, Xte, ytr, yte = _ds.train_test_split(X, y, test_size=test_size, seed=seed,
                                                  stratify=True)
    elif spec in _ds.PLANES:
        name = spec
        X, y = _ds.make_plane(spec, 600 if n_samples is None else n_samples, noise=noise,
                              seed=seed)
        Xtr, Xte, ytr, yte = _ds.train_test_split(X, y, test_size=test_size, seed=seed,
                                                  stratify=True)
    elif spec in _ds.DATASETS:
        name = spec
        X, y = _ds.DATASETS[spec](seed=seed)
        Xtr, Xte, ytr, yte = _ds.train_test_split(X, y, test_size=test_size, seed=seed,
                                                  stratify=True)
    else:
        raise ValueError(f"unknown dataset {spec!r}; use one of {', '.join(_ds.DATASETS)}, "
                         "'mnist:DIR', 'npz:PATH', 'csv:PATH' or (X, y)")
    if (n_samples is not None or noise is not None) and name not in _ds.PLANES:
        raise ValueError(f"n_samples and noise apply to the 2-D sets ({', '.join(_ds.PLANES)}), "
                         f"not to {name}")
    ytr, yte = np.asarray(ytr), np.asarray(yte)
    if ytr.dtype.kind not in "iu" or min(ytr.min(), yte.min()) < 0:
        raise ValueError(f"dataset {name}: the experiments need integer class labels 0..k-1")
    if n_train is not None and n_train < len(ytr):
        Xtr, _, ytr, _ = _ds.train_test_split(Xtr, ytr, test_size=len(ytr) - n_train,
                                              seed=seed, stratify=True)
    Xtr, Xte = _ds.standardize(Xtr, Xte)
    return Data(name, Xtr, ytr.astype(np.int64), Xte, yte.astype(np.int64))


def seed_list(seed, n_seeds):
    """The seeds of the repeated runs: seed, seed + 1, ..."""
    return [int(seed) + i for i in range(int(n_seeds))]
