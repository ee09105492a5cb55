"""What a refinement is sent: its own line of turns, rebuilt exactly from storage."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, Turn
from tests.support import paired_turns, png_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("immediate_tasks")]


def prompts_sent(entry: Any) -> list[str]:
    return [part["text"] for content in entry.body["contents"] if content["role"] == "user"
            for part in content["parts"] if "text" in part]


def test_branches_see_only_their_own_line(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    root = services.create_generation("A house", owner=make_user(), width=256, height=256)
    left = services.refine(root, "Paint it red")
    services.refine(root, "Paint it blue")
    leaf = services.refine(left, "Add a door")

    history = services.history_for(Generation.objects.get(pk=leaf.pk))

    assert [turn.role for turn in history] == ["user", "model", "user", "model"]
    assert [p.text for p in history[0].parts] == ["A house"]
    assert [p.text for p in history[2].parts] == ["Paint it red"]
    last = aigen_emulator.requests()[-1]
    assert last.status == 200
    assert prompts_sent(last) == ["A house", "Paint it red", "Add a door"]
    # By position, each generation's prompt and reply side by side, in creation order,
    # whatever branch it is on.
    pairs = paired_turns(root.conversation_id)
    assert [g for g, _ in pairs] == list(
        Generation.objects.order_by("created_at").values_list("pk", flat=True))
    assert all(parts for _, parts in pairs)


def test_history_replays_stored_images_and_signatures_exactly(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    owner = make_user()
    reference = png_bytes(40, 30, (10, 200, 10))
    logo = services.add_media_asset(png_bytes(color=(1, 2, 3)), owner=owner,
                                    asset_type="logo", display_name="Acme")
    root = services.create_generation("Put the logo on a mug", owner=owner, width=256,
                                      height=256, reference_image=reference,
                                      media_assets=[logo])
    first_request = aigen_emulator.requests()[0]
    first_reply_turn = Turn.objects.get(generation=root, role="model")
    child = services.refine(root, "Make the mug green")

    history = services.history_for(Generation.objects.get(pk=child.pk))

    user, model = history
    assert [p.image_data is not None for p in user.parts] == [True, False, True]
    assert user.parts[0].image_data == reference
    assert user.parts[2].image_data == png_bytes(color=(1, 2, 3))
    stored = list(first_reply_turn.parts.all())
    assert [p.thought_signature for p in model.parts] == [p.thought_signature for p in stored]
    assert all(p.thought_signature for p in model.parts)
    # The first request carried the reference image and the asset, as the client sends them.
    sent = first_request.body["contents"][-1]["parts"]
    images = [base64.b64decode(p["inlineData"]["data"]) for p in sent if "inlineData" in p]
    assert images == [reference, png_bytes(color=(1, 2, 3))]
    assert aigen_emulator.requests()[-1].status == 200


@pytest.mark.parametrize("fault", ["block_prompt", "bad_request"])
def test_an_unanswered_generation_keeps_its_empty_pair_and_later_replays_stay_exact(
    make_user: Any, aigen_emulator: EmulatorServer, fault: str
) -> None:
    root = services.create_generation("A house", owner=make_user(), width=256, height=256)
    aigen_emulator.inject(fault)
    dud = services.refine(root, "Something the API refuses")
    dud.refresh_from_db()
    assert dud.status in ("blocked", "failed")
    later = services.refine(root, "Paint it red")

    # The refused generation keeps its place: a user turn and an empty model turn.
    pairs = paired_turns(root.conversation_id)
    assert [g for g, _ in pairs] == [root.pk, dud.pk, later.pk]
    assert [len(parts) for _, parts in pairs] == [2, 0, 2]
    # The later refinement was sent the root's pair only, each signature byte-exact (the
    # emulator answers 400 to a missing or altered one), never the empty model turn.
    last = aigen_emulator.requests()[-1]
    assert last.status == 200
    assert Generation.objects.get(pk=later.pk).status == "succeeded"
    assert prompts_sent(last) == ["A house", "Paint it red"]
    [model] = [c for c in last.body["contents"] if c["role"] == "model"]
    stored = Turn.objects.get(generation=root, role="model").parts.all()
    assert [p.get("thoughtSignature") for p in model["parts"]] == [
        p.thought_signature for p in stored]
    assert all(p.get("thoughtSignature") for p in model["parts"])
    # And a refinement of the unanswered one is refused: it has no reply to replay.
    with pytest.raises(services.InvalidGenerationState):
        services.refine(dud, "Try again")
