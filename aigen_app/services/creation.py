"""Starting generations: ``create_generation`` opens a conversation, ``refine`` continues
one. Both validate, store the pending row and its pair of turns (the user turn, and the
model turn the reply will fill) in one transaction, and enqueue the work once that
transaction commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ..conf import aigen_settings
from ..images import ImageInfo, ImageInput, prepared_image
from ..models import (
    Conversation,
    Generation,
    GenerationAsset,
    GenerationStatus,
    MediaAsset,
    TurnPart,
    TurnRole,
)
from ..storage import FileBatch, written_files
from . import inputs, rules, turns
from .errors import (
    DailyLimitReached,
    IdempotencyKeyReused,
    InvalidGenerationState,
    InvalidInput,
    refusing,
)
from .queueing import enqueue_on_commit

TITLE_LENGTH = 80


@dataclass
class _Spec:
    """A validated request, ready to store."""

    owner: Any
    prompt: str
    width: int
    height: int
    model: str
    seed: int | None
    enable_grounding: bool
    idempotency_key: str | None
    reference: tuple[bytes, ImageInfo] | None = None
    assets: list[MediaAsset] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    ignore_daily_limit: bool = False


def create_generation(
    prompt: str,
    *,
    owner: Any = None,
    width: int = 1024,
    height: int = 1024,
    model: str | None = None,
    seed: int | None = None,
    reference_image: ImageInput | None = None,
    media_assets: Sequence[MediaAsset] = (),
    enable_grounding: bool = False,
    idempotency_key: str | None = None,
    title: str | None = None,
    options: dict[str, str] | None = None,
    ignore_daily_limit: bool = False,
) -> Generation:
    """Start a generation in a new conversation and queue it.

    ``options`` are the model's provider-specific image options (OpenAI's quality,
    output_format, background, moderation, input_fidelity), refused here when the model
    does not take them.

    With ``idempotency_key``, a second call by the same owner with the same inputs
    returns the first generation unchanged (and never calls the API again); with other
    inputs it raises ``IdempotencyKeyReused``. Raises ``ValidationError`` for bad input
    and ``DailyLimitReached`` past ``AIGEN["USER_DAILY_LIMIT"]``, unless
    ``ignore_daily_limit`` (an explicit override, e.g. by a superuser in the admin).
    """
    spec = _validated(owner, prompt, width, height, model or "", seed, reference_image,
                      media_assets, enable_grounding, idempotency_key, history_images=0,
                      options=options)
    spec.ignore_daily_limit = ignore_daily_limit
    existing = _existing(owner, idempotency_key)
    if existing is not None:
        return _repeated(existing, spec, parent=None)

    def conversation() -> Conversation:
        return Conversation.objects.create(owner=owner, title=_title(title, prompt))

    return _store(spec, conversation, parent=None)


def refine(
    generation: Generation,
    prompt: str,
    *,
    owner: Any = None,
    width: int | None = None,
    height: int | None = None,
    model: str | None = None,
    seed: int | None = None,
    reference_image: ImageInput | None = None,
    media_assets: Sequence[MediaAsset] = (),
    enable_grounding: bool | None = None,
    idempotency_key: str | None = None,
    options: dict[str, str] | None = None,
    ignore_daily_limit: bool = False,
) -> Generation:
    """Continue ``generation``'s conversation with a new prompt and queue it.

    The parent must have succeeded. The new generation's history is the parent's line
    (see ``turns.history_for``); size, model and grounding default to the parent's,
    the owner to the parent's owner. ``options`` are not inherited: a refinement is an
    edit, which takes other options than a first generation (docs/providers.md). Quota and
    ``ignore_daily_limit`` as in ``create_generation``.
    """
    parent = Generation.objects.get(pk=generation.pk)
    if parent.status != GenerationStatus.SUCCEEDED:
        raise InvalidGenerationState(
            f"Only a succeeded generation can be refined; this one is {parent.status}."
        )
    owner = owner if owner is not None else parent.owner
    try:
        history_images = turns.count_images(turns.history_turns(turns.lineage(parent)))
    except ValueError as exc:
        raise InvalidGenerationState(f"The conversation cannot be continued: {exc}.") from exc
    spec = _validated(
        owner, prompt, parent.width if width is None else width,
        parent.height if height is None else height,
        parent.model if model is None else model, seed, reference_image, media_assets,
        parent.enable_grounding if enable_grounding is None else enable_grounding,
        idempotency_key, history_images=history_images, parent_model=parent.model,
        options=options,
    )
    spec.ignore_daily_limit = ignore_daily_limit
    existing = _existing(owner, idempotency_key)
    if existing is not None:
        return _repeated(existing, spec, parent=parent)
    return _store(spec, lambda: turns.lock_conversation(parent.conversation_id), parent=parent)


def _validated(
    owner: Any, prompt: str, width: int, height: int, model: str, seed: int | None,
    reference_image: ImageInput | None, media_assets: Sequence[MediaAsset],
    enable_grounding: bool, idempotency_key: str | None, *, history_images: int,
    parent_model: str | None = None, options: dict[str, str] | None = None,
) -> _Spec:
    width, height = rules.check_size(width, height)
    spec = _Spec(
        owner=owner, prompt=rules.clean_prompt(prompt),
        model=rules.resolved_model(rules.check_model_name(model)),
        width=width, height=height, seed=rules.check_seed(seed),
        enable_grounding=bool(enable_grounding),
        idempotency_key=rules.check_idempotency_key(idempotency_key),
        assets=inputs.check_assets(media_assets, owner),
        options=inputs.check_options_shape(options),
    )
    if reference_image is not None:
        with refusing("reference_image"):
            spec.reference = prepared_image(reference_image)
    images = history_images + len(spec.assets) + (1 if spec.reference else 0)
    inputs.check_model(model, grounding=spec.enable_grounding, input_images=images,
                       seed=spec.seed, parent_model=parent_model, options=spec.options,
                       has_inputs=bool(images))
    return spec


def _store(spec: _Spec, conversation: Any, parent: Generation | None) -> Generation:
    try:
        with written_files() as files, transaction.atomic():
            # Lock order everywhere: owner row, then conversation row.
            if not spec.ignore_daily_limit:
                _enforce_daily_limit(spec.owner)
            generation = _insert(spec, conversation(), parent, files)
            enqueue_on_commit(generation.pk)
    except IntegrityError:
        # A concurrent request with the same idempotency key won the race, or (on
        # PostgreSQL, whose foreign keys are checked at commit) a concurrent
        # delete_media_asset removed an asset this generation links.
        existing = _existing(spec.owner, spec.idempotency_key)
        if existing is None:
            _check_assets_exist(spec.assets)
            raise
        return _repeated(existing, spec, parent)
    return generation


def _insert(spec: _Spec, conversation: Conversation, parent: Generation | None,
            files: FileBatch) -> Generation:
    _check_assets_exist(spec.assets)
    reference_name = ""
    if spec.reference is not None:
        data, info = spec.reference
        reference_name = files.save("references", data, info.mime_type)
    generation = Generation.objects.create(
        owner=spec.owner, conversation=conversation, parent=parent, prompt=spec.prompt,
        width=spec.width, height=spec.height, model=spec.model, seed=spec.seed,
        enable_grounding=spec.enable_grounding, idempotency_key=spec.idempotency_key or "",
        options=spec.options,
        reference_image=reference_name,
        reference_mime_type=spec.reference[1].mime_type if spec.reference else "",
        queued_at=timezone.now(),
    )
    GenerationAsset.objects.bulk_create(
        GenerationAsset(generation=generation, asset=asset, position=index)
        for index, asset in enumerate(spec.assets)
    )
    turns.add_turn_pair(conversation, generation, _user_parts(spec, reference_name))
    return generation


def _check_assets_exist(assets: Sequence[MediaAsset]) -> None:
    """Refuse assets deleted since they were validated (a stale object, or a deletion
    racing this request)."""
    wanted = [asset.pk for asset in assets]
    found = set(MediaAsset.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    gone = [str(pk) for pk in wanted if pk not in found]
    if gone:
        raise InvalidInput("media_assets", f"Media asset {', '.join(gone)} has been deleted.",
                           code="invalid_asset")


def _user_parts(spec: _Spec, reference_name: str) -> list[turns.PartRecord]:
    """The user turn in the order the client sends it: reference image, prompt, assets."""
    parts: list[turns.PartRecord] = []
    if spec.reference is not None:
        parts.append(_image_part(reference_name, spec.reference[1]))
    parts.append(turns.PartRecord(text=spec.prompt))
    for asset in spec.assets:
        parts.append(turns.PartRecord(
            image_name=asset.image.name or "", mime_type=asset.mime_type,
            byte_size=asset.byte_size, sha256=asset.sha256,
        ))
    return parts


def _image_part(name: str, info: ImageInfo) -> turns.PartRecord:
    return turns.PartRecord(image_name=name, mime_type=info.mime_type,
                            byte_size=info.byte_size, sha256=info.sha256)


def _repeated(existing: Generation, spec: _Spec, parent: Generation | None) -> Generation:
    """The generation a repeated request returns: only when it asks for the same. A
    model or seed the repeat leaves to its default is not compared: the run records the
    ones the API used in their place."""
    assets = list(existing.asset_links.order_by("position").values_list("asset_id", flat=True))
    reference = (TurnPart.objects.filter(turn__generation=existing, turn__role=TurnRole.USER,
                                           image=existing.reference_image.name)
                 .values_list("sha256", flat=True).first()
                 if existing.reference_image else None)
    differs = [name for name, theirs, ours in (
        ("prompt", existing.prompt, spec.prompt),
        ("size", (existing.width, existing.height), (spec.width, spec.height)),
        ("model", existing.model, spec.model or existing.model),
        ("seed", existing.seed, existing.seed if spec.seed is None else spec.seed),
        ("enable_grounding", existing.enable_grounding, spec.enable_grounding),
        ("options", existing.options, spec.options),
        ("parent", existing.parent_id, parent.pk if parent is not None else None),
        ("media_assets", assets, [asset.pk for asset in spec.assets]),
        ("reference_image", reference, spec.reference[1].sha256 if spec.reference else None),
    ) if theirs != ours]
    if differs:
        raise IdempotencyKeyReused(existing.pk, differs)
    return existing


def _existing(owner: Any, key: str | None) -> Generation | None:
    if not key:
        return None
    return Generation.objects.filter(owner=owner, idempotency_key=key).first()


def _enforce_daily_limit(owner: Any) -> None:
    """Count today's generations with the owner's row locked, so concurrent requests
    cannot both take the last slot."""
    limit = aigen_settings.USER_DAILY_LIMIT
    if limit is None or owner is None:
        return
    no_key = connection.features.has_select_for_no_key_update
    user_model = get_user_model()
    list(user_model._default_manager.select_for_update(no_key=no_key)
         .filter(pk=owner.pk).values_list("pk", flat=True))
    used = Generation.objects.started_today_by(owner).count()
    if used >= int(limit):
        midnight = datetime.combine(timezone.localdate() + timedelta(days=1), time.min)
        raise DailyLimitReached(int(limit), used, timezone.make_aware(midnight))


def _title(title: str | None, prompt: str) -> str:
    if title:
        return title[:200]
    text = " ".join(prompt.split())
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1].rstrip() + "…"

