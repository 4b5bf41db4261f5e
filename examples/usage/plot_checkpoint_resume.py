"""
Checkpoint and resume
=====================

``net.save(path, optimizer=opt)`` writes the model and its optimizer's state
(momentum buffers, step and epoch counts) to one ``.npz`` file;
:func:`initreg.load_checkpoint` gives both back, the optimizer bound to the
model.  Training on with the same ``fit`` arguments gives the parameters one
uninterrupted run would have, bit for bit: the batch order of a model's
k-th epoch is drawn from ``(seed, k)``, and the optimizer carries on from
its saved state.
"""

import tempfile
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import initreg as ir

X, y = ir.datasets.load_digits()


def new_run():
    net = ir.MLP([64, 128, 10], activation="relu", init="he", seed=0)
    return net, ir.SGD(lr=0.05, momentum=0.9, l2=1e-4)


# One run of 20 epochs.
net, opt = new_run()
whole = net.fit(X, y, epochs=20, optimizer=opt, seed=0)

# The same run, stopped after 8 epochs, saved, loaded and trained on.
first, opt_first = new_run()
part1 = first.fit(X, y, epochs=8, optimizer=opt_first, seed=0)
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "run.npz"
    first.save(path, optimizer=opt_first)
    resumed, opt_resumed = ir.load_checkpoint(path)
part2 = resumed.fit(X, y, epochs=12, optimizer=opt_resumed, seed=0)

print("epochs trained:", resumed.epochs_trained)
print("parameters equal bit for bit:",
      all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases,
                                               resumed.weights + resumed.biases)))

fig = Figure(figsize=(5.5, 3.4), layout="constrained")
ax = fig.subplots()
ax.plot(np.arange(1, 21), whole.loss, "k-", lw=3, alpha=0.3, label="one run of 20 epochs")
ax.plot(np.arange(1, 9), part1.loss, "o-", ms=3, label="epochs 1-8, then saved")
ax.plot(np.arange(9, 21), part2.loss, "s-", ms=3, label="loaded, epochs 9-20")
ax.set(xlabel="epoch", ylabel="training loss", yscale="log")
ax.legend()
