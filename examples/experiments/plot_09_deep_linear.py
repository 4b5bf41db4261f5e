"""
Deep linear networks: learning time against depth
=================================================

Linear networks of depth 1, 8 and 64 (hidden width 64) learn the
least-squares map from the digits' features to one-hot labels.  The number
of epochs to come within 5% of the optimum is counted for orthogonal and
Gaussian initial weights: from orthogonal weights the learning time does
not grow with depth (Saxe et al. 2014, Fig. 6A).
"""

import initreg as ir

lin = ir.experiments.deep_linear(
    "digits", depths=(1, 8, 64), lrs=(0.1,), max_epochs=30, n_seeds=1, seed=0)

for weights, by_depth in lin.summary().items():
    for depth, s in by_depth.items():
        epochs = "not reached" if s["epochs"] is None else f"{s['epochs']:.0f} epochs"
        print(f"{weights:10s} depth {depth:2d}: {epochs}")

figures = lin.plot()
