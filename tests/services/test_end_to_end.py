"""Generate and refine through the services against the emulator, immediate backend."""

from __future__ import annotations

import pytest
from django.test import override_settings

from aigen_app import services
from aigen_app.emulator import running_emulator
from aigen_app.models import Generation, GenerationStatus, Turn
from tests.support import aigen_settings_for

# Signatures this large (~530 KB of base64) exist in the wild and must survive storage.
SIGNATURE_PADDING = 400_000


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("immediate_tasks")
def test_generate_refine_refine_keeps_six_turns_with_exact_signatures(make_user) -> None:
    owner = make_user()
    with running_emulator(signature_padding=SIGNATURE_PADDING) as emu, override_settings(
        AIGEN=aigen_settings_for(emu)
    ):
        first = services.create_generation("A red lighthouse at dusk", owner=owner,
                                           width=640, height=480)
        second = services.refine(first, "Make the sky stormy")
        third = services.refine(second, "Add a small boat")
        log = emu.requests()
        issued = emu.issued_signatures()

    generations = [Generation.objects.get(pk=g.pk) for g in (first, second, third)]
    assert [g.status for g in generations] == [GenerationStatus.SUCCEEDED] * 3
    assert {g.conversation_id for g in generations} == {first.conversation_id}
    assert [g.parent_id for g in generations] == [None, first.pk, second.pk]
    assert all((g.image_width, g.image_height) == (640, 480) for g in generations)

    turns = list(Turn.objects.filter(conversation_id=first.conversation_id)
                 .order_by("position").prefetch_related("parts"))
    assert [t.position for t in turns] == [0, 1, 2, 3, 4, 5]
    assert [t.role for t in turns] == ["user", "model"] * 3
    assert [t.generation_id for t in turns] == [g.pk for g in generations for _ in (0, 1)]

    # Every model turn keeps each signature the emulator issued for it, byte for byte:
    # a text part and an image part, both signed.
    for turn in turns[1::2]:
        signatures = [p.thought_signature for p in turn.parts.all()]
        assert len(signatures) >= 2 and all(signatures)
        assert set(signatures) <= issued
        assert all(len(s or "") > 500_000 for s in signatures)
        assert {p.kind for p in turn.parts.all()} == {"text", "image"}

    # The emulator accepted each replay (it answers 400 to a missing or altered
    # signature), and each refinement carried exactly the earlier turns.
    assert [entry.status for entry in log] == [200, 200, 200]
    model_turns_sent = [
        [c for c in entry.body["contents"] if c["role"] == "model"] for entry in log
    ]
    assert [len(sent) for sent in model_turns_sent] == [0, 1, 2]
    for sent, stored in zip(model_turns_sent[2], turns[1:4:2], strict=True):
        assert [part.get("thoughtSignature") for part in sent["parts"]] == [
            p.thought_signature for p in stored.parts.all()
        ]
