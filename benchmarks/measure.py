"""Time a command as a whole process, as a user runs it: wall time from start to exit and its peak memory."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHURN = str(ROOT / ".venv" / "bin" / "churn")


@dataclass(frozen=True)
class Measured:
    label: str
    seconds: float
    peak_mb: float  # the process's VmHWM (ru_maxrss of exactly this child)
    output: str

    def line(self) -> str:
        return f"{self.label}: {self.seconds:.1f} s, peak {self.peak_mb:,.0f} MB"


def run(label: str, argv: list[str], env: dict | None = None) -> Measured:
    """Run ``argv`` to its end; raise with its output if it fails."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, **(env or {})})
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{label} failed ({child.returncode}):\n{output}")
    return Measured(label, seconds, usage.ru_maxrss / 1024, output)


def python_script(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def machine() -> str:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    cpus = os.cpu_count()
    return (f"{platform.machine()}, {cpus} cores, Python {platform.python_version()}, pandas {pd.__version__}, "
            f"pyarrow {pa.__version__}, duckdb {duckdb.__version__}; load average before: "
            f"{os.getloadavg()[0]:.1f}")
