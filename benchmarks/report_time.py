"""Wall time of `initreg report`, default and --quick (the targets: under
2 minutes and under 20 seconds on a 2-core machine).

    python benchmarks/report_time.py [--repeat 2] [--json out.json]

Each run writes into a fresh temporary directory; the command is timed from
the outside, interpreter start-up and imports included.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time


def time_report(extra, repeat):
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "initreg", "report", "--no-progress",
                            "--out", os.path.join(tmp, "r"), *extra], check=True,
                           stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    rows = {"quick": time_report(["--quick"], args.repeat), "default": time_report([], args.repeat)}
    print(f"initreg report wall time, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    for name, times in rows.items():
        print(f"  {name:8s} best {min(times):6.1f} s   all {', '.join(f'{t:.1f}' for t in times)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
