"""Datasets: the embedded digits, the 2-D generators, loaders, splitting."""
import gzip
import struct

import numpy as np
import pytest

from initreg import datasets as ds


def test_load_digits():
    X, y = ds.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    assert set(np.unique(y)) == set(range(10))
    assert abs(np.bincount(y) - 180).max() < 10  # about balanced


@pytest.mark.parametrize("make, kw, n_classes", [
    (ds.make_spirals, dict(n_classes=3), 3), (ds.make_moons, {}, 2),
    (ds.make_circles, {}, 2), (ds.make_blobs, dict(centers=4), 4)])
def test_generators_are_seeded_balanced_2d(make, kw, n_classes):
    X, y = make(n_samples=301, seed=5, **kw)
    assert X.shape == (301, 2) and X.dtype == np.float32 and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1
    X2, y2 = make(n_samples=301, seed=5, **kw)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(n_samples=301, seed=6, **kw)[0])


def test_circles_have_their_radii():
    X, y = ds.make_circles(n_samples=400, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)


def _write_idx(path, array, gz):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_reads_idx_files(tmp_path, gz, rng):
    images = rng.integers(0, 256, (7, 28, 28))
    labels = rng.integers(0, 10, 7)
    suffix = ".gz" if gz else ""
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gz)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gz)
    X, y = ds.load_mnist(tmp_path, kind="test")
    assert X.shape == (7, 784) and X.dtype == np.float32
    np.testing.assert_allclose(X, images.reshape(7, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        ds.load_mnist(tmp_path, kind="train")
    (tmp_path / f"t10k-labels-idx1-ubyte{suffix}").unlink()
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:5], False)
    if gz:
        (tmp_path / "t10k-images-idx3-ubyte.gz").rename(tmp_path / "x.gz")
        _write_idx(tmp_path / "t10k-images-idx3-ubyte", images, False)
    with pytest.raises(ValueError, match="disagree"):
        ds.load_mnist(tmp_path, kind="test")
    raw = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated"):
        ds.load_mnist(tmp_path, kind="test")


def test_load_npz_and_csv(tmp_path, rng):
    X = rng.normal(size=(10, 3))
    y = rng.integers(0, 3, 10)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    X2, y2 = ds.load_npz(tmp_path / "d.npz")
    np.testing.assert_allclose(X2, X.astype(np.float32))
    np.testing.assert_array_equal(y2, y)
    with pytest.raises(ValueError, match="no array 'features'"):
        ds.load_npz(tmp_path / "d.npz", x_key="features")
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label,c\n" + "\n".join(f"{r[0]},{r[1]},{t},{r[2]}" for r, t in zip(X, y)))
    X3, y3 = ds.load_csv(csv, target="label")
    np.testing.assert_allclose(X3, X.astype(np.float32), rtol=1e-6)
    np.testing.assert_array_equal(y3, y)
    with pytest.raises(ValueError, match="no column"):
        ds.load_csv(csv, target="nope")
    with pytest.raises(IsADirectoryError):
        ds.load_npz(tmp_path)


def test_train_test_split_and_standardize(rng):
    X = rng.normal(3, 2, size=(200, 4))
    y = np.r_[np.zeros(150, int), np.ones(50, int)]
    Xtr, Xte, ytr, yte = ds.train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    assert len(Xte) == 40 and len(Xtr) == 160
    assert (yte == 1).sum() == 10  # the 25% share of class 1 kept
    assert sorted(map(tuple, np.r_[Xtr, Xte])) == sorted(map(tuple, X))
    a, b = ds.standardize(Xtr, Xte)
    np.testing.assert_allclose(a.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(a.std(0), 1, atol=1e-5)
    assert b.dtype == np.float32
    with pytest.raises(ValueError, match="test_size"):
        ds.train_test_split(X, y, test_size=1.5)


@pytest.mark.parametrize("test_size", [1, 2, 7, 0.1, 0.5])
def test_stratified_split_has_exactly_the_test_size(test_size):
    X = np.arange(30).reshape(30, 1)
    y = np.repeat([0, 1, 2], 10)
    Xtr, Xte, ytr, yte = ds.train_test_split(X, y, test_size=test_size, seed=0, stratify=True)
    n_test = test_size if isinstance(test_size, int) else round(test_size * 30)
    assert len(yte) == n_test and len(ytr) == 30 - n_test
    assert abs(np.bincount(yte, minlength=3) - n_test / 3).max() < 1  # shares kept


def test_make_plane_is_each_generator_on_one_noise_scale():
    from initreg.datasets import PLANES, make_plane
    for name in PLANES:
        X, y = make_plane(name, 50, seed=1)
        X0, y0 = ((ds.make_blobs(50, centers=3, seed=1)) if name == "blobs"
                  else getattr(ds, f"make_{name}")(50, seed=1))
        assert np.array_equal(X, X0) and np.array_equal(y, y0)
    X, y = make_plane("blobs", 40, noise=0.2, seed=2)
    assert np.array_equal(X, ds.make_blobs(40, centers=3, std=2.0, seed=2)[0])
    assert np.array_equal(make_plane("moons", 40, noise=0.3, seed=2)[0],
                          ds.make_moons(40, noise=0.3, seed=2)[0])
    with pytest.raises(ValueError):
        make_plane("digits", 10)


def test_load_dataset_draws_a_plane_of_the_asked_size():
    from initreg.experiments import load_dataset
    d = load_dataset("circles", seed=3, test_size=0.5, n_samples=80, noise=0.2)
    assert len(d.y_train) + len(d.y_test) == 80 and len(d.y_test) == 40
    assert load_dataset("spirals", seed=0).X_train.shape == \
        load_dataset("spirals", seed=0, n_samples=600).X_train.shape
    with pytest.raises(ValueError, match="2-D sets"):
        load_dataset("digits", n_samples=100)
