"""Thousands of wrong inputs to the public API, in a child process: a crash
of the interpreter (segfault, abort) fails this test instead of the run."""
import os
import subprocess
import sys

from conftest import _env_for_this_initreg

HERE = os.path.dirname(os.path.abspath(__file__))


def test_public_api_survives_fuzzing(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "fuzz_public.py"), "--examples", "400"],
        capture_output=True, text=True, timeout=1200, cwd=tmp_path,
        env={**_env_for_this_initreg(), "PYTHONFAULTHANDLER": "1"})
    report = f"exit code {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    assert done.returncode == 0, report  # negative: killed by a signal
    assert "all calls worked or raised the documented errors" in done.stdout, report
