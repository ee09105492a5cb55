"""Fixtures of the admin tests: temporary media and generations made through the services
against the emulator (Debian's Chromium for the browser test is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from aigen_app import services
from aigen_app.models import Generation
from tests.support import DUMMY, Media


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
