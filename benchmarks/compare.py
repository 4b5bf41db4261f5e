"""The side-by-side comparison, from a source checkout: the same as
``initreg bench`` (see initreg/bench/_compare.py for what it measures).

    python benchmarks/compare.py [--threads 1,2] [--configs ...] [--rounds 7] [--json FILE]
"""
import sys

from initreg.bench import main

if __name__ == "__main__":
    sys.exit(main())
