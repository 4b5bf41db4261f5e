"""
Signal propagation at initialization
====================================

How the scale of the weights decides what reaches the last layer of a deep
network before any training: a batch of N(0, 1) inputs goes through ten
tanh layers of width 256, and each layer's activations and back-propagated
gradients are measured, for weights N(0, 0.01²) ("small"), Xavier
(variance 1/fan_in), Glorot (2/(fan_in + fan_out)), He (2/fan_in) and
N(0, 1) ("large").  The dashed lines are the mean-field prediction (Poole
et al. 2016); the histograms are those of Glorot & Bengio (2010), Fig. 6.
"""

import initreg as ir

tanh = ir.experiments.signal_propagation(
    depth=10, width=256, activation="tanh",
    inits=("small", "xavier", "glorot", "he", "large"), batch=256, n_seeds=1, seed=0)

for init, s in tanh.summary().items():
    print(f"{init:7s} activation std: layer 1 {s['first_act_std']:.3g}, "
          f"layer 10 {s['last_act_std']:.3g}; saturated in layer 10: {s['last_saturated']:.0%}")

figures = tanh.plot()

# %%
# ReLU, thirty layers
# -------------------
# Half of a ReLU layer's inputs come out as zero, so the variance that keeps
# the signal's scale is twice Xavier's: He et al. (2015).  With Xavier the
# activations shrink by about a factor of two in variance per layer.

relu = ir.experiments.signal_propagation(
    depth=30, width=256, activation="relu", inits=("xavier", "he"), batch=256, n_seeds=1,
    seed=0)

for init, s in relu.summary().items():
    print(f"{init:7s} activation std: layer 1 {s['first_act_std']:.3g}, "
          f"layer 30 {s['last_act_std']:.3g} (mean field: {s['mf_last_act_std']:.3g})")

relu_figures = relu.plot()
