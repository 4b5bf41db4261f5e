"""The scikit-learn estimators: scikit-learn's own checks, Pipeline and
GridSearchCV."""
import numpy as np
import pytest

pytest.importorskip("sklearn")  # the estimators are an optional extra; CI installs it
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import initreg as ir  # noqa: E402
from initreg.datasets import load_digits  # noqa: E402


@parametrize_with_checks([ir.MLPClassifier(epochs=50, random_state=0),
                          ir.MLPRegressor(epochs=50, random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_and_grid_search_on_digits():
    X, y = load_digits()
    labels = np.array(list("abcdefghij"))[y]  # any label values work
    pipe = make_pipeline(StandardScaler(), ir.MLPClassifier(hidden_layer_sizes=(64,), lr=0.01,
                                                            epochs=20, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__l2": [0.0, 1e-3]}, cv=3)
    search.fit(X, labels)
    assert search.best_score_ > 0.9
    assert set(search.predict(X[:20])) <= set(labels)
    clf = search.best_estimator_[-1]
    assert list(clf.classes_) == list("abcdefghij") and clf.n_features_in_ == 64
    assert clf.predict_proba(X[:3]).shape == (3, 10)


def test_partial_fit_and_penalty_conventions():
    X, y = load_digits()
    clf = ir.MLPClassifier(hidden_layer_sizes=(32,), lr=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:100], y[:100])
    for _ in range(5):
        clf.partial_fit(X, y, classes=np.arange(10))
    assert clf.n_iter_ == 5 and clf.score(X, y) > 0.8
    assert len(clf.coefs_) == 2 and clf.coefs_[0].shape == (64, 32)


def test_warm_start_continues_from_the_fitted_weights():
    X, y = load_digits()
    cold = ir.MLPClassifier(hidden_layer_sizes=(16,), lr=0.01, epochs=3, random_state=0)
    cold.fit(X, y)
    warm = ir.MLPClassifier(hidden_layer_sizes=(16,), lr=0.01, epochs=3, random_state=0,
                            warm_start=True)
    warm.fit(X, y)
    first = [w.copy() for w in warm.coefs_]
    warm.fit(X, y)  # continues: 6 epochs in all, starting where the first left
    assert warm.n_iter_ == 6 and cold.n_iter_ == 3
    for a, b in zip(first, cold.coefs_):
        np.testing.assert_array_equal(a, b)  # the first fit is the cold fit
    assert warm.loss_curve_[0] < cold.loss_curve_[0]  # ... and the second starts trained
    refit = ir.MLPClassifier(hidden_layer_sizes=(16,), lr=0.01, epochs=3, random_state=0)
    refit.fit(X, y)
    refit.fit(X, y)  # without warm_start: from scratch again
    assert refit.n_iter_ == 3
    np.testing.assert_array_equal(refit.coefs_[0], cold.coefs_[0])


def test_early_stopping_stops_and_keeps_the_best_epoch():
    X, y = load_digits()
    clf = ir.MLPClassifier(hidden_layer_sizes=(128,), lr=0.1, epochs=300, batch_size=16,
                           early_stopping=True, validation_fraction=0.3, n_iter_no_change=3,
                           random_state=0)
    clf.fit(X[:200], y[:200])
    hist = clf.history_
    assert hist.stopped_early and clf.n_iter_ < 300
    assert hist.best_epoch == int(np.argmin(hist.val_loss))
    assert hist.n_epochs == hist.best_epoch + 1 + 3


def test_regressor_standardizes_its_targets_and_maps_back(rng):
    X = rng.normal(size=(300, 4))
    y = 1000.0 + 50.0 * (X @ np.array([1.0, -2.0, 0.5, 0.0]))
    reg = ir.MLPRegressor(hidden_layer_sizes=(32,), lr=0.01, epochs=60, random_state=0)
    reg.fit(X, y)
    np.testing.assert_allclose(reg.target_mean_, [y.mean()])
    np.testing.assert_allclose(reg.target_std_, [y.std()])
    pred = reg.predict(X)
    assert pred.shape == (300,) and abs(pred.mean() - 1000.0) < 10.0
    assert reg.score(X, y) > 0.95  # R^2 in the original units
    # two targets of different scales, each mapped back with its own statistics
    Y = np.c_[y, -y / 100.0]
    two = ir.MLPRegressor(hidden_layer_sizes=(32,), lr=0.01, epochs=60, random_state=0)
    assert two.fit(X, Y).predict(X).shape == (300, 2)
    assert two.score(X, Y) > 0.95


def test_predict_log_proba_is_the_log_of_predict_proba():
    X, y = load_digits()
    clf = ir.MLPClassifier(hidden_layer_sizes=(16,), lr=0.01, epochs=5, random_state=0)
    clf.fit(X, y)
    proba = clf.predict_proba(X[:50])
    np.testing.assert_allclose(clf.predict_log_proba(X[:50]), np.log(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (clf.predict(X[:50]) == clf.classes_[proba.argmax(axis=1)]).all()


def test_partial_fit_keeps_the_optimizer_and_set_params_takes_effect():
    X, y = load_digits()
    clf = ir.MLPClassifier(hidden_layer_sizes=(16,), lr=0.01, momentum=0.9, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))
    opt = clf._optimizer_
    steps = opt.steps
    clf.set_params(lr=0.001)
    clf.partial_fit(X, y)
    assert clf._optimizer_ is opt and opt.lr == 0.001 and opt.steps == 2 * steps
    clf.fit(X, y)  # a full fit starts a fresh optimizer, as scikit-learn's does
    assert clf._optimizer_ is not opt


def test_solvers_follow_scikit_learn():
    X, y = load_digits()
    clf = ir.MLPClassifier(hidden_layer_sizes=(16,), epochs=3, random_state=0)
    assert clf.solver == "adam" and clf.lr == 0.001
    clf.fit(X, y)
    assert isinstance(clf._optimizer_, ir.Adam)
    assert clf._optimizer_.betas == (0.9, 0.999) and clf._optimizer_.eps == 1e-8
    sgd = ir.MLPClassifier(hidden_layer_sizes=(16,), epochs=3, solver="sgd", lr=0.01,
                           random_state=0).fit(X, y)
    assert isinstance(sgd._optimizer_, ir.SGD) and sgd._optimizer_.momentum == 0.9
    w = ir.MLPClassifier(hidden_layer_sizes=(16,), epochs=3, solver="adamw",
                         weight_decay=0.1, random_state=0).fit(X, y)
    assert isinstance(w._optimizer_, ir.AdamW) and w._optimizer_.weight_decay == 0.1
    clf.set_params(solver="sgd")  # another solver: partial_fit starts its optimizer afresh
    clf.partial_fit(X, y)
    assert isinstance(clf._optimizer_, ir.SGD)
    with pytest.raises(ValueError, match="solver"):
        ir.MLPClassifier(solver="lbfgs").fit(X, y)
