"""
Beyond variance: the Jacobian's singular values
===============================================

Keeping the variance of the signal constant through depth is not enough to
keep every direction alive: the singular values of the input-output
Jacobian at initialization spread with depth for Gaussian weights, and stay
together for orthogonal weights in linear and critical tanh networks
("dynamical isometry", Saxe et al. 2014; Pennington et al. 2017).  ReLU
zeroes about half the directions of each layer and cannot be isometric.
Width 64, depth up to 16 (``initreg report`` goes to width 256, depth 100).
"""

import initreg as ir

iso = ir.experiments.isometry(width=64, depth=16, n_samples=1, seed=0)

for activation, by_weights in iso.summary().items():
    for weights, s in by_weights.items():
        print(f"{activation:8s} {weights:10s} at depth {iso.depths[-1]}: squared singular "
              f"values mean {s['sq_mean']:.3g}, variance {s['sq_var']:.3g}")

figures = iso.plot()
