"""A host project as a user makes one: the wheel installed into its own site directory,
``django-admin startproject``, the README's snippets appended, ``manage.py`` commands run
as subprocesses (never the checkout on their path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import free_port

from .adoption import Snippet

NAME = "host"
COMMAND_TIMEOUT = 180
START_TIMEOUT = 60
# Settings a host may have that once broke the API: DRF's own schema class.
DRF_SCHEMA_SETTINGS = "settings_drf_schema"
DRF_SCHEMA_CLASS = "rest_framework.schemas.openapi.AutoSchema"
STAFF = "staff"
PASSWORD = "correct-horse-battery"  # a throwaway account of a throwaway project
API_KEY = "host-leg-key"  # the emulator accepts any key


@dataclass(frozen=True)
class Site:
    """The host's running server."""

    url: str
    token: str  # the superuser's DRF token


@dataclass
class Host:
    root: Path  # the project directory (manage.py)
    site: Path  # where the wheel is installed
    env: dict[str, str] = field(repr=False)

    @property
    def package(self) -> Path:
        return self.root / NAME

    def manage(self, *args: str, env: dict[str, str] | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        """``python manage.py ARGS`` in the host; output captured, failure raised with it."""
        result = subprocess.run(  # noqa: S603 - our interpreter, the host's manage.py
            [sys.executable, "manage.py", *args], cwd=self.root, env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def popen(self, *args: str, env: dict[str, str] | None = None,
              log: Path | None = None) -> subprocess.Popen[str]:
        """``manage.py ARGS`` in the background; output to ``log`` (a server's request
        lines could fill a pipe nobody reads) or to a pipe."""
        output = log.open("a") if log else subprocess.PIPE
        try:
            return subprocess.Popen(  # noqa: S603 - our interpreter, the host's manage.py
                [sys.executable, "manage.py", *args], cwd=self.root,
                env={**self.env, **(env or {})}, stdout=output, stderr=subprocess.STDOUT,
                text=True,
            )
        finally:
            if log:
                output.close()  # type: ignore[union-attr]


def create_host(scratch: Path, wheel: Path, snippets: list[Snippet]) -> Host:
    site = scratch / "site"
    subprocess.run(  # noqa: S603 - our interpreter, the wheel we built
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=COMMAND_TIMEOUT,
    )
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "AIGEN_", "AI_")) and key != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), DJANGO_SETTINGS_MODULE=f"{NAME}.settings",
               PYTHONDONTWRITEBYTECODE="1")
    root = scratch / NAME
    root.mkdir()
    subprocess.run([sys.executable, "-m", "django", "startproject", NAME, str(root)],  # noqa: S603
                   check=True, capture_output=True, env=env, timeout=COMMAND_TIMEOUT)
    host = Host(root=root, site=site, env=env)
    for snippet in snippets:
        with (host.package / snippet.target).open("a") as target:
            target.write(f"\n\n# Pasted from README.md\n{snippet.code}")
    (host.package / f"{DRF_SCHEMA_SETTINGS}.py").write_text(
        f"from .settings import *  # noqa: F403\n\n"
        f"REST_FRAMEWORK = {{'DEFAULT_SCHEMA_CLASS': {DRF_SCHEMA_CLASS!r}}}\n")
    return host


def _wait_until_serving(process: subprocess.Popen[str], url: str, log: Path) -> None:
    """Poll ``url`` until it answers (any status), the process dies or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited {process.returncode}:\n"
                                 f"{log.read_text()}")
        try:
            httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)  # not yet listening: a readiness poll, not synchronisation
        else:
            return
    raise AssertionError(f"{url} did not answer within {START_TIMEOUT} s")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@contextmanager
def running_emulator_process(host: Host) -> Iterator[str]:
    """``manage.py aigen_emulator --port 0`` in the host; yields its base URL."""
    process = host.popen("aigen_emulator", "--port", "0")
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        if not base_url.startswith("http://127.0.0.1:"):
            raise AssertionError(f"the emulator did not start: {base_url}"
                                 f"{process.stdout.read() if process.poll() is not None else ''}")
        yield base_url
    finally:
        _stop(process)


@contextmanager
def running_server(host: Host, settings: str | None = None,
                   env: dict[str, str] | None = None) -> Iterator[str]:
    """``manage.py runserver`` in the host on a free loopback port; yields its URL."""
    port = free_port()
    args = ["runserver", "--noreload", f"127.0.0.1:{port}"]
    if settings:
        args.append(f"--settings={NAME}.{settings}")
    log = host.root.parent / f"runserver-{port}.log"
    process = host.popen(*args, env=env, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, f"{url}/admin/login/", log)
        yield url
    finally:
        _stop(process)
