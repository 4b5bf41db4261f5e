"""Check repaired release wheels before anyone installs them.

    python .ci/check_wheel.py [--tag manylinux_2_17_x86_64] WHEEL_OR_DIR ...

Each wheel must be tagged for manylinux or musllinux (and with --tag, carry
exactly that platform tag), bundle no shared library (auditwheel puts the
ones it grafts in a ``*.libs/`` folder; the BLAS comes from SciPy at run
time, so initreg's wheel needs none), hold no compiled file outside
``initreg/_core``, and carry ``py.typed`` and the ``.pyi`` stub of each
compiled module.  Used by .ci/run and by cibuildwheel's repair step.
"""
import argparse
import sys
import zipfile
from pathlib import Path, PurePosixPath


def problems(wheel: Path, tag: str | None) -> list[str]:
    found = []
    # name-version-python-abi-platform.whl; the platform part may join several tags by "."
    platforms = wheel.name.removesuffix(".whl").split("-")[-1].split(".")
    if not all(p.startswith(("manylinux_", "manylinux1", "manylinux20", "musllinux_"))
               for p in platforms):
        found.append(f"platform tag {'.'.join(platforms)} is not a manylinux/musllinux one")
    if tag is not None and tag not in platforms:
        found.append(f"platform tag {'.'.join(platforms)} does not include {tag}")
    names = zipfile.ZipFile(wheel).namelist()
    bundled = [n for n in names if ".libs/" in n]
    if bundled:
        found.append(f"bundles shared libraries: {', '.join(bundled)}")
    compiled = [PurePosixPath(n) for n in names if n.endswith((".so", ".pyd")) or ".so." in n]
    stray = [str(p) for p in compiled if p.parent != PurePosixPath("initreg/_core")]
    if stray:
        found.append(f"compiled files outside initreg/_core: {', '.join(stray)}")
    if not compiled:
        found.append("no compiled module")
    for module in compiled:
        stub = f"initreg/_core/{module.name.split('.')[0]}.pyi"
        if stub not in names:
            found.append(f"no stub {stub} for {module}")
    if "initreg/py.typed" not in names:
        found.append("no initreg/py.typed")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", help="platform tag the wheels must carry")
    parser.add_argument("paths", nargs="+", type=Path, help="wheels, or folders of wheels")
    args = parser.parse_args(argv)
    wheels = [w for p in args.paths for w in (sorted(p.glob("*.whl")) if p.is_dir() else [p])]
    if not wheels:
        print("check_wheel: no wheel found", file=sys.stderr)
        return 1
    status = 0
    for wheel in wheels:
        found = problems(wheel, args.tag)
        for problem in found:
            print(f"check_wheel: {wheel.name}: {problem}", file=sys.stderr)
        if not found:
            print(f"check_wheel: {wheel.name}: ok")
        status |= bool(found)
    return status


if __name__ == "__main__":
    sys.exit(main())
