"""The README's promises that code can check: the two commands on top, the settings table."""

from __future__ import annotations

import re
from pathlib import Path

from aigen_app.conf import DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def fenced_blocks() -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)


def test_first_block_sets_up_and_generates_second_runs_the_tests() -> None:
    setup, tests = fenced_blocks()[:2]
    assert setup.strip().count("\n") == 0
    assert "pip install" in setup
    assert "manage.py generate" in setup
    assert tests.strip() == ".venv/bin/python -m pytest"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert '"$venv/bin/python" -m pytest' in ci


def test_ci_runs_postgresql_on_s3_and_sqlite_locally_as_the_readme_says() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    runs = [line for line in ci.splitlines() if line.startswith("run_tests ")]
    assert len(runs) == 3
    for run in runs:
        on_postgresql = 'DATABASE_URL="$PG"' in run
        assert ("AIGEN_TEST_STORAGE=s3" if on_postgresql else "AIGEN_TEST_STORAGE=local") in run
    assert "`AIGEN_TEST_STORAGE=s3`" in README


def test_every_setting_is_documented() -> None:
    table = README.split("<!-- settings-table")[1].split("\n## ")[0]
    missing = [key for key in DEFAULTS if f"| `{key}` |" not in table]
    assert missing == []
