"""Datasets for the experiments, and the two preprocessing steps they need.

Everything here returns ``(X, y)`` with ``X`` float32 of shape
(n_samples, n_features) and ``y`` int64 class labels (n_samples,), ready for
:class:`initreg.MLP` -- no scikit-learn needed.

- :func:`load_digits`: 1,797 8x8 handwritten digits shipped inside the
  package (UCI, CC BY 4.0), so the default experiments need no download.
- :func:`make_spirals`, :func:`make_moons`, :func:`make_circles`,
  :func:`make_blobs`, :func:`make_xor`: seeded 2-D sets for
  decision-boundary pictures.
- :data:`DATASETS`: the names the experiments and the command line know.
- :func:`load_mnist`: MNIST / Fashion-MNIST IDX files already on disk.
- :func:`load_npz`, :func:`load_csv`: your own data.
- :func:`train_test_split`, :func:`standardize`.
"""
from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from initreg import _npz
from initreg._validation import (as_float_array, check_choice, check_float, check_int,
                                 check_memory)

__all__ = ["load_digits", "make_spirals", "make_moons", "make_circles", "make_blobs",
           "make_xor", "make_plane", "PLANES", "DATASETS", "load_mnist", "load_npz", "load_csv",
           "train_test_split", "standardize"]

_DATA = Path(__file__).parent / "data"


def load_digits():
    """The UCI optical handwritten digits (test set), shipped with initreg.

    Returns
    -------
    X : float32 array (1797, 64)
        8x8 images, pixel counts 0..16 scaled to [0, 1].
    y : int64 array (1797,)
        Labels 0..9.

    References
    ----------
    Alpaydin & Kaynak (1998), UCI Machine Learning Repository,
    https://doi.org/10.24432/C50P49, licence CC BY 4.0 (see initreg/data/README.md).
    """
    with np.load(_DATA / "digits.npz", allow_pickle=False) as f:
        return (f["images"].astype(np.float32) / np.float32(16.0),
                f["labels"].astype(np.int64))


def _check_size(n_samples, n_features):
    # the generators build float64 temporaries a few times the result's size
    check_memory(n_samples * n_features * 8 * 4, f"{n_samples} samples of {n_features} features")


def _rng(seed):
    if seed is not None:
        check_int(seed, "seed", low=0)
    return np.random.default_rng(seed)


def _split_counts(n, k):
    """n samples over k classes as evenly as possible."""
    return [n // k + (i < n % k) for i in range(k)]


def _finish(X, y, rng):
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order].astype(np.int64)


def make_spirals(n_samples=600, *, n_classes=2, noise=0.2, turns=1.5, seed=None):
    """Interleaved spiral arms, one per class (not linearly separable).

    Arm k is r (cos(t + 2 pi k / n_classes), sin(...)) with r and t growing
    together over ``turns`` turns, plus Gaussian noise of std ``noise * r/2``.
    Returns X float32 (n_samples, 2) in about [-1, 1]^2 and y int64."""
    n_samples = check_int(n_samples, "n_samples", low=1)
    n_classes = check_int(n_classes, "n_classes", low=1)
    noise = check_float(noise, "noise", low=0)
    turns = check_float(turns, "turns", low=0, low_open=True)
    _check_size(n_samples, 2)
    rng = _rng(seed)
    Xs, ys = [], []
    for k, n in enumerate(_split_counts(n_samples, n_classes)):
        r = np.linspace(0.05, 1.0, n)
        t = 2 * np.pi * turns * r + 2 * np.pi * k / n_classes
        pts = np.c_[r * np.cos(t), r * np.sin(t)]
        Xs.append(pts + rng.normal(0, noise * 0.5, pts.shape) * r[:, None])
        ys.append(np.full(n, k))
    return _finish(np.concatenate(Xs), np.concatenate(ys), rng)


def make_moons(n_samples=600, *, noise=0.1, seed=None):
    """Two interleaving half circles (classes 0 and 1) plus Gaussian noise."""
    n_samples = check_int(n_samples, "n_samples", low=2)
    noise = check_float(noise, "noise", low=0)
    _check_size(n_samples, 2)
    rng = _rng(seed)
    n0, n1 = _split_counts(n_samples, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.r_[np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]]
    X += rng.normal(0, noise, X.shape)
    return _finish(X, np.r_[np.zeros(n0), np.ones(n1)], rng)


def make_circles(n_samples=600, *, noise=0.05, factor=0.5, seed=None):
    """An outer circle (class 0) around an inner one of radius ``factor``
    (class 1), plus Gaussian noise."""
    n_samples = check_int(n_samples, "n_samples", low=2)
    noise = check_float(noise, "noise", low=0)
    factor = check_float(factor, "factor", low=0, low_open=True, high=1, high_open=True)
    _check_size(n_samples, 2)
    rng = _rng(seed)
    n0, n1 = _split_counts(n_samples, 2)
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.r_[np.c_[np.cos(t0), np.sin(t0)], factor * np.c_[np.cos(t1), np.sin(t1)]]
    X += rng.normal(0, noise, X.shape)
    return _finish(X, np.r_[np.zeros(n0), np.ones(n1)], rng)


def make_blobs(n_samples=600, *, centers=3, n_features=2, std=1.0, box=(-10.0, 10.0), seed=None):
    """Isotropic Gaussian blobs: ``centers`` centres drawn uniformly in the
    ``box``, ``std`` around each."""
    n_samples = check_int(n_samples, "n_samples", low=1)
    centers = check_int(centers, "centers", low=1)
    n_features = check_int(n_features, "n_features", low=1)
    std = check_float(std, "std", low=0)
    lo, hi = (check_float(b, "box") for b in box)
    _check_size(n_samples, n_features + centers)
    rng = _rng(seed)
    c = rng.uniform(lo, hi, (centers, n_features))
    counts = _split_counts(n_samples, centers)
    X = np.concatenate([c[k] + rng.normal(0, std, (n, n_features)) for k, n in enumerate(counts)])
    return _finish(X, np.repeat(np.arange(centers), counts), rng)


def make_xor(n_samples=600, *, noise=0.1, seed=None):
    """The XOR pattern: points uniform on [-1, 1]^2 (kept 0.05 away from the
    axes), class 1 where x1 x2 > 0, plus Gaussian noise of std ``noise``
    on the positions.  No straight line separates the classes."""
    n_samples = check_int(n_samples, "n_samples", low=1)
    noise = check_float(noise, "noise", low=0)
    _check_size(n_samples, 2)
    rng = _rng(seed)
    X = rng.uniform(0.05, 1.0, (n_samples, 2)) * rng.choice([-1.0, 1.0], (n_samples, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X += rng.normal(0, noise, X.shape)
    return _finish(X, y, rng)


#: The 2-D sets, drawn as points on a plane (the playground's choices).
PLANES = ("spirals", "moons", "circles", "blobs", "xor")


def make_plane(name, n_samples=600, *, noise=None, seed=None):
    """One of the 2-D sets of :data:`PLANES` by name, its noise on one scale:
    the std of the Gaussian noise added to positions in about [-1, 1]^2 (for
    "blobs", three blobs in [-10, 10]^2: each blob's std over 10).  None
    keeps each generator's default."""
    check_choice(name, "name", PLANES)
    kw = {} if noise is None else {"noise": check_float(noise, "noise", low=0)}
    if name == "blobs":
        return make_blobs(n_samples, centers=3, seed=seed,
                          **({} if noise is None else {"std": 10 * kw["noise"]}))
    return globals()[f"make_{name}"](n_samples, seed=seed, **kw)


def _digits(seed=None):
    return load_digits()


#: The datasets known by name to the experiments, ``initreg train``, grid
#: files and the playground: name -> ``f(seed=...) -> (X, y)`` (the
#: generators with their default sizes).  Files are named "mnist:DIR",
#: "npz:PATH" or "csv:PATH".
DATASETS = {"digits": _digits, "spirals": make_spirals, "moons": make_moons,
            "circles": make_circles, "blobs": make_blobs, "xor": make_xor}


def _read_idx(path):
    """An IDX file, its header read and its size checked against memory
    before the data (a compressed file is not decompressed past what its
    header announces)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
                raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
            dims = f.read(4 * head[3])
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big")
                          for i in range(len(dims) // 4))
            if len(shape) != head[3]:
                raise ValueError(f"{path}: truncated IDX header")
            size = math.prod(shape)
            check_memory(2 * size, f"{path} (shape {shape})")
            raw = f.read(size + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} could not be read as an IDX file: {exc}") from None
    if len(raw) != size:
        raise ValueError(f"{path}: the header announces shape {shape}, but the file has "
                         f"{'more' if len(raw) > size else len(raw)} data bytes (truncated "
                         "or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


def load_mnist(directory, *, kind="train"):
    """MNIST or Fashion-MNIST from the standard IDX files in ``directory``.

    Looks for ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte``
    (``kind="train"``) or ``t10k-...`` (``kind="test"``), each raw or
    ``.gz``.  Returns X float32 (n, 784) scaled to [0, 1] and y int64.
    Nothing is downloaded: a missing file raises FileNotFoundError naming it.
    """
    if kind not in ("train", "test"):
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory {directory} does not exist")
    prefix = "train" if kind == "train" else "t10k"
    arrays = []
    for part in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        name = f"{prefix}-{part}"
        candidates = [directory / name, directory / (name + ".gz")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(f"{name} (or {name}.gz) not found in {directory}")
        arrays.append(_read_idx(found))
    images, labels = arrays
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"MNIST files in {directory} disagree: images {images.shape}, "
                         f"labels {labels.shape}")
    X = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    return X, labels.astype(np.int64)


#: The dtypes :func:`load_npz` accepts for X and y.
NUMERIC_DTYPES = tuple(np.dtype(c) for c in "efdbhilqBHILQ")


def load_npz(path, *, x_key="X", y_key="y"):
    """(X, y) from an .npz file holding arrays ``x_key`` and ``y_key``.
    Never unpickles: object arrays are refused, like any array that is not
    of real numbers; headers are checked, and memory, before data is read."""
    with _npz.open_archive(path, ".npz file") as (members, z):
        missing = [k for k in (x_key, y_key) if k not in members]
        if missing:
            raise _npz.Refused(f"no array {missing[0]!r}; it holds {sorted(members)}")
        headers = {k: _npz.header(z, members[k], k, None, NUMERIC_DTYPES)
                   for k in (x_key, y_key)}
        check_memory(sum(math.prod(shape) * 8 for shape, _, _ in headers.values()) * 2,
                     f"the arrays of {path}")
        X, y = (_npz.read_array(z, members[k], *headers[k]) for k in (x_key, y_key))
    return _xy(X, y, path)


def _xy(X, y, source):
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"{source}: X must be 2-D and y 1-D of the same length; got "
                         f"{X.shape} and {y.shape}")
    X = np.asarray(X, dtype=np.float32)
    if np.issubdtype(y.dtype, np.floating) and np.array_equal(y, np.round(y)):
        y = y.astype(np.int64)
    elif np.issubdtype(y.dtype, np.integer):
        y = y.astype(np.int64)
    return X, y


def load_csv(path, *, target=-1, delimiter=",", skip_header=None):
    """(X, y) from a numeric CSV file; ``target`` is the label column, by
    index or, when the file has a header line, by name.  A header is detected
    when the first line is not numeric (or forced with ``skip_header``)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a CSV file")
    with open(path, encoding="utf-8") as f:
        first = f.readline().strip()
    names = [c.strip() for c in first.split(delimiter)]
    if skip_header is None:
        try:
            [float(c) for c in names]
            skip_header = False
        except ValueError:
            skip_header = True
    try:
        data = np.loadtxt(path, delimiter=delimiter, skiprows=1 if skip_header else 0,
                          ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric CSV file ({exc})") from None
    if isinstance(target, str):
        if not skip_header or target not in names:
            raise ValueError(f"{path} has no column named {target!r}")
        target = names.index(target)
    target = check_int(target, "target")
    if not -data.shape[1] <= target < data.shape[1]:
        raise ValueError(f"target column {target} outside the {data.shape[1]} columns of {path}")
    y = data[:, target]
    return _xy(np.delete(data, target % data.shape[1], axis=1), y, path)


def train_test_split(X, y, *, test_size=0.25, seed=None, stratify=False):
    """Shuffle and split (X, y) into train and test parts.

    Parameters
    ----------
    test_size : float or int
        A fraction in (0, 1), or a number of samples.
    stratify : bool
        Keep each class's share equal in both parts (classification labels).

    Returns
    -------
    X_train, X_test, y_train, y_test : arrays
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must be arrays with one row per sample")
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X has {n} samples, y has {len(y)}")
    if n < 2:
        raise ValueError(f"cannot split {n} sample(s) into a training and a test part")
    if stratify and y.ndim != 1:
        raise ValueError(f"stratify needs 1-D class labels; y has shape {y.shape}")
    if isinstance(test_size, float):
        check_float(test_size, "test_size", low=0, low_open=True, high=1, high_open=True)
        n_test = max(1, int(round(test_size * n)))
    else:
        n_test = check_int(test_size, "test_size", low=1, high=n - 1)
    if n_test >= n:
        raise ValueError(f"test_size leaves no training samples out of {n}")
    rng = _rng(seed)
    if not stratify:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        classes, counts = np.unique(y, return_counts=True)
        # each class's share of the test set, rounded by largest remainder so
        # that the shares add up to n_test exactly
        exact = counts * n_test / n
        take = np.floor(exact).astype(int)
        for c in np.argsort(take - exact, kind="stable")[:n_test - take.sum()]:
            take[c] += 1
        test_parts, train_parts = [], []
        for c, k in zip(classes, take):
            idx = rng.permutation(np.flatnonzero(y == c))
            test_parts.append(idx[:k])
            train_parts.append(idx[k:])
        test = rng.permutation(np.concatenate(test_parts))
        train = rng.permutation(np.concatenate(train_parts))
    return X[train], X[test], y[train], y[test]


def standardize(X_train, *others, eps=1e-8):
    """Zero mean, unit variance per feature, with the statistics of
    ``X_train`` applied to it and to every array in ``others``.  Constant
    features are centred only.  Returns the standardized arrays (a tuple when
    there are several)."""
    X_train = as_float_array(X_train, "X_train", np.float64)
    others = [as_float_array(a, f"others[{i}]", np.float64, n_cols=X_train.shape[1])
              for i, a in enumerate(others)]
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > eps, std, 1.0)
    out = tuple(((a - mean) / std).astype(np.float32) for a in (X_train, *others))
    return out if others else out[0]

