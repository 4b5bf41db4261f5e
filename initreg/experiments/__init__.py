"""The experiments: what initialization and L1/L2 regularization do, with
numbers and pictures.  Each returns a result dataclass (NumPy arrays and
metadata) with ``to_dict()``, ``to_json()`` and ``plot()``; runs that vary
are repeated over several seeds, and every run is seeded.

- :func:`signal_propagation`: activations and gradients layer by layer at
  initialization, measured and predicted (linear and mean-field recursions).
- :func:`initialization`: training curves, per-layer statistics, symmetry
  and decision boundaries for each initializer.
- :func:`depth_study`: Xavier vs He as networks get deeper.
- :func:`regularization`: what L1, L2 and elastic net do to the weights and to
  generalization, across a lambda sweep.
- :func:`landscape`: the two-parameter picture of L1 vs L2.
- :func:`weight_decay`: L2 is not weight decay under Adam (Loshchilov &
  Hutter 2019): learning rate x strength grids for SGD + L2, SGDW, Adam + L2
  and AdamW, and the three ways of applying L1 under Adam.
- :func:`isometry`: the singular values of the input-output Jacobian at
  initialization against depth, Gaussian and orthogonal weights (Saxe et
  al. 2014; Pennington et al. 2017).
- :func:`mean_field`, :func:`critical_s_w2`: the fixed point q*, chi_1 and
  the depth scales xi_q and xi_c, by Gaussian quadrature (Schoenholz et al.
  2017).
- :func:`trainability`: which (s_w2, depth) train, against the 6 xi_c line.
- :func:`deep_linear`: the learning time of deep linear networks against
  depth, orthogonal vs Gaussian (Saxe et al. 2014, Fig. 6A).
- :func:`sweep`: any function over a grid of parameters and seeds, in
  parallel threads or on a Dask cluster; :func:`run_grid` runs a grid file
  (``initreg sweep``).
"""
from initreg.experiments._common import Data, Result, TrainSpec, load_dataset, train_models
from initreg.experiments._deep_linear import DeepLinearResult, deep_linear
from initreg.experiments._grid import load_grid, run_grid, signal_run, train_run
from initreg.experiments._isometry import IsometryResult, critical_gain, isometry
from initreg.experiments._landscape import LandscapeResult, landscape
from initreg.experiments._meanfield import (MeanField, critical_line, critical_s_w2,
                                            fixed_point_q, mean_field)
from initreg.experiments._regularization import PENALTIES, RegularizationResult, regularization
from initreg.experiments._signal import SignalResult, mean_field_variances, signal_propagation
from initreg.experiments._sweep import SweepResult, sweep, sweep_training
from initreg.experiments._trainability import TrainabilityResult, trainability
from initreg.experiments._training import (DepthResult, InitializationResult, depth_study,
                                          distinct_units, initialization)
from initreg.experiments._weight_decay import WeightDecayResult, weight_decay

__all__ = ["signal_propagation", "SignalResult", "mean_field_variances", "initialization",
           "InitializationResult", "depth_study", "DepthResult", "distinct_units",
           "regularization", "RegularizationResult", "PENALTIES", "landscape",
           "LandscapeResult", "weight_decay", "WeightDecayResult", "isometry", "IsometryResult",
           "critical_gain", "mean_field", "MeanField", "fixed_point_q", "critical_s_w2",
           "critical_line", "trainability", "TrainabilityResult", "deep_linear",
           "DeepLinearResult", "sweep", "sweep_training", "TrainSpec", "train_models",
           "SweepResult",
           "load_dataset", "Data", "Result", "load_grid", "run_grid", "train_run", "signal_run"]
