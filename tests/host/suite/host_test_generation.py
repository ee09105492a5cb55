"""A host project's tests of its aigen integration, written as a host would: with
``aigen_app.testing``'s fixtures, against the bundled emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from PIL import Image

from aigen_app import services
from aigen_app.models import GenerationStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_generate_command_sends_the_prompt_and_writes_the_size(
        aigen_emulator: Any, tmp_path: Path) -> None:
    output = tmp_path / "x.png"
    call_command("generate", "A lighthouse at dawn", "--size", "1280x720",
                 "--output", str(output))
    [sent] = aigen_emulator.requests()
    assert sent.prompt == "A lighthouse at dawn"
    assert sent.aspect_ratio == "16:9"
    with Image.open(output) as image:
        assert image.size == (1280, 720)


def test_a_blocked_prompt_ends_blocked(aigen_emulator: Any, aigen_immediate_tasks: None) -> None:
    aigen_emulator.inject("block_prompt")
    generation = services.create_generation("Something the policy refuses",
                                            width=512, height=512)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.BLOCKED
    assert [entry.outcome for entry in aigen_emulator.requests()] == ["block_prompt"]


def test_an_unavailable_api_is_retried(aigen_emulator: Any,
                                       aigen_immediate_tasks: None) -> None:
    aigen_emulator.inject("unavailable")
    generation = services.create_generation("A red bicycle", width=256, height=256)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.SUCCEEDED
    assert [entry.status for entry in aigen_emulator.requests()] == [503, 200]
