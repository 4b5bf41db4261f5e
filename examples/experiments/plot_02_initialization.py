"""
Training from each initialization
=================================

The same tanh network, 64-64-64-64-10, trained on the digits from six
initializations: zeros, N(0, 0.01²) ("small"), Xavier, Glorot, He and
N(0, 1) ("large").  Zero weights never break the symmetry: every unit of a
layer computes the same thing and receives the same gradient, so each
hidden layer stays one distinct unit however long it trains.
"""

import initreg as ir

curves = ir.experiments.initialization(
    "digits", activation="tanh", hidden=(64, 64, 64), lr=0.05, epochs=8, n_seeds=1, seed=0)

for init, s in curves.summary().items():
    print(f"{init:7s} test accuracy {s['test_acc']:.1%}, final loss {s['final_loss']:.3f}, "
          f"distinct units per hidden layer {s['distinct_units']}")

figures = curves.plot()

# %%
# Decision boundaries
# -------------------
# On the two-dimensional spirals, the boundary each initialization's network
# draws after 40 epochs: a zero-initialized network can only draw what one
# hidden unit per layer can.

spirals = ir.experiments.initialization(
    "spirals", activation="tanh", hidden=(64, 64), lr=0.05, epochs=40, n_seeds=1, seed=0)
boundaries = {name: fig for name, fig in spirals.plot().items()
              if name.startswith("init_boundaries")}
