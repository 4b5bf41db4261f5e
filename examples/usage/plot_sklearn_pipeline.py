"""
scikit-learn estimators in a pipeline
=====================================

:class:`initreg.MLPClassifier` is a scikit-learn estimator: it goes in a
:class:`~sklearn.pipeline.Pipeline` and :class:`~sklearn.model_selection.GridSearchCV`
like any other.  Here a grid search over the initializer and the L2
strength on the digits, with the features standardized inside the pipeline
(so each fold's scaling comes from its own training part).  The penalty is
initreg's: ``l2 * sum w**2`` over the weights (scikit-learn's ``alpha`` is
scaled differently: :func:`initreg.regularization.l2_from_sklearn_alpha`
converts).
"""

import numpy as np
from matplotlib.figure import Figure
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import initreg as ir

X, y = ir.datasets.load_digits()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)

pipe = make_pipeline(StandardScaler(),
                     ir.MLPClassifier(hidden_layer_sizes=(64,), epochs=30, random_state=0))
search = GridSearchCV(pipe, {"mlpclassifier__init": ["xavier", "he"],
                             "mlpclassifier__l2": [0.0, 1e-3, 1e-2]}, cv=3)
search.fit(X_train, y_train)

for params, mean, std in zip(search.cv_results_["params"],
                             search.cv_results_["mean_test_score"],
                             search.cv_results_["std_test_score"]):
    print(f"init={params['mlpclassifier__init']:6s} l2={params['mlpclassifier__l2']:<6g} "
          f"cross-validated accuracy {mean:.3f} +- {std:.3f}")
print("best:", search.best_params_, f"test accuracy {search.score(X_test, y_test):.3f}")

# %%
# The fitted estimator is an ordinary initreg model underneath: its loss per
# epoch is ``loss_curve_`` and its weight matrices are ``coefs_``, of shape
# ``(fan_in, fan_out)`` as scikit-learn's.

best = search.best_estimator_[-1]
fig = Figure(figsize=(8, 3.2), layout="constrained")
ax_loss, ax_w = fig.subplots(1, 2)
ax_loss.plot(np.arange(1, len(best.loss_curve_) + 1), best.loss_curve_)
ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log",
            title="loss of the best pipeline's classifier")
ax_w.hist(best.coefs_[0].ravel(), bins=60)
ax_w.set(xlabel="weight", ylabel="count", title=f"first layer {best.coefs_[0].shape}")
