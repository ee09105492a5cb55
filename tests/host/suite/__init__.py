"""The host project's own test suite (copied into the host by the host leg, where it runs
under the host's pytest): ``host_conftest.py`` becomes ``conftest.py`` and
``host_test_generation.py`` ``tests/test_generation.py``. Not collected here."""

from __future__ import annotations

from pathlib import Path

from ..project import Host

HERE = Path(__file__).parent


def copy_suite(host: Host) -> None:
    (host.root / "conftest.py").write_text((HERE / "host_conftest.py").read_text())
    tests = host.root / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "test_generation.py").write_text((HERE / "host_test_generation.py").read_text())
