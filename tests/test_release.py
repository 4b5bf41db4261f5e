"""What a release carries: one version number, read from the package
metadata (or, in a source tree, from pyproject.toml), and the typing files
beside the compiled modules."""
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

import initreg
from initreg._version import UNKNOWN, version_of
from initreg.cli import main

from conftest import _env_for_this_initreg

PACKAGE = Path(initreg.__file__).resolve().parent
IN_SOURCE_TREE = (PACKAGE.parent / "pyproject.toml").is_file()


def test_version_is_a_release_number():
    assert initreg.__version__ != UNKNOWN
    assert not Version(initreg.__version__).is_devrelease
    assert "__version__" in initreg.__all__


@pytest.mark.skipif(IN_SOURCE_TREE, reason="a source tree reads its pyproject.toml")
def test_installed_copy_reads_its_metadata():
    dist = metadata.distribution("initreg")
    assert Path(str(dist.locate_file("initreg"))).resolve() == PACKAGE
    assert initreg.__version__ == dist.version == metadata.version("initreg")


@pytest.mark.skipif(not IN_SOURCE_TREE, reason="an installed copy has no pyproject.toml")
def test_source_tree_reads_its_pyproject():
    tomllib = pytest.importorskip("tomllib")
    with open(PACKAGE.parent / "pyproject.toml", "rb") as f:
        assert initreg.__version__ == tomllib.load(f)["project"]["version"]


def _package_copy(tmp_path, pyproject=None):
    package = tmp_path / "src" / "initreg"
    package.mkdir(parents=True)
    if pyproject is not None:
        (tmp_path / "src" / "pyproject.toml").write_text(pyproject)
    return package


def test_version_of_a_source_tree(tmp_path):
    package = _package_copy(tmp_path, '[build-system]\nrequires = ["setuptools"]\n\n'
                                      '[project]\nname = "initreg"\nversion = "7.1.2"\n'
                                      'dependencies = ["numpy"]\n\n[tool.x]\nversion = "9"\n')
    assert version_of(package) == "7.1.2"


@pytest.mark.parametrize("pyproject", [None, "", '[project]\nname = "other"\nversion = "3.0"\n',
                                       '[tool.x]\nname = "initreg"\nversion = "3.0"\n'])
def test_version_of_a_copy_without_metadata_is_unknown(tmp_path, pyproject):
    # Metadata installed for another copy of initreg (this one, say) does not
    # describe a copy elsewhere.
    assert version_of(_package_copy(tmp_path, pyproject)) == UNKNOWN


def test_cli_prints_the_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"initreg {initreg.__version__}\n"


def test_python_m_initreg_version_in_a_child():
    out = subprocess.run([sys.executable, "-m", "initreg", "--version"], capture_output=True,
                         text=True, check=True, env=_env_for_this_initreg(), cwd="/")
    assert out.stdout.strip() == f"initreg {initreg.__version__}"


def test_typing_files_beside_the_compiled_modules():
    assert (PACKAGE / "py.typed").is_file()
    compiled = sorted((PACKAGE / "_core").glob("*.so")) + sorted((PACKAGE / "_core").glob("*.pyd"))
    assert compiled
    for module in compiled:
        assert (PACKAGE / "_core" / (module.name.split(".")[0] + ".pyi")).is_file(), module
