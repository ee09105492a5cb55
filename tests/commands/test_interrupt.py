"""Ctrl-C (SIGINT) or SIGTERM during ``manage.py generate``: the generation ends as
canceled at once, one line says so, and the exit code is the shell's 128 + signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aigen_app.emulator import EmulatorServer
from aigen_app.management.interrupts import Interrupted
from aigen_app.models import Generation, GenerationStatus
from tests.conftest import Media, aigen_settings_for, database_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    """Poll ``condition`` (another process's progress) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_call_cancels_the_generation_and_exits_128_plus_it(
    emulator: EmulatorServer, media_storage: Media, tmp_path: Path, signum: int, code: int
) -> None:
    emulator.set_latency(60)  # the call is under way when the signal comes
    env = {**os.environ, **media_storage.process_env(), "DATABASE_URL": database_url()}
    test_settings = {**json.loads(env["AIGEN_TEST_SETTINGS"]),
                     "AIGEN": aigen_settings_for(emulator)}
    env["AIGEN_TEST_SETTINGS"] = json.dumps(test_settings)
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "generate", "A slow lighthouse",
         "--size", "64x48", "--output", str(tmp_path / "out.png")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: Generation.objects.filter(status=GenerationStatus.RUNNING).exists())
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == code, err
    generation = Generation.objects.get()
    assert generation.status == GenerationStatus.CANCELED
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1] == (f"CommandError: interrupted ({signal.Signals(signum).name}): "
                         f"generation {generation.pk} canceled")
    assert out == ""
    assert not (tmp_path / "out.png").exists()


def test_the_exit_code_follows_the_shells_convention() -> None:
    assert Interrupted(signal.SIGINT).exit_code == 130
    assert Interrupted(signal.SIGTERM).exit_code == 143
