"""ruff, mypy and the layering contracts (import-linter) are part of the test suite, so the
one test command checks them too."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import aigen_app

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([str(BIN / "ruff"), "check", "."], id="ruff"),
        pytest.param([sys.executable, "-m", "mypy", "aigen_app", "project", "tests"], id="mypy"),
        # [tool.importlinter] in pyproject.toml: the layers of docs/architecture.md.
        pytest.param([str(BIN / "lint-imports"), "--no-cache"], id="import-layers"),
    ],
)
def test_static_checks_pass(command: list[str]) -> None:
    result = subprocess.run(  # noqa: S603
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_the_client_contract_forbids_every_other_module_of_the_app() -> None:
    """A new top-level module must join the client's forbidden list, or the client could
    import it without the contract noticing."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [client] = [c for c in config["contracts"] if c.get("source_modules") == ["aigen_app.client"]]
    modules = {f"aigen_app.{m.name}" for m in pkgutil.iter_modules(aigen_app.__path__)}
    assert modules - {"aigen_app.client"} <= set(client["forbidden_modules"])
