"""The docs' promises that code can check: the README's two commands and CI, the settings
table in docs/installation.md, and that nothing cites a file outside the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from aigen_app.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()
INSTALLATION = (ROOT / "docs" / "installation.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()


def fenced_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def test_first_block_sets_up_and_generates_second_installs_and_runs_the_tests() -> None:
    setup, tests = fenced_blocks(README)[:2]
    assert setup.strip().count("\n") == 0
    assert "pip install -q -e '.[demo]'" in setup
    assert "manage.py generate" in setup
    assert tests.strip() == ".venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest"


def test_ci_installs_and_runs_what_the_readme_test_command_does() -> None:
    tests = fenced_blocks(README)[1]
    extras = re.search(r"-e '(\.\[\w+\])'", tests)
    assert extras is not None
    assert re.search(r"pip install[^\n]* -e " + re.escape(f"'{extras[1]}'"), CI)
    assert '"$venv/bin/python" -m pytest' in CI


def test_ci_runs_postgresql_on_s3_and_sqlite_locally_as_the_docs_say() -> None:
    runs = [line for line in CI.splitlines() if line.startswith("run_tests ")]
    assert len(runs) == 3
    for run in runs:
        on_postgresql = 'DATABASE_URL="$PG"' in run
        assert ("AIGEN_TEST_STORAGE=s3" if on_postgresql else "AIGEN_TEST_STORAGE=local") in run
    assert "`AIGEN_TEST_STORAGE=s3`" in OPERATIONS


def test_every_setting_is_documented() -> None:
    table = INSTALLATION.split("<!-- settings-table")[1].split("\n## ")[0]
    missing = [key for key in DEFAULTS if f"| `{key}` |" not in table]
    assert missing == []


def test_no_tracked_file_cites_a_path_outside_the_repository() -> None:
    git = shutil.which("git")
    assert git is not None
    tracked = subprocess.run(  # noqa: S603 - git, with fixed arguments
        [git, "ls-files", "-z"], cwd=ROOT, capture_output=True,
        check=True).stdout.decode().split("\0")
    # Spelt in two pieces so that this file does not name what it looks for.
    outside = re.compile(r"\.\./" + "shared/|(?<![\\w.])/" + "work/")
    citing = []
    for name in filter(None, tracked):
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        citing += [f"{name}:{number}" for number, line in enumerate(text.splitlines(), 1)
                   if outside.search(line)]
    assert citing == []
