"""
Where deep networks can still train
===================================

Test accuracy of tanh networks of width 64 and depth 4, 16 and 64, weights
N(0, σ_w²/fan_in) for seven values of σ_w², after two epochs on the digits.
Mean-field theory (Schoenholz et al. 2017) puts the critical point, where
the depth scale ξ_c diverges, at the σ_w² with χ₁ = 1; networks deeper than
about 6 ξ_c are predicted not to train.  The white line is 6 ξ_c, the
dotted one the critical point.
"""

import numpy as np

import initreg as ir

tr = ir.experiments.trainability(
    "digits", depths=(4, 16, 64), width=64, epochs=2, s_w2=np.geomspace(0.5, 6.0, 7), seed=0)

counts = tr.counts()
print(f"critical sigma_w^2 = {tr.critical_s_w2:.3f}")
print(f"{counts['beyond_curve_trained']} of the {counts['beyond_curve']} cells deeper than "
      f"6 xi_c trained; {counts['below_curve_failed']} of the {counts['below_curve']} cells "
      f"below the line did not")

figures = tr.plot()
