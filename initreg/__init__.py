"""initreg: fast weight-initialization and L1/L2-regularization experiments
on dense neural networks, with a compiled (Cython + C) core.

>>> import initreg as ir
>>> net = ir.MLP([64, 128, 10], activation="relu", init="he", seed=0)
>>> opt = ir.SGD(lr=0.1, l2=1e-4)
"""
from initreg import callbacks, datasets, experiments, init, optim, regularization
from initreg.callbacks import EarlyStopping
from initreg.checkpoint import load_checkpoint
from initreg.ensemble import Ensemble
from initreg.history import History
from initreg.model import MLP, LossBreakdown
from initreg.optim import (SGD, Adam, AdamW, ExponentialDecay, InverseTimeDecay, Optimizer,
                           StepDecay)
from initreg._version import version_of as _version_of

#: This copy's version: its package metadata's (``pyproject.toml`` in a source tree).
__version__ = _version_of(__path__[0])

__all__ = ["MLP", "Ensemble", "SGD", "Adam", "AdamW", "Optimizer", "History", "LossBreakdown",
           "EarlyStopping",
           "load_checkpoint", "StepDecay", "ExponentialDecay", "InverseTimeDecay",
           "MLPClassifier", "MLPRegressor", "callbacks", "datasets", "experiments", "init",
           "optim", "regularization", "__version__"]


def __getattr__(name):
    # The estimators need scikit-learn: imported on first use only.
    if name in ("MLPClassifier", "MLPRegressor"):
        from initreg import estimators
        return getattr(estimators, name)
    raise AttributeError(f"module 'initreg' has no attribute {name!r}")
