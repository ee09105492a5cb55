"""``manage.py aigen_emulator``: argument checks and a real foreground run."""

from __future__ import annotations

import argparse
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command

from aigen_app.management.commands.aigen_emulator import (
    fault_rate,
    non_negative_float,
    port_number,
)

from .helpers import KEY, body

ROOT = Path(__file__).resolve().parents[2]


def _first_line(process: subprocess.Popen[str], timeout: float = 60) -> str:
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True)
    reader.start()
    return lines.get(timeout=timeout).strip()


@pytest.mark.processes
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_command_serves_until_interrupted(stop_signal):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "aigen_emulator", "--port", "0", "--rpm", "5",
         "--fault-rate", "unavailable=0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        base_url = _first_line(process)
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v1beta")
        reply = httpx.post(f"{base_url}/models/gemini-nano-banana-2.1:generateContent",
                           json=body("from a subprocess"), headers={"x-goog-api-key": KEY},
                           timeout=30)
        assert reply.status_code == 200
        # The same server speaks OpenAI's Images API under /v1.
        openai = httpx.post(f"{base_url.removesuffix('/v1beta')}/v1/images/generations",
                            json={"model": "gpt-image-2", "prompt": "x", "size": "1024x1024"},
                            headers={"authorization": f"Bearer {KEY}"}, timeout=30)
        assert openai.status_code == 200
        assert openai.json()["data"][0]["b64_json"]
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in out


@pytest.mark.parametrize(
    "args",
    [["--port", "70000"], ["--port", "http"], ["--rpm", "0"], ["--latency", "-1"],
     ["--fault-rate", "volcano=0.1"], ["--fault-rate", "unavailable"],
     ["--fault-rate", "unavailable=1.5"],
     ["--fault-rate", "unavailable=0.7", "--fault-rate", "reset=0.5"]],
)
def test_bad_arguments_are_command_errors(args):
    with pytest.raises(CommandError):
        call_command("aigen_emulator", *args)


def test_validators_explain_the_problem():
    assert fault_rate("reset=0.25") == ("reset", 0.25)
    assert port_number("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match=r"outside 0\.\.65535"):
        port_number("65536")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown fault kind"):
        fault_rate("meteor=0.1")
    with pytest.raises(argparse.ArgumentTypeError):
        non_negative_float("nan")
