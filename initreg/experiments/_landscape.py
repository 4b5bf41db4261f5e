"""The two-parameter picture of the deeplearning.ai notes: how L1 and L2
reshape a loss landscape, and where the regularized optimum goes as lambda
grows.

A model with two weights w = (w1, w2) -- least squares or logistic regression
on two correlated features, no bias -- has a data cost J(w) whose contours are
(near) ellipses.  Adding lambda |w|_1 pulls the optimum along a path that
reaches an axis (a coordinate becomes exactly 0: the corner of the L1
diamond), adding lambda |w|^2 shrinks it towards the origin without zeroing
either coordinate (the L2 circle has no corners).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from initreg.experiments._common import Result

__all__ = ["landscape", "LandscapeResult"]


def _cost_and_gradient(problem, X, y, w):
    z = X @ w
    n = len(y)
    if problem == "least_squares":
        r = z - y
        return float(r @ r / n), 2 * X.T @ r / n
    p = 1 / (1 + np.exp(-z))
    loss = np.mean(np.logaddexp(0, z) - y * z)
    return float(loss), X.T @ (p - y) / n


def _minimize(problem, X, y, l1, l2, step, iters=20000, tol=1e-13):
    """argmin J(w) + l1 |w|_1 + l2 |w|^2 by proximal gradient descent (ISTA):
    a gradient step on J + l2|w|^2, then soft-thresholding by step * l1."""
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        _, g = _cost_and_gradient(problem, X, y, w)
        v = w - step * (g + 2 * l2 * w)
        new = np.sign(v) * np.maximum(np.abs(v) - step * l1, 0.0)
        if np.max(np.abs(new - w)) < tol:
            return new
        w = new
    return w


@dataclasses.dataclass
class LandscapeResult(Result):
    """The data cost J on a grid, the regularized costs at ``lam``, and the
    paths of the minimizers.

    grid_w1, grid_w2 : (G,) axes; cost, cost_l1, cost_l2 : (G, G) with
    [i, j] at (w1 = grid_w1[j], w2 = grid_w2[i]); optimum (2,) the
    unregularized minimizer; lambdas (K,); path_l1, path_l2 (K, 2) the
    minimizers of J + lambda|w|_1 and J + lambda|w|^2; opt_l1, opt_l2 those
    at ``lam`` and cost_at_l1, cost_at_l2 the data cost J there (its contour
    touches the diamond / circle through the optimum); l1_zero_lambda the
    smallest lambda of the path at which a coordinate of the L1 optimum is 0.
    """

    problem: str
    lam: float
    grid_w1: np.ndarray
    grid_w2: np.ndarray
    cost: np.ndarray
    cost_l1: np.ndarray
    cost_l2: np.ndarray
    optimum: np.ndarray
    opt_l1: np.ndarray
    opt_l2: np.ndarray
    cost_at_l1: float
    cost_at_l2: float
    lambdas: np.ndarray
    path_l1: np.ndarray
    path_l2: np.ndarray
    l1_zero_lambda: float | None

    def plot(self):
        from initreg.plotting import plot_landscape
        return plot_landscape(self)

    def summary(self):
        return {"optimum": [float(v) for v in self.optimum],
                "opt_l1": [float(v) for v in self.opt_l1],
                "opt_l2": [float(v) for v in self.opt_l2], "lam": self.lam,
                "l1_zero_lambda": self.l1_zero_lambda}


def landscape(problem="least_squares", *, lam=None, lambdas=None, n_samples=200,
              true_w=(1.0, 0.3), correlation=0.5, noise=0.3, grid_size=161, seed=0):
    """Two-weight model: the loss landscape with L1 and L2 and the optimum's path.

    problem : "least_squares" (y = X w + noise) or "logistic" (labels drawn
        from sigmoid(X w)).
    lam : the lambda of the contour pictures; default: a value at which the
        L1 optimum sits on an axis.
    lambdas : the path's lambdas; default 60 values from 1e-3 to beyond the
        lambda where the L1 optimum is exactly 0.
    true_w, correlation, noise : the data: two features of unit variance
        with the given correlation.
    """
    if problem not in ("least_squares", "logistic"):
        raise ValueError(f"problem must be 'least_squares' or 'logistic', got {problem!r}")
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, correlation], [correlation, 1.0]])
    X = rng.multivariate_normal(np.zeros(2), cov, size=n_samples)
    true_w = np.asarray(true_w, dtype=np.float64)
    if problem == "least_squares":
        y = X @ true_w + noise * rng.standard_normal(n_samples)
        step = 0.5 / np.linalg.eigvalsh(2 * X.T @ X / n_samples).max()
    else:
        y = (rng.random(n_samples) < 1 / (1 + np.exp(-3 * X @ true_w))).astype(np.float64)
        step = 0.5 / np.linalg.eigvalsh(0.25 * X.T @ X / n_samples).max()
    optimum = _minimize(problem, X, y, 0.0, 0.0, step)
    # lambda_max: above it the L1 optimum is exactly 0 (|dJ/dw| at 0 <= lambda)
    lam_max = float(np.max(np.abs(_cost_and_gradient(problem, X, y, np.zeros(2))[1])))
    if lambdas is None:
        lambdas = np.geomspace(1e-3, 1.5 * lam_max, 60)
    lambdas = np.asarray(lambdas, dtype=np.float64)
    path_l1 = np.array([_minimize(problem, X, y, lam_, 0.0, step) for lam_ in lambdas])
    path_l2 = np.array([_minimize(problem, X, y, 0.0, lam_, step) for lam_ in lambdas])
    on_axis = np.flatnonzero((path_l1 == 0).any(axis=1))
    l1_zero_lambda = float(lambdas[on_axis[0]]) if len(on_axis) else None
    if lam is None:  # halfway (geometrically) between the first zero and lambda_max
        lam = float(np.sqrt(l1_zero_lambda * lam_max)) if l1_zero_lambda else float(lambdas[-1])
    opt_l1 = _minimize(problem, X, y, lam, 0.0, step)
    opt_l2 = _minimize(problem, X, y, 0.0, lam, step)
    span = 1.25 * max(np.abs(optimum).max(), 0.5)
    g1 = np.linspace(-0.4 * span, span, grid_size)
    g2 = np.linspace(-0.4 * span, span, grid_size)
    W1, W2 = np.meshgrid(g1, g2)
    Wg = np.stack([W1.ravel(), W2.ravel()])  # (2, G*G)
    Z = X @ Wg
    if problem == "least_squares":
        cost = np.mean((Z - y[:, None]) ** 2, axis=0)
    else:
        cost = np.mean(np.logaddexp(0, Z) - y[:, None] * Z, axis=0)
    cost = cost.reshape(W1.shape)
    return LandscapeResult(problem=problem, lam=lam, grid_w1=g1, grid_w2=g2, cost=cost,
                           cost_l1=cost + lam * (np.abs(W1) + np.abs(W2)),
                           cost_l2=cost + lam * (W1**2 + W2**2), optimum=optimum,
                           opt_l1=opt_l1, opt_l2=opt_l2,
                           cost_at_l1=_cost_and_gradient(problem, X, y, opt_l1)[0],
                           cost_at_l2=_cost_and_gradient(problem, X, y, opt_l2)[0],
                           lambdas=lambdas, path_l1=path_l1,
                           path_l2=path_l2, l1_zero_lambda=l1_zero_lambda)
