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
from setuptools.command.build_ext import build_ext

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

#: The C kernels, compiled once into a static library that every extension
#: links (kernels.c builds three clones of each hot loop and is the slow part
#: of a build).
KERNELS = ("initreg_kernels", {
    "sources": ["csrc/kernels.c"],
    "include_dirs": ["csrc"],
    "obj_deps": {"": ["csrc/initreg.h", "csrc/kernels.inc", "csrc/lanes.inc"]},
    "cflags": cflags + ([] if sys.platform == "win32" else ["-fPIC"]),
})


def extension(name):
    return Extension(
        f"initreg._core.{name}",
        [f"initreg/_core/{name}.pyx"],
        include_dirs=["csrc"],
        depends=["csrc/initreg.h", "initreg/_core/_blas.pxd", "initreg/_core/_csrc.pxd"],
        extra_compile_args=cflags,
        extra_link_args=[f"-fsanitize={SANITIZE}"] if SANITIZE else [],
    )


class BuildExtWithKernels(build_ext):
    """build_ext that first builds the kernel library, so that
    ``python setup.py build_ext --inplace`` works on its own."""

    def run(self):
        self.run_command("build_clib")
        super().run()


setup(
    cmdclass={"build_ext": BuildExtWithKernels},
    libraries=[KERNELS],
    ext_modules=cythonize(
        [extension("_kernels"), extension("_network"), extension("_ensemble"),
         extension("_floor")],
        compiler_directives=directives,
        build_dir="build/cython-debug" if DEBUG else "build/cython",
    ),
)
