"""Creating generations: validation, idempotency, the daily limit, assets, usage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Conversation, Generation, MediaAsset, Turn
from aigen_app.services import DailyLimitReached, InvalidGenerationState
from tests.support import paired_turns, png_bytes, stored_files

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_stores_pending_row_and_its_pair_of_turns_then_queues(
    make_user: Any, queued_tasks: Any
) -> None:
    owner = make_user()
    generation = services.create_generation(
        "  A   lighthouse on a cliff at dawn, wide shot  ", owner=owner, width=1280,
        height=720, seed=7, model="gemini-3-pro-image", enable_grounding=True,
        reference_image=png_bytes(),
    )
    generation.refresh_from_db()
    assert generation.status == "pending"
    assert (generation.width, generation.height, generation.seed) == (1280, 720, 7)
    assert generation.reference_mime_type == "image/png"
    assert generation.conversation.owner == owner
    assert generation.conversation.title == "A lighthouse on a cliff at dawn, wide shot"
    turn, reply = Turn.objects.filter(generation=generation).order_by("position")
    assert (turn.role, turn.position) == ("user", 0)
    # The model turn is there already, right after the prompt, empty until a reply.
    assert (reply.role, reply.position) == ("model", 1)
    assert not reply.parts.exists()
    assert paired_turns(generation.conversation_id) == [(generation.pk, [])]
    parts = list(turn.parts.all())
    assert [p.kind for p in parts] == ["image", "text"]
    assert parts[0].image.name == generation.reference_image.name
    assert parts[1].text == generation.prompt
    assert [r.args for r in queued_tasks.results] == [[str(generation.pk)]]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"prompt": "   "}, "prompt_empty"),
        ({"width": 0}, "invalid_size"),
        ({"height": 9000}, "invalid_size"),
        ({"width": "640"}, "invalid_size"),
        ({"seed": 2**40}, "invalid_seed"),
        ({"model": "gemini-2.5-flash-image", "enable_grounding": True},
         "grounding_unsupported"),
        ({"reference_image": b"not an image"}, "invalid_image"),
        ({"reference_image": png_bytes(fmt="GIF")}, "invalid_image"),
        ({"reference_image": b""}, "invalid_image"),
        ({"model": "m" * 101}, "invalid_model"),
        ({"idempotency_key": "k" * 256}, "invalid_idempotency_key"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    make_user: Any, queued_tasks: Any, media_storage: Any, kwargs: dict[str, Any], code: str
) -> None:
    arguments: dict[str, Any] = {"prompt": "A cat", "owner": make_user(), **kwargs}
    with pytest.raises(ValidationError) as raised:
        services.create_generation(**arguments)
    assert raised.value.code == code
    assert not Generation.objects.exists() and not Conversation.objects.exists()
    assert stored_files(media_storage) == []
    assert queued_tasks.results == []


def test_oversized_upload_is_refused(make_user: Any, queued_tasks: Any) -> None:
    upload = SimpleUploadedFile("big.png", png_bytes(200, 200), content_type="image/png")
    with override_settings(AIGEN={"MAX_IMAGE_BYTES": 100}), \
            pytest.raises(ValidationError, match="MAX_IMAGE_BYTES"):
        services.create_generation("Edit", owner=make_user(), reference_image=upload)


def test_uploaded_file_is_accepted(make_user: Any, queued_tasks: Any) -> None:
    upload = SimpleUploadedFile("in.jpg", png_bytes(fmt="JPEG"), content_type="image/jpeg")
    generation = services.create_generation("Edit", owner=make_user(), reference_image=upload)
    assert generation.reference_mime_type == "image/jpeg"
    assert (generation.reference_image.name or "").endswith(".jpg")


def test_too_many_input_images_for_the_model(make_user: Any, queued_tasks: Any) -> None:
    owner = make_user()
    assets = [services.add_media_asset(png_bytes(color=(i, 0, 0)), owner=owner)
              for i in range(3)]
    with pytest.raises(ValidationError, match="at most 3 input images"):
        services.create_generation("Combine", owner=owner, model="gemini-3.1-flash-lite-image",
                                   reference_image=png_bytes(), media_assets=assets)


def test_refine_needs_a_succeeded_parent(make_user: Any, queued_tasks: Any) -> None:
    parent = services.create_generation("A cat", owner=make_user())
    with pytest.raises(InvalidGenerationState, match="pending"):
        services.refine(parent, "Make it orange")
    assert Generation.objects.count() == 1


@pytest.mark.usefixtures("immediate_tasks")
def test_same_owner_and_key_returns_the_same_generation(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    owner, other = make_user(), make_user()
    first = services.create_generation("A cat", owner=owner, idempotency_key="k-1")
    again = services.create_generation("A cat", owner=owner, idempotency_key="k-1")
    assert again.pk == first.pk
    assert len(aigen_emulator.requests()) == 1
    # Keys are per owner.
    theirs = services.create_generation("A cat", owner=other, idempotency_key="k-1")
    assert theirs.pk != first.pk
    # Refinements honour keys too.
    child = services.refine(first, "Orange", idempotency_key="k-2")
    assert services.refine(first, "Orange", idempotency_key="k-2").pk == child.pk
    assert len(aigen_emulator.requests()) == 3
    assert Generation.objects.count() == 3
    # A repeated create or refine adds no turn: one pair per generation.
    assert [g for g, _ in paired_turns(first.conversation_id)] == [first.pk, child.pk]


@pytest.mark.parametrize(("repeat", "differs"), [
    ({"prompt": "A dog"}, "prompt"),
    ({"width": 1280, "height": 720}, "size"),
    ({"seed": 8}, "seed"),
    ({"enable_grounding": True}, "enable_grounding"),
    ({"model": "gemini-3-pro-image"}, "model"),
    ({"reference_image": png_bytes(color=(0, 0, 255))}, "reference_image"),
    ({"reference_image": None}, "reference_image"),
    ({"assets": 0}, "media_assets"),
])
def test_a_key_reused_for_another_request_is_refused(
    make_user: Any, queued_tasks: Any, media_storage: Any, repeat: dict[str, Any],
    differs: str,
) -> None:
    owner = make_user()
    asset = services.add_media_asset(png_bytes(color=(9, 9, 9)), owner=owner)
    original: dict[str, Any] = {"prompt": "A cat", "seed": 7, "owner": owner,
                                "reference_image": png_bytes(), "media_assets": [asset],
                                "idempotency_key": "k-1"}
    first = services.create_generation(**original)
    # The same request again (the reference re-uploaded) is the same generation.
    assert services.create_generation(**{**original, "reference_image": png_bytes()}).pk \
        == first.pk
    files = stored_files(media_storage)

    changed = {**original, **repeat}
    if "assets" in changed:
        changed["media_assets"] = [asset] * changed.pop("assets")
    with pytest.raises(services.IdempotencyKeyReused, match=differs) as raised:
        services.create_generation(**changed)
    assert raised.value.existing_id == first.pk and raised.value.differs == [differs]
    assert Generation.objects.count() == 1
    assert stored_files(media_storage) == files
    assert len(queued_tasks.results) == 1


@pytest.mark.usefixtures("immediate_tasks")
def test_a_refinement_key_reused_for_another_parent_is_refused(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    first = services.create_generation("A cat", owner=make_user())
    child = services.refine(first, "Orange", idempotency_key="r-1")
    with pytest.raises(services.IdempotencyKeyReused, match="parent"):
        services.refine(child, "Orange", idempotency_key="r-1")
    with pytest.raises(services.IdempotencyKeyReused, match="prompt"):
        services.refine(first, "Blue", idempotency_key="r-1")
    assert Generation.objects.count() == 2


def test_daily_limit_refuses_with_a_clear_error(make_user: Any, queued_tasks: Any) -> None:
    owner, other = make_user(), make_user()
    with override_settings(AIGEN={"USER_DAILY_LIMIT": 2}):
        services.create_generation("One", owner=owner, idempotency_key="one")
        services.create_generation("Two", owner=owner)
        with pytest.raises(DailyLimitReached) as raised:
            services.create_generation("Three", owner=owner)
        assert raised.value.code == "daily_limit_reached"
        assert "Daily generation limit reached: 2 of 2" in raised.value.message
        assert raised.value.resets_at > timezone.now()
        # A replay of an accepted request is not a new generation.
        assert services.create_generation("One", owner=owner, idempotency_key="one")
        services.create_generation("Theirs", owner=other)
        services.create_generation("Anonymous")
        # Yesterday's generations do not count.
        Generation.objects.filter(owner=owner).update(
            created_at=timezone.now() - timedelta(days=1)
        )
        services.create_generation("Three", owner=owner)
    assert Generation.objects.filter(owner=owner).count() == 3


def test_usage_per_user_and_day(make_user: Any, queued_tasks: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    for owner, tokens in ((alice, 100), (alice, 50), (bob, 7)):
        generation = services.create_generation("x", owner=owner)
        Generation.objects.filter(pk=generation.pk).update(
            status="succeeded", prompt_tokens=tokens, total_tokens=tokens * 2
        )
    old = services.create_generation("y", owner=alice)
    yesterday = timezone.now() - timedelta(days=1)
    Generation.objects.filter(pk=old.pk).update(created_at=yesterday, total_tokens=1)

    rows = list(Generation.objects.usage_by_user_and_day())

    today = timezone.localdate()
    by_key = {(row["owner"], row["day"]): row for row in rows}
    assert by_key[(alice.pk, today)]["generations"] == 2
    assert by_key[(alice.pk, today)]["succeeded"] == 2
    assert by_key[(alice.pk, today)]["total_tokens"] == 300
    assert by_key[(alice.pk, today)]["prompt_tokens"] == 150
    assert by_key[(bob.pk, today)]["total_tokens"] == 14
    assert by_key[(alice.pk, timezone.localdate(yesterday))]["total_tokens"] == 1
    assert len(rows) == 3


def test_media_assets_are_deduplicated_per_owner(
    make_user: Any, media_storage: Any
) -> None:
    alice, bob = make_user(), make_user()
    logo = png_bytes(color=(0, 0, 255))
    first = services.add_media_asset(logo, owner=alice, asset_type="logo", display_name="Acme")
    again = services.add_media_asset(logo, owner=alice, asset_type="logo")
    theirs = services.add_media_asset(logo, owner=bob, asset_type="logo")
    assert again.pk == first.pk and theirs.pk != first.pk
    assert (first.width, first.height, first.mime_type) == (32, 24, "image/png")
    assert first.byte_size == len(logo) and len(first.sha256) == 64
    assert MediaAsset.objects.count() == 2
    assert len(stored_files(media_storage)) == 2
    with pytest.raises(ValidationError, match="asset_type"):
        services.add_media_asset(logo, owner=alice, asset_type="banner")


def test_assets_of_another_owner_are_refused(make_user: Any, queued_tasks: Any) -> None:
    alice, bob = make_user(), make_user()
    asset = services.add_media_asset(png_bytes(), owner=bob)
    with pytest.raises(ValidationError, match="another user"):
        services.create_generation("Use it", owner=alice, media_assets=[asset])


def test_a_generation_records_the_model_it_will_use_before_it_runs(
    make_user: Any, queued_tasks: Any
) -> None:
    from aigen_app.client import DEFAULT_MODEL

    owner = make_user()
    assert services.create_generation("A cat", owner=owner).model == DEFAULT_MODEL
    with override_settings(AIGEN={"MODEL": "gemini-3-pro-image"}):
        assert services.create_generation("A dog", owner=owner).model == "gemini-3-pro-image"
    # So a listing filtered by model finds pending rows too.
    assert Generation.objects.filter(model=DEFAULT_MODEL, status="pending").count() == 1
