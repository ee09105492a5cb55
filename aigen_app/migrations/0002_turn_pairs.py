"""Every generation owns two adjacent turn positions: user at 2k, model at 2k + 1.

Before this migration a model turn was numbered when its generation succeeded, so
concurrent refinements interleaved (u1 m1 u2 u3 m3 m2) and a generation that never
succeeded had no model turn. Existing conversations are renumbered in the order their
user turns were recorded, each generation's turns side by side, and an empty model
turn is added where none exists. Parts, signatures and files are untouched; only
positions change (so an earlier ``turns/{position}/...`` image link may move).
0003 then adds the constraint that keeps them paired.
"""

from typing import Any

from django.db import migrations
from django.db.models import F, Max

# Above every position in use while renumbering, so no two rows ever share one.
_PARKED = 1_000_000_000


def pair_turns(apps: Any, schema_editor: Any) -> None:
    alias = schema_editor.connection.alias
    turns = apps.get_model("aigen_app", "Turn").objects.using(alias)
    generations = apps.get_model("aigen_app", "Generation").objects.using(alias)
    if (turns.aggregate(last=Max("position"))["last"] or 0) >= _PARKED:
        raise RuntimeError("aigen_app.0002: turn positions too large to renumber")
    turns.update(position=F("position") + _PARKED)
    for conversation_id in generations.values_list("conversation_id", flat=True).distinct():
        own: dict[Any, dict[str, Any]] = {}
        for turn in turns.filter(conversation_id=conversation_id):
            own.setdefault(turn.generation_id, {})[turn.role] = turn

        def recorded(generation: Any) -> tuple[bool, int, Any]:
            user = own.get(generation.pk, {}).get("user")
            return (user is None, user.position if user else 0, generation.created_at)

        ordered = sorted(generations.filter(conversation_id=conversation_id), key=recorded)
        for pair, generation in enumerate(ordered):
            for offset, role in ((0, "user"), (1, "model")):
                turn = own.get(generation.pk, {}).get(role)
                if turn is None:
                    turns.create(conversation_id=conversation_id, generation=generation,
                                 position=2 * pair + offset, role=role)
                else:
                    turns.filter(pk=turn.pk).update(position=2 * pair + offset)


def unpair_turns(apps: Any, schema_editor: Any) -> None:
    """The old code appends a model turn on success: drop the empty ones it would
    collide with (positions stay unique; the old numbering tolerates gaps)."""
    turns = apps.get_model("aigen_app", "Turn").objects.using(schema_editor.connection.alias)
    turns.filter(role="model", parts__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("aigen_app", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(pair_turns, unpair_turns, elidable=True),
    ]
