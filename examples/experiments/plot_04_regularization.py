"""
L1 and L2: what they do to the weights
======================================

A 64-128-10 ReLU network trained on 500 digits with no penalty, with L1
(``l1 * sum|w|``, applied by the proximal step), with L2
(``l2 * sum w**2``, gradient ``2 * l2 * w``) and with both, for three
strengths.  L1 sets weights to exactly zero; L2 shrinks all of them in
proportion and leaves almost none at zero.
"""

import numpy as np

import initreg as ir

reg = ir.experiments.regularization(
    "digits", lambdas=(1e-4, 1e-3, 1e-2), lr=0.05, epochs=10, n_seeds=1, seed=0)

for p, penalty in enumerate(reg.penalties):
    for k, lam in enumerate(reg.lambdas if penalty != "none" else reg.lambdas[:1]):
        print(f"{penalty:8s} {'' if penalty == 'none' else f'lambda {lam:g}':13s}: {np.mean(reg.zero_fraction[p, k]):6.1%} of the "
              f"weights exactly 0, weight norm {np.mean(reg.l2_norm[p, k]):5.1f}, "
              f"test accuracy {np.mean(reg.test_acc[p, k]):.1%}")

figures = reg.plot()
