"""Fixtures of the scale tests: Redis and PostgreSQL when the environment provides them,
processes started with chosen settings, moto's S3 server, and a terminal summary that
repeats the load test's figures at the end of the run (so CI logs show them without
``-s``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.terminal import TerminalReporter
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
FIGURES = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES] = []


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.write_sep("=", "scale figures")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def report_figures(request: pytest.FixtureRequest) -> Callable[[list[str]], None]:
    """Keep lines for the terminal summary at the end of the run."""

    def report(lines: list[str]) -> None:
        request.config.stash[FIGURES].extend(lines)

    return report


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL (a Redis shared by several processes)")
    return url


def redis_caches(url: str) -> dict[str, Any]:
    """The project's caches plus ``limiter``: Redis under a key prefix of its own, so
    runs never see each other's keys."""
    return {
        **settings.CACHES,
        "limiter": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": url, "KEY_PREFIX": f"scale-{uuid.uuid4().hex[:12]}"},
    }


def process_env(overrides: dict[str, Any], **extra: str) -> dict[str, str]:
    """The environment of a process running ``tests.support.worker_settings``."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.support.worker_settings",
        "AIGEN_TEST_SETTINGS": json.dumps(overrides),
        "DJANGO_DEBUG": "0",
        **extra,
    }


@pytest.fixture
def processes() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``start(argv, env)``: a child process with piped text output, in a process group
    of its own (RQ workers fork a scheduler and a work horse). At the end every group
    still running is asked to stop (SIGTERM), then killed."""
    started: list[subprocess.Popen[str]] = []

    def start(argv: list[str], env: dict[str, str],
              output: Path | None = None) -> subprocess.Popen[str]:
        """``output``: a file for everything the process prints (a long-running process
        would block once a pipe nobody reads is full)."""
        with contextlib.ExitStack() as files:
            out: Any = subprocess.PIPE
            if output is not None:
                out = files.enter_context(output.open("w"))
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, *argv], cwd=ROOT, env=env, text=True,
                start_new_session=True, stdin=subprocess.PIPE, stdout=out,
                stderr=subprocess.STDOUT if output is not None else subprocess.PIPE,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        stop_group(process)


def stop_group(process: subprocess.Popen[str], grace: float = 10) -> tuple[str, str]:
    """Stop ``process`` and its process group (SIGTERM, then SIGKILL after ``grace``
    seconds); returns the output it had left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate(timeout=30)
    return out or "", err or ""


def start_together(probes: list[subprocess.Popen[str]], delay: float = 0.3) -> float:
    """Wait until every probe is ready, then tell them all to start ``delay`` seconds
    from now; returns that start time."""
    for probe in probes:
        assert probe.stdout is not None
        line = probe.stdout.readline()
        assert line.startswith('{"ready"'), line + (probe.stderr.read() if probe.stderr else "")
    at = time.time() + delay
    for probe in probes:
        assert probe.stdin is not None
        probe.stdin.write(f"{at}\n")
        probe.stdin.flush()
    return at


def probe_output(process: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    """The JSON a probe printed last; fails with its stderr when it did not succeed."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result
