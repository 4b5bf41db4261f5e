"""``initreg bench``: the side-by-side timing of a training step against
NumPy, PyTorch, scikit-learn and the GEMM floor (:mod:`initreg.bench._compare`);
it runs from an installed wheel.  PyTorch and scikit-learn lines appear when
those are installed."""
from initreg.bench._compare import main

__all__ = ["main"]
