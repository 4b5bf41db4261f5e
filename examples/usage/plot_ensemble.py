"""
Many small models at once: the model axis
=========================================

:class:`initreg.Ensemble` trains K models of one architecture together, each
with its own initial weights and its own optimizer.  Small models go in the
SIMD lanes of one compiled call per epoch, where training them one after
another would spend its time in call overhead; the results are, to
rounding, the models ``MLP.fit`` would give one at a time.

Here 64 networks 2-16-16-2 learn the two moons: 8 learning rates x 8 seeds,
each model its own SGD.
"""

import time

import numpy as np
from matplotlib.figure import Figure

import initreg as ir

X, y = ir.datasets.make_moons(400, noise=0.15, seed=0)
lrs = np.geomspace(1e-3, 1.0, 8)
settings = [(lr, seed) for lr in lrs for seed in range(8)]

ens = ir.Ensemble([2, 16, 16, 2], seeds=[seed for _, seed in settings], inits="he",
                  activation="tanh")
start = time.perf_counter()
histories = ens.fit(X, y, epochs=100, batch_size=16,
                    optimizer=[ir.SGD(lr=lr, momentum=0.9) for lr, _ in settings])
print(f"{len(ens.models)} models, 100 epochs each, in {time.perf_counter() - start:.2f} s")

accuracy = ens.score(X, y).reshape(len(lrs), 8)  # [learning rate, seed]
for lr, row in zip(lrs, accuracy):
    print(f"lr {lr:.4f}: accuracy {row.mean():.3f} (seeds {row.min():.3f} .. {row.max():.3f})")

fig = Figure(figsize=(9, 3.4), layout="constrained")
ax_acc, ax_loss = fig.subplots(1, 2)
ax_acc.plot(lrs, accuracy, "o", color="C0", alpha=0.4, ms=3)
ax_acc.plot(lrs, accuracy.mean(axis=1), "-", color="C0")
ax_acc.set(xscale="log", xlabel="learning rate", ylabel="training accuracy",
           title="64 models, one ensemble")
for k, (lr, seed) in enumerate(settings):
    if seed == 0:
        ax_loss.plot(histories[k].loss, label=f"lr {lr:.3g}")
ax_loss.set(yscale="log", xlabel="epoch", ylabel="training loss", title="seed 0 of each lr")
ax_loss.legend(fontsize=7, ncol=2)
