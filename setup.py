"""The compiled extensions of initreg (all metadata is in pyproject.toml).

Environment switches, read at build time:
  INITREG_DEBUG=1   bounds checks, wraparound and initialisation checks back on
                    in every Cython module (and -O1 -g), for hunting memory errors
  INITREG_NATIVE=1  add -march=native: faster on the build machine, but the
                    result only runs on CPUs like it; never for a wheel you ship
  INITREG_SANITIZE=address   build with AddressSanitizer (run the tests with
                    LD_PRELOAD=$(gcc -print-file-name=libasan.so) and
                    ASAN_OPTIONS=detect_leaks=0); for hunting memory errors
"""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("INITREG_DEBUG", "0") == "1"
NATIVE = os.environ.get("INITREG_NATIVE", "0") == "1"
SANITIZE = os.environ.get("INITREG_SANITIZE", "")

if sys.platform == "win32":
    cflags = ["/O2", "/fp:precise"]
else:
    # -fno-trapping-math lets the selects of the kernels vectorise; no
    # -ffast-math: NaN and inf must survive to the divergence checks.
    cflags = ["-O1" if DEBUG else "-O3", "-ffp-contract=fast", "-fno-math-errno",
              "-fno-trapping-math", "-fopenmp-simd"]
    if DEBUG:
        cflags += ["-g", "-UNDEBUG"]
    if NATIVE:
        cflags.append("-march=native")
    if SANITIZE:
        cflags += [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer", "-g"]

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

KERNELS = ["csrc/kernels.c"]


def extension(name, sources=()):
    return Extension(
        f"initreg._core.{name}",
        [f"initreg/_core/{name}.pyx", *sources],
        include_dirs=["csrc"],
        depends=["csrc/initreg.h", "csrc/kernels.inc", "initreg/_core/_blas.pxd"],
        extra_compile_args=cflags,
        extra_link_args=[f"-fsanitize={SANITIZE}"] if SANITIZE else [],
    )


setup(
    ext_modules=cythonize(
        [extension("_kernels", KERNELS), extension("_network", KERNELS),
         extension("_floor")],
        compiler_directives=directives,
        build_dir="build/cython-debug" if DEBUG else "build/cython",
    ),
)
