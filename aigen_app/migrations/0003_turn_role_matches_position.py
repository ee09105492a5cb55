# A migration of its own: on PostgreSQL, 0002's inserts leave deferred foreign-key
# checks pending, and ALTER TABLE refuses to run in the same transaction.

import django.db.models.functions.math
import django.db.models.lookups
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("aigen_app", "0002_turn_pairs"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="turn",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        django.db.models.lookups.Exact(
                            django.db.models.functions.math.Mod("position", 2), 0),
                        ("role", "user"),
                    ),
                    models.Q(
                        django.db.models.lookups.Exact(
                            django.db.models.functions.math.Mod("position", 2), 1),
                        ("role", "model"),
                    ),
                    _connector="OR",
                ),
                name="aigen_turn_role_matches_position",
            ),
        ),
    ]
