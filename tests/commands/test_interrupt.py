"""Ctrl-C (SIGINT) or SIGTERM during ``manage.py generate``: the generation ends as
canceled at once, one line says so, and the exit code is the shell's 128 + signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aigen_app.emulator import EmulatorServer
from aigen_app.management.interrupts import Interrupted
from aigen_app.models import Generation, GenerationStatus
from tests.support import DUMMY, Media, aigen_settings_for, database_url, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]




# The default backend runs the generation on a thread of the command's process (or the
# command's own thread claims it first); with a backend whose worker is elsewhere (none
# runs here), the command's own thread always runs it.
BACKENDS = {"in-process": {"BACKEND": "aigen_app.inprocess.InProcessBackend"},
            "worker elsewhere": DUMMY}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_call_cancels_the_generation_and_exits_128_plus_it(
    emulator: EmulatorServer, media_storage: Media, tmp_path: Path, signum: int, code: int,
    backend: str
) -> None:
    emulator.set_latency(60)  # the call is under way when the signal comes
    env = {**os.environ, **media_storage.process_env(), "DATABASE_URL": database_url()}
    test_settings = {**json.loads(env["AIGEN_TEST_SETTINGS"]),
                     "AIGEN": aigen_settings_for(emulator),
                     "TASKS": {"default": BACKENDS[backend]}}
    env["AIGEN_TEST_SETTINGS"] = json.dumps(test_settings)
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "generate", "A slow lighthouse",
         "--size", "64x48", "--output", str(tmp_path / "out.png")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: Generation.objects.filter(status=GenerationStatus.RUNNING).exists())
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == code, err
    generation = Generation.objects.get()
    assert generation.status == GenerationStatus.CANCELED, err
    # Canceled where it stood: not handed back to the queue first ("worker_stopped"),
    # where this process's backend could start it again and pay for a second call.
    assert (generation.attempts, generation.error_code) == (1, ""), err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert lines[-1] == (f"CommandError: interrupted ({signal.Signals(signum).name}): "
                         f"generation {generation.pk} canceled"), err
    assert out == ""
    assert not (tmp_path / "out.png").exists()


def test_the_exit_code_follows_the_shells_convention() -> None:
    assert Interrupted(signal.SIGINT).exit_code == 130
    assert Interrupted(signal.SIGTERM).exit_code == 143
