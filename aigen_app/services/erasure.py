"""Deleting generations and conversations, and erasing everything a user generated.

Files go as with any deletion of a row that names one (``files``: after the outermost
transaction commits, and only when no row names them then), so callers never touch
storage. These are the functions the admin (and a site's own code) delete through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from ..models import Conversation, Generation, MediaAsset
from .errors import InvalidGenerationState
from .lifecycle import CANCELABLE


def delete_generation(generation: Generation) -> None:
    """Delete ``generation`` with its two turns, its links to media assets and (after
    the commit) its files. The rest of its conversation stays.

    Raises ``InvalidGenerationState`` while it is pending or running (cancel it first:
    a run would otherwise finish into a row that is gone) or when a refinement
    continues from it (that refinement's history would lose its start: delete the
    refinement, or the whole conversation, instead).
    """
    with transaction.atomic():
        current = (Generation.objects.select_for_update().filter(pk=generation.pk)
                   .values_list("status", flat=True).first())
        if current is None:
            return
        if current in CANCELABLE:
            raise InvalidGenerationState(
                f"A {current} generation cannot be deleted; cancel it first."
            )
        refinements = Generation.objects.filter(parent_id=generation.pk).count()
        if refinements:
            raise InvalidGenerationState(
                f"{refinements} refinement{'s' if refinements != 1 else ''} continue from "
                "this generation; delete them first, or the whole conversation."
            )
        Generation.objects.filter(pk=generation.pk).delete()


def delete_conversation(conversation: Conversation) -> None:
    """Delete ``conversation`` with every generation and turn in it and (after the
    commit) their files. A file also named elsewhere (a media asset the conversation was
    sent) stays. A generation of it still running finishes into nothing: its result is
    discarded, and a file it wrote meanwhile is left to ``sweep_orphan_files``."""
    with transaction.atomic():
        # Locked as a refinement locks it, so none adds turns to it meanwhile.
        list(Conversation.objects.select_for_update().filter(pk=conversation.pk)
             .values_list("pk", flat=True))
        Conversation.objects.filter(pk=conversation.pk).delete()


@dataclass(frozen=True)
class Erasure:
    """What ``erase_user_content`` deleted."""

    conversations: int
    generations: int
    assets: int


def erase_user_content(user: Any) -> Erasure:
    """Delete every conversation (with its generations) and every media asset ``user``
    owns, and after the commit every file only those rows named: the erasure a user
    may ask for. Their account is the site's to delete; deleting it first would keep
    these rows with no owner (``on_delete=SET_NULL``)."""
    with transaction.atomic():
        conversations = Conversation.objects.filter(owner=user)
        locked = list(conversations.select_for_update().values_list("pk", flat=True))
        counts = Erasure(
            conversations=len(locked),
            generations=Generation.objects.filter(conversation__owner=user).count(),
            assets=MediaAsset.objects.filter(owner=user).count(),
        )
        conversations.delete()
        # Nothing of theirs is pending any more, so no asset is in use.
        MediaAsset.objects.filter(owner=user).delete()
    return counts


__all__ = ["Erasure", "delete_conversation", "delete_generation",
           "erase_user_content"]
