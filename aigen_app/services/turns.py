"""Conversation turns: recording them in order, and replaying them as history.

Every generation owns two adjacent positions of its conversation: its user turn at an
even position ``p`` and its model turn at ``p + 1``. Both are stored when the generation
is created, the model turn without parts ("no reply yet"); when the generation succeeds
its reply fills that turn (``fill_model_turn``), and a generation that fails, is blocked
or is canceled keeps it empty. So reading a conversation by position gives, at every
moment, user/model pairs of one generation each, gap-free, however many refinements
run at once.

Positions are allocated while the conversation row is locked (``SELECT ... FOR NO KEY
UPDATE`` on PostgreSQL; on SQLite the IMMEDIATE transaction already holds the database's
write lock), so concurrent writers to one conversation take turns and positions stay
unique and gap-free. The lock is taken before anything else in the conversation is
written, so two writers never hold a row the other is waiting for.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from ..client import ContentPart, ConversationTurn
from ..models import (
    Conversation,
    Generation,
    GenerationStatus,
    PartKind,
    Turn,
    TurnPart,
    TurnRole,
)
from ..storage import read_file


@dataclass(frozen=True)
class PartRecord:
    """A part about to be stored: text, or an image already written to storage."""

    text: str | None = None
    image_name: str = ""
    mime_type: str = ""
    byte_size: int | None = None
    sha256: str = ""
    thought_signature: str | None = None


def lock_conversation(conversation_id: uuid.UUID | str) -> Conversation:
    """Lock the conversation row for the rest of the current transaction."""
    no_key = connection.features.has_select_for_no_key_update
    return Conversation.objects.select_for_update(no_key=no_key).get(pk=conversation_id)


def add_turn_pair(
    conversation: Conversation, generation: Generation, user_parts: Sequence[PartRecord],
) -> tuple[Turn, Turn]:
    """Store ``generation``'s user turn and its empty model turn at the next two
    positions. Call with ``conversation`` locked."""
    last = Turn.objects.filter(conversation=conversation).aggregate(last=Max("position"))
    position = 0 if last["last"] is None else last["last"] + 1
    user = Turn.objects.create(conversation=conversation, generation=generation,
                               position=position, role=TurnRole.USER)
    model = Turn.objects.create(conversation=conversation, generation=generation,
                                position=position + 1, role=TurnRole.MODEL)
    _store_parts(user, user_parts)
    _touch(conversation.pk)
    return user, model


def fill_model_turn(generation: Generation, parts: Sequence[PartRecord]) -> Turn:
    """Store ``generation``'s reply in its model turn, which must still be empty (a
    generation succeeds once; a retry refills the same, still empty, turn)."""
    turn = Turn.objects.get(generation=generation, role=TurnRole.MODEL)
    if turn.parts.exists():
        raise ValueError(f"generation {generation.pk} already has a reply")
    _store_parts(turn, parts)
    _touch(turn.conversation_id)
    return turn


def _store_parts(turn: Turn, parts: Sequence[PartRecord]) -> None:
    TurnPart.objects.bulk_create(
        TurnPart(
            turn=turn, index=index, text=part.text or "", image=part.image_name,
            kind=PartKind.TEXT if part.text is not None else PartKind.IMAGE,
            mime_type=part.mime_type, byte_size=part.byte_size, sha256=part.sha256,
            thought_signature=part.thought_signature,
        )
        for index, part in enumerate(parts)
    )


def _touch(conversation_id: uuid.UUID) -> None:
    Conversation.objects.filter(pk=conversation_id).update(updated_at=timezone.now())


def lineage(generation: Generation) -> list[Generation]:
    """``generation`` and its ancestors, root first (one query for the conversation)."""
    rows = {
        row.pk: row
        for row in Generation.objects.filter(conversation_id=generation.conversation_id)
        .only("id", "parent_id", "status", "conversation_id")
    }
    chain = [generation]
    seen = {generation.pk}
    parent_id = generation.parent_id
    while parent_id is not None and parent_id in rows and parent_id not in seen:
        seen.add(parent_id)
        chain.append(rows[parent_id])
        parent_id = rows[parent_id].parent_id
    chain.reverse()
    return chain


def history_turns(ancestors: Sequence[Generation]) -> list[Turn]:
    """The stored turns ``ancestors`` (root first) contribute to a refinement's history:
    each one's user turn then model turn. Every ancestor must have succeeded, so its
    model turn holds the reply (a model turn without parts is never replayed)."""
    turns = {
        (turn.generation_id, turn.role): turn
        for turn in Turn.objects.filter(generation__in=ancestors).prefetch_related("parts")
    }
    ordered: list[Turn] = []
    for ancestor in ancestors:
        if ancestor.status != GenerationStatus.SUCCEEDED:
            raise ValueError(f"generation {ancestor.pk} has not succeeded")
        for role in (TurnRole.USER, TurnRole.MODEL):
            turn = turns.get((ancestor.pk, role))
            if turn is None:
                raise ValueError(f"generation {ancestor.pk} has no {role} turn")
            if role == TurnRole.MODEL and not turn.parts.all():
                raise ValueError(f"generation {ancestor.pk} has no reply in its model turn")
            ordered.append(turn)
    return ordered


def count_images(turns: Sequence[Turn]) -> int:
    return sum(1 for turn in turns for part in turn.parts.all() if part.is_image)


def to_client_turn(turn: Turn) -> ConversationTurn:
    """A stored turn as the client replays it: every part in order, images read back
    from storage, each thought signature exactly as it was received."""
    parts = tuple(
        ContentPart(text=part.text, thought_signature=part.thought_signature)
        if not part.is_image
        else ContentPart(image_data=read_file(part.image.name or ""), mime_type=part.mime_type,
                         thought_signature=part.thought_signature)
        for part in turn.parts.all()
    )
    return ConversationTurn(role=TurnRole(turn.role).value, parts=parts)  # type: ignore[arg-type]


def history_for(generation: Generation) -> list[ConversationTurn]:
    """What the API must see before ``generation``'s own prompt: its ancestors' turns.

    In a linear conversation that is every turn before the generation's user turn; when
    several refinements branch from one parent, each sees only its own line, so
    concurrent refinements never see each other's half-finished turns.
    """
    if generation.parent_id is None:
        return []
    return [to_client_turn(turn) for turn in history_turns(lineage(generation)[:-1])]
