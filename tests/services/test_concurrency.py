"""Concurrent writers: refinements of one conversation, quota, double runs."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus, Turn
from aigen_app.services import DailyLimitReached
from tests.support import paired_turns, run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.usefixtures("immediate_tasks")
def test_ten_concurrent_refinements_serialize_their_turns(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    root = services.create_generation("A lighthouse", owner=make_user(), width=320, height=240)
    assert Generation.objects.get(pk=root.pk).status == GenerationStatus.SUCCEEDED

    results = run_in_threads(10, lambda i: services.refine(root, f"Variant number {i}"))

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    refinements = Generation.objects.filter(parent=root)
    assert refinements.count() == 10
    assert set(refinements.values_list("status", flat=True)) == {GenerationStatus.SUCCEEDED}
    # Positions 0..21 without a gap, user and model turns alternating, each pair one
    # generation's prompt and its reply: however the ten runs finished, no interleaving.
    pairs = paired_turns(root.conversation_id)
    assert Turn.objects.filter(conversation_id=root.conversation_id).count() == 22
    assert len(pairs) == 11  # the root's pair and ten new ones: twenty new turns
    assert pairs[0][0] == root.pk
    assert {g for g, _ in pairs[1:]} == set(refinements.values_list("pk", flat=True))
    assert all({p.kind for p in parts} == {"text", "image"} for _, parts in pairs)
    # Pairs are in the order the refinements were created (positions taken under lock).
    by_creation = list(refinements.order_by("created_at").values_list("pk", flat=True))
    assert [g for g, _ in pairs[1:]] == by_creation
    # Each refinement was sent the root's two turns, never a sibling's.
    refine_requests = [e for e in aigen_emulator.requests() if e.prompt.startswith("Variant")]
    assert len(refine_requests) == 10
    assert all(e.status == 200 and len(e.body["contents"]) == 3 for e in refine_requests)


@pytest.mark.usefixtures("queued_tasks")
def test_daily_limit_holds_under_concurrent_requests(make_user: Any) -> None:
    owner = make_user()
    with override_settings(AIGEN={"USER_DAILY_LIMIT": 3}):
        results = run_in_threads(
            6, lambda i: services.create_generation(f"Prompt {i}", owner=owner)
        )
    created = [r for r in results if isinstance(r, Generation)]
    refused = [r for r in results if isinstance(r, DailyLimitReached)]
    assert (len(created), len(refused)) == (3, 3), results
    assert Generation.objects.filter(owner=owner).count() == 3


def test_two_runs_of_one_generation_call_the_api_once(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any
) -> None:
    generation = services.create_generation("A cat", owner=make_user(), width=256, height=256)
    aigen_emulator.inject("latency", seconds=0.5)

    results = run_in_threads(2, lambda i: services.run_generation(str(generation.pk)))

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(aigen_emulator.requests()) == 1
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.SUCCEEDED
    assert generation.attempts == 1
    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED
    assert len(aigen_emulator.requests()) == 1
    # One pair of turns, the reply stored once.
    [(owner_id, parts)] = paired_turns(generation.conversation_id)
    assert (owner_id, [p.kind for p in parts]) == (generation.pk, ["text", "image"])

