"""Signals sent by ``aigen_app.services`` as a generation moves through its life.

Both are sent with ``sender=Generation`` and ``generation=<the row>``:

- ``generation_started``: a task run claimed the generation and is about to call the API.
- ``generation_finished``: the generation reached a terminal status (``succeeded``,
  ``failed``, ``blocked`` or ``canceled``); sent after the status is committed.
"""

from __future__ import annotations

from django.dispatch import Signal

generation_started = Signal()
generation_finished = Signal()

__all__ = ["generation_finished", "generation_started"]
