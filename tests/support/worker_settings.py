"""Settings of the processes a scale test starts (workers, probes): the demo project's,
with the overrides the test passes as JSON in ``AIGEN_TEST_SETTINGS`` (for example
``{"AIGEN": {...}, "CACHES": {...}, "STORAGES": {...}}``), so each process runs with
exactly the configuration the test chose."""

from __future__ import annotations

import json
import os

from project.settings import *  # noqa: F403

for _name, _value in json.loads(os.environ.get("AIGEN_TEST_SETTINGS") or "{}").items():
    globals()[_name] = _value
