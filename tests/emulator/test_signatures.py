"""Multi-turn editing: issued thought signatures must come back on exactly their parts."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from aigen_app.emulator import running_emulator
from aigen_app.emulator.signatures import SignatureRegistry

from .helpers import body, decode_image, inline, png, text, url, user

FOLLOW_UP = user(text("now make it blue"))


def first_turn(emu, client) -> dict[str, Any]:
    reply = client.post(url(emu), json=body("a red bicycle"))
    assert reply.status_code == 200
    content: dict[str, Any] = reply.json()["candidates"][0]["content"]
    return content


def replay(emu, client, model_turn: dict[str, Any]):
    contents = [user(text("a red bicycle")), model_turn, FOLLOW_UP]
    return client.post(url(emu), json=body(contents=contents))


def test_replaying_the_model_turn_as_received_is_accepted(emu, client):
    turn = first_turn(emu, client)

    reply = replay(emu, client, turn)

    assert reply.status_code == 200
    assert reply.json()["candidates"][0]["content"]["parts"][1]["text"].endswith(
        "now make it blue"
    )
    issued = {p["thoughtSignature"] for p in turn["parts"] if "thoughtSignature" in p}
    assert len(issued) == 2
    assert issued <= emu.issued_signatures()


def test_replay_survives_the_sdks_url_safe_reencoding(emu, client):
    # The official Python SDK decodes bytes fields and re-encodes them URL-safe.
    turn = first_turn(emu, client)
    for part in turn["parts"]:
        if "thoughtSignature" in part:
            raw = base64.b64decode(part["thoughtSignature"])
            part["thoughtSignature"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if "inlineData" in part:
            raw = base64.b64decode(part["inlineData"]["data"])
            part["inlineData"]["data"] = base64.urlsafe_b64encode(raw).decode()

    assert replay(emu, client, turn).status_code == 200


def test_replay_without_the_thought_part_is_accepted(emu, client):
    turn = first_turn(emu, client)
    turn["parts"] = [p for p in turn["parts"] if not p.get("thought")]

    assert replay(emu, client, turn).status_code == 200


@pytest.mark.parametrize(
    ("kind", "position"), [("Image", 3), ("Text", 2)],
)
def test_a_dropped_signature_names_the_part(emu, client, kind, position):
    turn = first_turn(emu, client)
    del turn["parts"][position - 1]["thoughtSignature"]

    reply = replay(emu, client, turn)

    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == (
        f"{kind} part is missing a thought_signature in content position 2, "
        f"part position {position}."
    )
    assert emu.requests()[-1].outcome == "missing_signature"


def test_positions_count_from_one_across_the_whole_history(emu, client):
    turn = first_turn(emu, client)
    unsigned = copy.deepcopy(turn)
    del unsigned["parts"][2]["thoughtSignature"]
    contents = [user(text("a red bicycle")), turn, user(text("again")), unsigned, FOLLOW_UP]

    reply = client.post(url(emu), json=body(contents=contents))

    assert "content position 4, part position 3." in reply.json()["error"]["message"]


def _invented(turn: dict[str, Any]) -> None:
    turn["parts"][2]["thoughtSignature"] = base64.b64encode(b"x" * 32).decode()


def _swapped(turn: dict[str, Any]) -> None:
    text_part, image_part = turn["parts"][1], turn["parts"][2]
    text_part["thoughtSignature"], image_part["thoughtSignature"] = (
        image_part["thoughtSignature"], text_part["thoughtSignature"],
    )


def _other_image(turn: dict[str, Any]) -> None:
    turn["parts"][2]["inlineData"]["data"] = base64.b64encode(png()).decode()


def _edited_text(turn: dict[str, Any]) -> None:
    turn["parts"][1]["text"] += " (edited)"


@pytest.mark.parametrize("tamper", [_invented, _swapped, _other_image, _edited_text])
def test_a_signature_that_does_not_belong_to_its_part_is_refused(emu, client, tamper):
    turn = first_turn(emu, client)
    tamper(turn)

    reply = replay(emu, client, turn)

    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == (
        "Unable to submit request because it has an invalid thought signature for content "
        "at index 2."
    )
    assert emu.requests()[-1].outcome == "invalid_signature"


def test_signatures_verify_in_another_emulator_process_but_not_under_another_key(client):
    """Like the real service's, signatures are checked with a key, not a memory of what
    was issued: a conversation begun against one emulator (each ``manage.py generate``
    starts its own) continues against the next, with padding or without."""
    with running_emulator(signature_padding=1000) as other:
        turn = first_turn(other, client)
    with running_emulator() as emu:
        assert replay(emu, client, turn).status_code == 200
        emu.state.signatures = SignatureRegistry(key=b"another service's key")
        assert replay(emu, client, turn).status_code == 400
        assert emu.requests()[-1].outcome == "invalid_signature"


@pytest.mark.parametrize(
    "bypass",
    [
        "skip_thought_signature_validator",
        "context_engineering_is_the_way_to_go",
        base64.b64encode(b"skip_thought_signature_validator").decode(),
    ],
)
def test_documented_bypass_values_are_accepted(emu, client, bypass):
    handmade = {"role": "model", "parts": [{"text": "earlier", "thoughtSignature": bypass},
                                           {**inline(png()), "thoughtSignature": bypass}]}

    assert replay(emu, client, handmade).status_code == 200


def test_signature_padding_makes_signatures_large(client):
    with running_emulator(signature_padding=50_000) as emu:
        turn = first_turn(emu, client)
        accepted = replay(emu, client, turn).status_code

    assert all(len(p["thoughtSignature"]) > 66_000 for p in turn["parts"][1:])
    assert accepted == 200


def _noisy_png_needing_padding() -> bytes:
    """A PNG whose base64 has '+', '/' and '=' so every alphabet variant differs."""
    return next(raw for width in range(40, 60) if len(raw := png(width, 40, noise=True)) % 3)


@pytest.mark.parametrize(
    "encode",
    [
        lambda raw: base64.b64encode(raw).decode(),
        lambda raw: base64.b64encode(raw).decode().rstrip("="),
        lambda raw: base64.urlsafe_b64encode(raw).decode(),
        lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ],
    ids=["standard", "standard-unpadded", "urlsafe", "urlsafe-unpadded"],
)
def test_input_images_in_either_base64_alphabet_are_accepted(emu, client, encode):
    raw = _noisy_png_needing_padding()
    standard = base64.b64encode(raw).decode()
    assert "+" in standard
    assert "/" in standard
    assert standard.endswith("=")

    reply = client.post(url(emu), json=body(contents=[user(text("edit"), inline(encode(raw)))]))

    assert reply.status_code == 200, reply.text
    assert decode_image(reply.json())


def test_mixed_alphabets_are_refused(emu, client):
    standard = base64.b64encode(_noisy_png_needing_padding()).decode()
    mixed = standard.replace("+", "-", 1)  # one URL-safe character among '/' ones

    reply = client.post(url(emu), json=body(contents=[user(text("edit"), inline(mixed))]))

    assert reply.status_code == 400
    assert "Base64 decoding failed" in reply.json()["error"]["message"]
