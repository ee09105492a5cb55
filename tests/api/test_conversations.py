"""Conversations: turns by position (each generation's prompt, then its reply) with text,
image links and whether a thought signature is held — never the signature itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from aigen_app.emulator import running_emulator
from aigen_app.models import TurnPart
from tests.api.helpers import delivered, pending_generation
from tests.support import aigen_settings_for

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("immediate_tasks")]


def test_detail_lists_turns_in_order_without_signatures(api: APIClient) -> None:
    with running_emulator(signature_padding=2_000) as emu, override_settings(
        AIGEN=aigen_settings_for(emu)
    ):
        first = api.post("/api/generations/", {"prompt": "A red lighthouse",
                                               "title": "Lighthouses"}, format="json").json()
        second = api.post(f"/api/generations/{first['id']}/refine/",
                          {"prompt": "Make the sky stormy"}, format="json").json()

    response = api.get(f"/api/conversations/{first['conversation']}/")

    assert response.status_code == 200
    data = response.json()
    assert data["title"] == "Lighthouses"
    assert data["generation_count"] == 2
    turns = data["turns"]
    assert [t["position"] for t in turns] == [0, 1, 2, 3]
    assert [t["role"] for t in turns] == ["user", "model", "user", "model"]
    assert [t["generation"] for t in turns] == [first["id"]] * 2 + [second["id"]] * 2
    assert turns[0]["parts"] == [{"index": 0, "kind": "text", "text": "A red lighthouse",
                                  "image": None, "has_thought_signature": False}]
    for turn in turns[1::2]:
        kinds = {part["kind"]: part for part in turn["parts"]}
        assert kinds["image"]["has_thought_signature"] is True
        assert kinds["image"]["text"] is None
        image = kinds["image"]["image"]
        assert image["mime_type"] == "image/png"
        assert delivered(api.get(image["url"]))
    signatures = TurnPart.objects.exclude(thought_signature=None) \
        .values_list("thought_signature", flat=True)
    assert len(signatures) >= 2
    body = response.content.decode()
    assert '"thought_signature"' not in body
    assert all(signature not in body for signature in signatures)


def test_list_is_a_summary_without_turns(api: APIClient, alice: Any) -> None:
    from tests.api.helpers import pending_generation

    pending_generation(alice, "First prompt")
    pending_generation(alice, "Second prompt")

    data = api.get("/api/conversations/").json()

    assert data["count"] == 2
    assert [c["title"] for c in data["results"]] == ["Second prompt", "First prompt"]
    assert all("turns" not in c and c["generation_count"] == 1 for c in data["results"])
    assert api.get("/api/conversations/", {"search": "first"}).json()["count"] == 1


def test_a_turn_part_without_an_image_is_404(api: APIClient, alice: Any) -> None:
    from tests.api.helpers import pending_generation

    generation = pending_generation(alice)
    base = f"/api/conversations/{generation.conversation_id}/turns"

    for url in (f"{base}/0/parts/0/image/", f"{base}/0/parts/9/image/",
                f"{base}/7/parts/0/image/", f"{base}/0/parts/99999999999999/image/"):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"


def test_a_generation_without_a_reply_has_its_model_turn_with_no_parts(
        api: APIClient, alice: Any) -> None:
    generation = pending_generation(alice)

    turns = api.get(f"/api/conversations/{generation.conversation_id}/").json()["turns"]

    assert [(t["position"], t["role"], t["generation"]) for t in turns] == [
        (0, "user", str(generation.pk)), (1, "model", str(generation.pk))]
    assert turns[1]["parts"] == []
    assert api.get(f"/api/conversations/{generation.conversation_id}/turns/1/parts/0/image/"
                   ).status_code == 404
