"""The list's actions: retry failed generations, cancel pending ones (through the
services), each refusal reported per generation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client

from aigen_app.models import Generation, GenerationStatus

from .helpers import admin_url

pytestmark = pytest.mark.django_db


def run_action(client: Client, action: str, *generations: Generation) -> list[str]:
    response = client.post(admin_url("generation"), {
        "action": action, "_selected_action": [str(g.pk) for g in generations],
    })
    assert response.status_code == 302
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_retry_requeues_failed_and_blocked_generations_and_reports_the_others(
        admin_client: Client, make_generation: Callable[..., Generation],
        django_capture_on_commit_callbacks: Any) -> None:
    failed = make_generation("A fox", fault="bad_request")
    blocked = make_generation("A wolf", fault="block_prompt")
    done = make_generation("A hare")
    assert (failed.status, blocked.status) == (GenerationStatus.FAILED, GenerationStatus.BLOCKED)

    # The emulator answers normally now: the immediate backend runs them again at once.
    with django_capture_on_commit_callbacks(execute=True):
        notes = run_action(admin_client, "retry_generations", failed, blocked, done)

    assert "2 generations queued again." in notes
    assert any(note.startswith(f"{done.pk}: Only a failed, blocked or canceled") for note in notes)
    for generation in (failed, blocked, done):
        generation.refresh_from_db()
    assert failed.status == blocked.status == done.status == GenerationStatus.SUCCEEDED
    assert failed.error_message == "" and blocked.block_reason == ""


def test_cancel_stops_pending_generations_and_reports_finished_ones(
        admin_client: Client, make_pending: Callable[..., Generation],
        make_generation: Callable[..., Generation]) -> None:
    waiting = make_pending("A kite")
    done = make_generation("A hare")

    notes = run_action(admin_client, "cancel_generations", waiting, done)

    assert "1 generation canceled." in notes
    assert any(note.startswith(f"{done.pk}: Only a pending or running") for note in notes)
    waiting.refresh_from_db()
    done.refresh_from_db()
    assert waiting.status == GenerationStatus.CANCELED
    assert done.status == GenerationStatus.SUCCEEDED


def test_staff_who_may_only_view_get_no_actions(
        client: Client, make_pending: Callable[..., Generation],
        make_user: Callable[..., Any]) -> None:
    waiting = make_pending("A kite")
    viewer = make_user("viewer")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_generation"))
    client.force_login(viewer)

    html = client.get(admin_url("generation")).content.decode()
    assert "cancel_generations" not in html and "retry_generations" not in html
    client.post(admin_url("generation"), {"action": "cancel_generations",
                                          "_selected_action": [str(waiting.pk)]})
    waiting.refresh_from_db()
    assert waiting.status == GenerationStatus.PENDING
