"""
L2 is not weight decay under Adam
=================================

Test error over a grid of learning rates x strengths for SGD + L2, SGDW,
Adam + L2 and AdamW (Loshchilov & Hutter 2019, Fig. 2, at CPU scale).  With
SGD, L2 and decoupled weight decay are the same update with the strength
rescaled by the learning rate.  Under Adam they are not: the L2 gradient is
divided by Adam's running scale like every other gradient, so the
weights with large gradients are hardly regularized.  The second part
compares three ways of applying L1 under Adam.
"""

import initreg as ir

wd = ir.experiments.weight_decay(
    "digits", lrs=(4e-3, 2e-2, 1e-1), strengths=(1e-4, 3e-3, 3e-2), epochs=20,
    l1s=(1e-3, 1e-1), n_seeds=1, seed=0)

summary = wd.summary()
for method in wd.methods:
    s = summary[method]
    print(f"{wd.title(method):10s} best test error {s['best_test_error']:.1%} "
          f"(weight norm there {s['weight_norm_at_best']:.1f})")
for mode, s in summary["l1_sparsest"].items():
    print(f"L1 under Adam, {mode}: {s['zero_fraction']:.1%} of the weights exactly 0 at "
          f"l1 = {s['l1']:g} ({s['test_acc']:.1%} test accuracy)")

figures = wd.plot()
