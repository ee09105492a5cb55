from __future__ import annotations

from datetime import datetime
from types import ModuleType
from typing import Any

from django.apps import AppConfig


class TaskQueue:
    """``services.queueing.Queue`` over ``aigen_app.tasks``, looked up at each call so the
    task backend setting (and a test's override of it) is read when work is queued."""

    def __init__(self, tasks: ModuleType) -> None:
        self.tasks = tasks

    def enqueue(self, generation_id: str, *, run_after: datetime | None = None) -> Any:
        return self.tasks.enqueue_generation(generation_id, run_after=run_after)

    def backend(self) -> Any:
        return self.tasks.get_backend()

    @property
    def task_path(self) -> str:
        return str(self.tasks.run_generation_task.module_path)


class AigenConfig(AppConfig):
    name = "aigen_app"
    verbose_name = "AI image generation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, conf, tasks  # noqa: F401  (registers checks and receivers)
        from .services import files, queueing

        # The task layer queues what the services decide to run; services never import it.
        queueing.register_queue(TaskQueue(tasks))

        # Deleting a row that names a file deletes the file after the commit.
        files.connect_receivers()
