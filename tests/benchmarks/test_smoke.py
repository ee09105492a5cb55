"""The benchmarks' quick mode runs end to end and prints its table. Figures only: no
assertion on any time or ratio, just that every benchmark produced its rows."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .emulator import ROOT


@pytest.mark.timeout(250)
def test_quick_run_prints_every_benchmark() -> None:
    # B8 (worker processes on PostgreSQL) has a test of its own below: this run leaves it
    # out rather than run it twice. The timeout only stops a hung run: with the ``bench``
    # extras (the official SDKs compared too) the run took 98 s, on a loaded machine more.
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--quick", "--only", "B1,B2,B3,B4,B5,B6,B7"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if " | " in line]
    for bench in ("B1", "B2", "B3", "B4", "B5", "B6", "B7"):
        assert any(row.startswith(bench) for row in rows), f"{bench} missing:\n{done.stdout}"
    assert "FAILED" not in done.stdout


@pytest.mark.timeout(180)
def test_quick_b8_prints_both_engines() -> None:
    from .run import postgres_available

    if not postgres_available():
        pytest.skip("B8 needs PostgreSQL on 127.0.0.1:5432")
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--quick", "--only", "B8"], cwd=ROOT,
        capture_output=True, text=True, timeout=170, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("B8")]
    for engine in ("procrastinate", "db_worker"):
        assert any(engine in row and "paid calls per generation" in row for row in rows), (
            done.stdout)
