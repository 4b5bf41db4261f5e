"""Progress bars: tqdm when it is installed (the ``report`` extra), a plain
one-line bar on stderr otherwise, nothing when disabled."""
from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress(total, "training") as bar: bar.update(loss=0.3)``."""

    def __init__(self, total, desc="", enabled=True, unit="epoch"):
        self.total, self.desc, self.enabled, self.unit = total, desc, enabled, unit
        self.done = 0
        self._bar = None
        self._start = time.perf_counter()
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, unit=unit, leave=True)

    def update(self, n=1, **postfix):
        if not self.enabled:
            return
        self.done += n
        text = " ".join(f"{k}={_fmt(v)}" for k, v in postfix.items())
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(n)
            return
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.perf_counter() - self._start
        sys.stderr.write(f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{self.done}/{self.total} {self.unit}s {elapsed:5.1f}s {text}")
        sys.stderr.flush()

    def write(self, message):
        """Print a line without breaking the bar."""
        if self._bar is not None:
            self._bar.write(message)
        else:
            sys.stderr.write(("\n" if self.enabled and self.done else "") + message + "\n")

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            sys.stderr.write("\n")
        self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)
