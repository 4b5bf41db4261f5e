"""
Depth: Xavier against He
========================

Networks of 5 and 30 hidden layers of width 64, ReLU and tanh, trained on
the digits from Xavier (variance 1/fan_in) and He (2/fan_in) weights.  He et
al. (2015) saw that a deep ReLU network with Xavier's variance stalls, and
that twice the variance trains it; tanh, linear near 0, is the case Xavier's
derivation assumes.  The step is small (``lr=0.002``) so that the 30-layer
networks do not diverge: the comparison is about the initialization.
"""

import initreg as ir

depth = ir.experiments.depth_study(
    "digits", depths=(5, 30), lr=0.002, epochs=10, n_seeds=1, seed=0)

for activation, by_init in depth.summary().items():
    for init, by_depth in by_init.items():
        accuracies = ", ".join(f"depth {d}: {acc:.1%}" for d, acc in by_depth.items())
        print(f"{activation:5s} {init:7s} test accuracy {accuracies}")

figures = depth.plot()
