"""Fixtures of the admin tests: temporary media, generations made through the services
against the emulator, and (for the browser test) Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from aigen_app import services
from aigen_app.models import Generation
from tests.conftest import DUMMY, Media

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL_TIMEOUT = 900


@pytest.fixture(autouse=True)
def _media(media_storage: Media) -> Media:
    return media_storage


@pytest.fixture
def make_generation(aigen_emulator: Any, immediate_tasks: None,
                    django_capture_on_commit_callbacks: Any) -> Callable[..., Generation]:
    """``make_generation(prompt, fault=None, refine=None, **options)``: a generation created (or
    refined) through the services and run against the emulator; ``fault`` is injected
    into the emulator first (``"block_prompt"``, ``"bad_request"``...). Immediate tasks."""

    def make(prompt: str, *, fault: str | None = None, refine: Generation | None = None,
             **options: Any) -> Generation:
        if fault is not None:
            aigen_emulator.inject(fault)
        # In a test wrapped in a transaction nothing commits: run the queued work as if
        # it had (with transaction=True it has already run when the block ends).
        with django_capture_on_commit_callbacks(execute=True):
            if refine is not None:
                generation = services.refine(refine, prompt, **options)
            else:
                generation = services.create_generation(
                    prompt, **{"width": 96, "height": 64, **options})
        generation.refresh_from_db()
        return generation

    return make


@pytest.fixture
def make_pending(aigen_emulator: Any) -> Callable[..., Generation]:
    """``make_pending(prompt, **options)``: a generation queued on a backend that never runs it."""

    def make(prompt: str, **options: Any) -> Generation:
        with override_settings(TASKS={"default": DUMMY}):
            return services.create_generation(prompt, width=96, height=64, **options)

    return make


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's Chromium, installing the package when it is missing and we
    may (root, apt-get): the browser test must run in CI, not download a browser.

    Missing and not installable: the test fails when env CI is set, else is skipped.
    """
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(
                ["/bin/sh", "-c", "apt-get update && apt-get install -y "
                 "--no-install-recommends chromium"],
                env=env, check=True, timeout=CHROMIUM_INSTALL_TIMEOUT,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        except subprocess.CalledProcessError as exc:
            reason = f"apt-get failed: {exc}; {exc.stderr.decode(errors='replace')[-800:]}"
        except (subprocess.SubprocessError, OSError) as exc:
            reason = f"could not run apt-get: {exc}"
        else:
            reason = f"apt-get installed chromium but {CHROMIUM} is missing"
    else:
        reason = f"{CHROMIUM} is missing (install Debian's chromium package as root)"
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.environ.get("CI"):
        pytest.fail(f"The browser test must run in CI: {reason}")
    pytest.skip(reason)
