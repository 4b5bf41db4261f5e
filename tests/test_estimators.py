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
