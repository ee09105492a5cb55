"""The benchmarks' quick mode runs end to end and prints its table. Figures only: no
assertion on any time or ratio, just that every benchmark produced its rows."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .emulator import ROOT


@pytest.mark.timeout(120)
def test_quick_run_prints_every_benchmark() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--quick"], cwd=ROOT, capture_output=True,
        text=True, timeout=110, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if " | " in line]
    for bench in ("B1", "B2", "B3", "B4", "B5", "B6", "B7"):
        assert any(row.startswith(bench) for row in rows), f"{bench} missing:\n{done.stdout}"
    assert "FAILED" not in done.stdout
