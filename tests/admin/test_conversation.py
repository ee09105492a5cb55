"""A conversation's page: the thread in order (never a signature's bytes) and the refine
form, which continues the conversation through ``services.refine``."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from PIL import Image

from aigen_app import services
from aigen_app.admin.display import THREAD_BOX
from aigen_app.emulator import running_emulator
from aigen_app.models import Conversation, Generation, GenerationStatus, Turn, TurnPart
from tests.support import DUMMY, aigen_settings_for

from .helpers import admin_url, image_sources, result_rows, thread_turns

pytestmark = pytest.mark.django_db


def page(client: Client, conversation_id: Any) -> str:
    response = client.get(admin_url("conversation", "change", conversation_id))
    assert response.status_code == 200
    return response.content.decode()


def test_thread_shows_each_turn_in_order_with_role_text_images_and_signature_flags(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any]) -> None:
    first = make_generation("A red lighthouse", owner=make_user("ada"))
    second = make_generation("Make the sky stormy", refine=first)
    third = make_generation("Add a small boat", refine=second)

    turns = thread_turns(page(admin_client, first.conversation_id))

    assert [(position, role) for position, role, _ in turns] == [
        (0, "user"), (1, "model"), (2, "user"), (3, "model"), (4, "user"), (5, "model")]
    prompts = [first.prompt, second.prompt, third.prompt]
    for (_, _, user_turn), prompt in zip(turns[0::2], prompts, strict=True):
        assert f'<div class="aigen-part-text">{prompt}</div>' in user_turn
        assert ">ada asked</span>" in user_turn
        # Ids and signatures only behind the toggle.
        details = user_turn.split('<details class="aigen-turn-details">')[1]
        assert "no thought signature" in details
    for (_, _, model_turn), generation in zip(turns[1::2], (first, second, third), strict=True):
        assert generation.text in model_turn
        part = TurnPart.objects.get(turn__generation=generation, kind="image")
        # A lazy thumbnail that links to the full image.
        thumbnail = admin_url("conversation", "part_thumbnail",
                              object_id=first.conversation_id, part_id=part.pk)
        full = admin_url("conversation", "part_image",
                         object_id=first.conversation_id, part_id=part.pk)
        assert image_sources(model_turn) == [thumbnail]
        assert f'<a href="{full}" target="_blank" rel="noopener"><img src="{thumbnail}"' in (
            model_turn)
        assert 'loading="lazy"' in model_turn
        assert ">Model answered</span>" in model_turn
        assert "aigen-status--succeeded" in model_turn
        head, details = model_turn.split('<details class="aigen-turn-details">')
        assert "thought signature held on 2 of 2 parts" in details
        assert admin_url("generation", "change", generation.pk) in details
        assert f"{generation.prompt_tokens} in, {generation.candidates_tokens} out" in details
        assert str(generation.pk) not in head and "signature" not in head


def test_the_thread_takes_the_same_number_of_queries_however_long(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    latest = first = make_generation("A red lighthouse")
    url = admin_url("conversation", "change", first.conversation_id)

    def queries() -> int:
        admin_client.get(url)  # warm the caches that do not depend on turns
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured.captured_queries)

    short = queries()
    for prompt in ("Stormy", "A boat", "Night"):
        latest = make_generation(prompt, refine=latest)
    assert len(thread_turns(page(admin_client, first.conversation_id))) == 8
    assert queries() == short


def test_a_200_turn_thread_renders_in_a_bounded_number_of_queries(
        admin_client: Client, make_generation: Callable[..., Generation],
        django_assert_max_num_queries: Any) -> None:
    first = make_generation("A red lighthouse")
    part = TurnPart.objects.get(turn__generation=first, kind="image")
    # 99 more answered generations, written directly: only the page is under test.
    for position in range(2, 200, 2):
        generation = Generation.objects.create(
            owner=first.owner, conversation=first.conversation, prompt=f"Prompt {position}",
            width=96, height=64, status=GenerationStatus.SUCCEEDED, text=f"Reply {position}")
        user = Turn.objects.create(conversation=first.conversation, generation=generation,
                                   position=position, role="user")
        model = Turn.objects.create(conversation=first.conversation, generation=generation,
                                    position=position + 1, role="model")
        TurnPart.objects.bulk_create([
            TurnPart(turn=user, index=0, kind="text", text=f"Prompt {position}"),
            TurnPart(turn=model, index=0, kind="text", text=f"Reply {position}"),
            TurnPart(turn=model, index=1, kind="image", image=part.image.name,
                     mime_type=part.mime_type, sha256=part.sha256, thought_signature="c2ln"),
        ])

    with django_assert_max_num_queries(15):
        html = page(admin_client, first.conversation_id)

    assert len(thread_turns(html)) == 200
    images = re.findall(r"<img [^>]*>", html.split('class="aigen-thread"')[1])
    assert len(images) == 100
    assert all('loading="lazy"' in img and "/thumbnail/" in img for img in images)


def test_thumbnails_are_small_and_cached_the_full_image_is_a_click_away(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    generation = make_generation("A red lighthouse", width=1024, height=512)
    part = TurnPart.objects.get(turn__generation=generation, kind="image")
    url = admin_url("conversation", "part_thumbnail", object_id=generation.conversation_id,
                    part_id=part.pk)

    response = admin_client.get(url)
    assert response.status_code == 200
    thumbnail = Image.open(io.BytesIO(response.content))
    assert max(thumbnail.size) <= THREAD_BOX
    assert response["ETag"] == f'"{part.sha256}-{THREAD_BOX}"'
    assert admin_client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    full = admin_client.get(admin_url("conversation", "part_image",
                                      object_id=generation.conversation_id, part_id=part.pk))
    # The model's own image, at the size it answered with.
    assert max(Image.open(io.BytesIO(full.getvalue())).size) > THREAD_BOX


def test_the_page_never_shows_a_thought_signature(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    first = make_generation("A red lighthouse")
    make_generation("Make the sky stormy", refine=first)
    signatures = [s for s in TurnPart.objects.values_list("thought_signature", flat=True) if s]
    assert len(signatures) == 4

    html = page(admin_client, first.conversation_id)
    html += admin_client.get(admin_url("conversation")).content.decode()
    html += admin_client.get(admin_url("generation", "change", first.pk)).content.decode()
    for signature in signatures:
        assert signature not in html
        assert signature[:24] not in html  # not even a prefix


def test_a_generation_without_an_answer_says_why(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    first = make_generation("A red lighthouse")
    make_generation("Something forbidden", refine=first, fault="block_prompt")
    turns = thread_turns(page(admin_client, first.conversation_id))
    assert [role for _, role, _ in turns] == ["user", "model", "user", "model"]
    assert "No reply" not in turns[1][2]
    # The blocked generation's model turn is there, empty, and says why.
    assert "No reply: the generation is blocked (blocked: SAFETY)." in turns[3][2]
    assert "thought signature" not in turns[3][2]


def test_a_generation_still_running_says_so_where_its_reply_goes(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    first = make_generation("A red lighthouse")
    with override_settings(TASKS={"default": DUMMY}):
        waiting = services.refine(first, "Make the sky stormy")
    turns = thread_turns(page(admin_client, first.conversation_id))
    assert [(position, role) for position, role, _ in turns] == [
        (0, "user"), (1, "model"), (2, "user"), (3, "model")]
    assert str(waiting.pk) in turns[3][2]
    assert "No reply yet: the generation is pending." in turns[3][2]


def refine(client: Client, generation: Generation, **data: Any) -> Any:
    return client.post(admin_url("conversation", "change", generation.conversation_id),
                       {"parent": str(generation.pk), **data})


def test_the_refine_form_continues_from_the_latest_succeeded_generation(
        admin_client: Client, make_generation: Callable[..., Generation],
        django_capture_on_commit_callbacks: Any) -> None:
    first = make_generation("A red lighthouse", width=128, height=96)
    second = make_generation("Make the sky stormy", refine=first)
    make_generation("Something forbidden", refine=second, fault="block_prompt")

    html = page(admin_client, first.conversation_id)
    assert 'id="refine-form"' in html
    assert f'name="parent" value="{second.pk}"' in html  # the latest that succeeded

    with django_capture_on_commit_callbacks(execute=True):
        response = refine(admin_client, second, prompt="Add a small boat", seed="7")
    assert response.status_code == 302
    assert response["Location"] == admin_url("conversation", "change", first.conversation_id)
    new = Generation.objects.get(prompt="Add a small boat")
    assert (new.parent_id, new.conversation_id) == (second.pk, first.conversation_id)
    assert (new.status, new.seed, new.width, new.height) == (
        GenerationStatus.SUCCEEDED, 7, 128, 96)
    assert any(str(new.pk) in str(m) for m in get_messages(response.wsgi_request))

    turns = thread_turns(page(admin_client, first.conversation_id))
    assert [role for _, role, _ in turns][-2:] == ["user", "model"]
    assert "Add a small boat" in turns[-2][2]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"prompt": "   "}, "This field is required."),
        ({"prompt": "Bigger", "seed": str(2**40)}, "seed must be a 32-bit integer."),
        ({"prompt": "Bigger", "width": "99999"}, "width must be between 1 and"),
        # One rule, one message: the services' (it was Django's min_value message here).
        ({"prompt": "Bigger", "width": "0"}, "width must be between 1 and"),
        ({"prompt": "Bigger", "parent": "00000000-0000-4000-8000-000000000000"},
         "The generation to refine is no longer in this conversation"),
    ],
)
def test_refine_errors_are_shown_on_the_form_and_create_nothing(
        admin_client: Client, make_generation: Callable[..., Generation],
        data: dict[str, str], error: str) -> None:
    first = make_generation("A red lighthouse")
    response = refine(admin_client, first, **data)
    assert response.status_code == 200
    html = response.content.decode()
    assert error in html
    assert 'class="errorlist' in html
    if data["prompt"].strip():
        assert f'{data["prompt"]}</textarea>' in html  # what was typed is kept
    assert Generation.objects.count() == 1


def test_the_daily_limit_is_reported_on_the_form(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any], aigen_emulator: Any) -> None:
    first = make_generation("A red lighthouse", owner=make_user("ada"))
    with override_settings(AIGEN=aigen_settings_for(aigen_emulator, USER_DAILY_LIMIT=1)):
        response = refine(admin_client, first, prompt="Bigger")
    assert "Daily generation limit reached: 1 of 1 used today" in response.content.decode()
    assert Generation.objects.count() == 1


def test_nothing_to_refine_until_a_generation_succeeds(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    blocked = make_generation("Something forbidden", fault="block_prompt")
    html = page(admin_client, blocked.conversation_id)
    assert 'id="refine-form"' not in html
    assert "nothing to refine" in html
    assert refine(admin_client, blocked, prompt="Again").status_code == 403


def test_the_list_counts_turns_and_generations(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    first = make_generation("A red lighthouse")
    make_generation("Make the sky stormy", refine=first)
    make_generation("Something forbidden", refine=first, fault="block_prompt")
    html = admin_client.get(admin_url("conversation")).content.decode()
    row = result_rows(html)[str(first.conversation_id)]
    assert '<td class="field-turn_count">6</td>' in row  # the blocked one's pair too
    assert '<td class="field-generation_count">3</td>' in row


@pytest.mark.django_db(transaction=True)
def test_generate_then_refine_from_the_command_is_one_thread_of_four_turns(
        admin_client: Client, tmp_path: Path) -> None:
    """Must show: ``generate`` then ``generate --refine ID`` against the emulator, one
    conversation of four turns visible in the admin, in order."""
    with running_emulator() as emulator, override_settings(AIGEN=aigen_settings_for(emulator)):
        out = io.StringIO()
        call_command("generate", "A castle made of bread", "--size", "1280x720",
                     "--output", str(tmp_path / "first.png"), stdout=out, stderr=io.StringIO())
        first_id = out.getvalue().strip().split(" ", 1)[0]
        out = io.StringIO()
        call_command("generate", "Now add a moat", "--refine", first_id,
                     "--output", str(tmp_path / "second.png"), stdout=out, stderr=io.StringIO())
        second_id = out.getvalue().strip().split(" ", 1)[0]

    conversation = Conversation.objects.get()
    html = page(admin_client, conversation.pk)
    turns = thread_turns(html)
    assert [(position, role) for position, role, _ in turns] == [
        (0, "user"), (1, "model"), (2, "user"), (3, "model")]
    assert "A castle made of bread" in turns[0][2]
    assert "Now add a moat" in turns[2][2]
    assert [len(image_sources(body)) for _, _, body in turns] == [0, 1, 0, 1]
    assert [first_id, first_id, second_id, second_id] == [
        str(t.generation_id) for t in Turn.objects.filter(conversation=conversation)]


def test_the_refine_form_sends_openai_options_and_shows_refusals(
        admin_client: Client, make_generation: Callable[..., Generation],
        aigen_emulator: Any, django_capture_on_commit_callbacks: Any) -> None:
    first = make_generation("A kite", model="gpt-image-1.5")
    with django_capture_on_commit_callbacks(execute=True):
        response = refine(admin_client, first, prompt="Sharper", quality="high",
                          input_fidelity="high")
    assert response.status_code == 302
    new = Generation.objects.get(prompt="Sharper")
    assert new.options == {"quality": "high", "input_fidelity": "high"}
    assert aigen_emulator.requests()[-1].body["input_fidelity"] == "high"

    refused = refine(admin_client, first, prompt="Max", quality="max")
    assert refused.status_code == 200
    assert "takes quality low / medium / high / auto, not &#x27;max&#x27;" in (
        refused.content.decode())
    assert not Generation.objects.filter(prompt="Max").exists()
