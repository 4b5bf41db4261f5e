"""The compiled modules are what runs: no silent pure-Python fallback."""
import importlib
import importlib.machinery
import pathlib

import pytest

import initreg
from initreg._core import _floor, _kernels, _network
from conftest import _env_for_this_initreg  # noqa: E402


@pytest.mark.parametrize("module", [_kernels, _network, _floor])
def test_core_modules_are_compiled_extensions(module):
    path = pathlib.Path(module.__file__)
    assert any(path.name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES), path
    assert isinstance(module.__loader__, importlib.machinery.ExtensionFileLoader)


def test_no_python_fallback_sources_are_installed():
    core = pathlib.Path(_network.__file__).parent
    assert sorted(p.name for p in core.glob("*.py")) == ["__init__.py"]


def test_public_model_runs_on_the_compiled_engine():
    net = initreg.MLP([3, 4, 2], seed=0)
    assert type(net._net).__module__ == "initreg._core._network"
    assert type(_kernels.tanh).__name__ in ("fused_cython_function", "cython_function_or_method")


def test_import_needs_only_numpy_and_scipy(tmp_path):
    import subprocess
    import sys
    code = ("import sys, initreg; initreg.experiments.sweep; "
            "heavy = [m for m in ('matplotlib', 'tqdm', 'sklearn', 'dask', 'pandas', 'torch') "
            "if m in sys.modules]; print(heavy)")
    # run outside the source tree, which would shadow the installed package
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env=_env_for_this_initreg())
    assert out.stdout.strip() == "[]"
