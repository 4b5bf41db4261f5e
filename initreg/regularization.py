"""L1 / L2 penalties: initreg's convention and how other libraries' map to it.

initreg adds to the mean data loss J(w) the penalty::

    l1 * sum |w|  +  l2 * sum w**2        (over the weights; biases only if asked)

so the gradient of the L2 term is ``2 * l2 * w`` and one SGD step is
``w <- w - lr * (dJ/dw + l1 * sign(w) + 2 * l2 * w)`` with sign(0) = 0 -- the
formulas of the deeplearning.ai notes with lambda = l1 or l2.

Other libraries state the same idea with other constants:

===========================  ======================================  ==========================
library                      their setting                           initreg
===========================  ======================================  ==========================
PyTorch ``torch.optim.SGD``  ``weight_decay=wd`` adds ``wd * w``     ``l2 = wd / 2``
                             to the gradient
Keras ``regularizers.L2``    ``L2(l2)`` adds ``l2 * sum w**2``       ``l2 = l2``
Keras ``regularizers.L1``    ``L1(l1)`` adds ``l1 * sum |w|``        ``l1 = l1``
scikit-learn ``MLP*``        ``alpha`` adds                          ``l2 = alpha / (2 n)``
                             ``alpha / (2 n) * sum w**2``,
                             n = samples in the gradient step
scikit-learn ``SGD*``        ``alpha, l1_ratio=r`` adds ``alpha *``  ``l1 = alpha r``,
                             ``(r |w|_1 + (1 - r) / 2 |w|_2^2)``,    ``l2 = alpha (1 - r) / 2``
                             per sample
===========================  ======================================  ==========================

For scikit-learn's ``MLPClassifier`` the n is the batch size during
minibatch training (its loss is averaged per batch), the training-set size for
full-batch solvers.
"""
from __future__ import annotations

import numpy as np

from initreg._validation import check_float, check_int

__all__ = ["l1_penalty", "l2_penalty", "l2_from_torch_weight_decay",
           "torch_weight_decay_from_l2", "l2_from_sklearn_alpha", "sklearn_alpha_from_l2",
           "from_sklearn_sgd", "l2_from_keras", "l1_from_keras"]


def l1_penalty(weights, l1):
    """``l1 * sum |w|`` over a list of weight arrays."""
    l1 = check_float(l1, "l1", low=0)
    return l1 * float(sum(np.abs(np.asarray(w, dtype=np.float64)).sum() for w in weights))


def l2_penalty(weights, l2):
    """``l2 * sum w**2`` over a list of weight arrays."""
    l2 = check_float(l2, "l2", low=0)
    return l2 * float(sum((np.asarray(w, dtype=np.float64) ** 2).sum() for w in weights))


def l2_from_torch_weight_decay(weight_decay):
    """PyTorch SGD's ``weight_decay`` (gradient term ``wd * w``) as initreg's l2."""
    return check_float(weight_decay, "weight_decay", low=0) / 2.0


def torch_weight_decay_from_l2(l2):
    """initreg's l2 as PyTorch SGD's ``weight_decay`` (= 2 * l2)."""
    return 2.0 * check_float(l2, "l2", low=0)


def l2_from_sklearn_alpha(alpha, n_samples):
    """scikit-learn MLP's ``alpha`` as initreg's l2 = alpha / (2 n_samples),
    n_samples being the samples of one gradient step (the batch size)."""
    return check_float(alpha, "alpha", low=0) / (2.0 * check_int(n_samples, "n_samples", low=1))


def sklearn_alpha_from_l2(l2, n_samples):
    """initreg's l2 as scikit-learn MLP's ``alpha`` = 2 * n_samples * l2."""
    return 2.0 * check_int(n_samples, "n_samples", low=1) * check_float(l2, "l2", low=0)


def from_sklearn_sgd(alpha, l1_ratio=0.15):
    """scikit-learn SGDClassifier's elastic net (alpha, l1_ratio) as (l1, l2)."""
    alpha = check_float(alpha, "alpha", low=0)
    r = check_float(l1_ratio, "l1_ratio", low=0, high=1)
    return alpha * r, alpha * (1.0 - r) / 2.0


def l2_from_keras(l2):
    """Keras ``regularizers.L2(l2)`` uses initreg's convention: the same number."""
    return check_float(l2, "l2", low=0)


def l1_from_keras(l1):
    """Keras ``regularizers.L1(l1)`` uses initreg's convention: the same number."""
    return check_float(l1, "l1", low=0)
