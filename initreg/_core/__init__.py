"""The compiled core: BLAS GEMM wrappers (_blas), the elementwise C kernels
(_kernels) and the training engine (_network).  Private: the public API is
re-exported from :mod:`initreg`."""
try:
    from initreg._core import _network  # noqa: F401  (fails early, with advice)
except ImportError as exc:  # a source checkout that was never compiled
    raise ImportError(
        "initreg's compiled core is not built in this copy of the package "
        f"({__path__[0]}).  Install it (pip install .) and run from outside the "
        "source tree, or build in place: python setup.py build_ext --inplace"
    ) from exc
