"""ruff and mypy are part of the test suite, so the one test command checks them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([str(BIN / "ruff"), "check", "."], id="ruff"),
        pytest.param([sys.executable, "-m", "mypy", "aigen_app", "project", "tests"], id="mypy"),
    ],
)
def test_static_checks_pass(command: list[str]) -> None:
    result = subprocess.run(  # noqa: S603
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
