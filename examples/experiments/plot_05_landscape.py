"""
The two-parameter picture
=========================

Least squares with two weights on two correlated features: the contours of
the cost J, of J + λ‖w‖₁ and of J + λ‖w‖₂².  As λ grows the L1 optimum runs
into an axis, where a contour of J first touches the diamond ‖w‖₁ = c at a
corner, and one weight is then exactly zero; the L2 optimum shrinks towards
the origin along a curve, with no coordinate zero: the circle has no
corners.
"""

import initreg as ir

land = ir.experiments.landscape(seed=0)

print(f"optimum without penalty: ({land.optimum[0]:.3f}, {land.optimum[1]:.3f})")
print(f"with L1, lambda = {land.lam:.3g}: ({land.opt_l1[0]:.3f}, {land.opt_l1[1]:.3f})")
print(f"with L2, lambda = {land.lam:.3g}: ({land.opt_l2[0]:.3f}, {land.opt_l2[1]:.3f})")
print(f"one L1 coordinate is exactly 0 from lambda = {land.l1_zero_lambda:.3g} on")

figures = land.plot()
