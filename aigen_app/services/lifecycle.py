"""Operations on existing generations: retry, cancel, and recovering lost runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..conf import aigen_settings
from ..models import Generation, GenerationAsset, GenerationStatus, PartKind, TurnPart, TurnRole
from ..signals import generation_finished
from . import task_rows
from .errors import InvalidGenerationState
from .queueing import enqueue_on_commit
from .running import finish_kept_result, run_deadline

logger = logging.getLogger("aigen.services")

RETRYABLE = (GenerationStatus.FAILED, GenerationStatus.BLOCKED, GenerationStatus.CANCELED)
CANCELABLE = (GenerationStatus.PENDING, GenerationStatus.RUNNING)


def retry_generation(generation: Generation) -> Generation:
    """Queue a failed, blocked or cancelled generation again, with a fresh attempt
    budget. The same row runs again: its turns keep their positions, and its model turn
    (empty, as the generation never succeeded) is filled if it succeeds this time."""
    with transaction.atomic():
        updated = Generation.objects.filter(pk=generation.pk, status__in=RETRYABLE).update(
            status=GenerationStatus.PENDING, attempts=0, api_attempts=0, run_token=None,
            error_code="", error_message="", block_reason="", finish_reason="",
            started_at=None, finished_at=None, deadline_at=None, run_after=None,
            queued_at=timezone.now(),
        )
        if not updated:
            generation.refresh_from_db(fields=["status"])
            raise InvalidGenerationState(
                f"Only a failed, blocked or canceled generation can be retried; "
                f"this one is {generation.status}."
            )
        _check_assets_kept(generation)
        enqueue_on_commit(generation.pk)
    generation.refresh_from_db()
    return generation


def _check_assets_kept(generation: Generation) -> None:
    """Refuse (rolling the retry back) when a media asset the generation was sent with
    has since been deleted: running it again would send a different request than the
    one its user turn records."""
    sent = TurnPart.objects.filter(
        turn__generation_id=generation.pk, turn__role=TurnRole.USER, kind=PartKind.IMAGE,
    ).exclude(image=generation.reference_image.name or "").count()
    if sent > GenerationAsset.objects.filter(generation_id=generation.pk).count():
        raise InvalidGenerationState(
            "A media asset this generation was sent with has been deleted, so it cannot "
            "run again as it was; start a new generation instead."
        )


def cancel_generation(generation: Generation) -> Generation:
    """Cancel a pending or running generation. A running call is not interrupted, but
    its result is discarded when it arrives. Cancelling twice is harmless."""
    with transaction.atomic():
        updated = Generation.objects.filter(pk=generation.pk, status__in=CANCELABLE).update(
            status=GenerationStatus.CANCELED, finished_at=timezone.now(), run_token=None,
            deadline_at=None, run_after=None,
        )
        generation.refresh_from_db()
        if updated:
            transaction.on_commit(
                lambda: generation_finished.send(sender=Generation, generation=generation)
            )
        elif generation.status != GenerationStatus.CANCELED:
            raise InvalidGenerationState(
                f"Only a pending or running generation can be canceled; "
                f"this one is {generation.status}."
            )
    return generation


@dataclass
class Recovery:
    """What ``recover_generations`` did, by generation id."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    # Lost runs whose paid result was kept, recorded now without calling the API again.
    finished: list[str] = field(default_factory=list)
    # Task rows of dead workers, left RUNNING by them, marked failed (django-tasks-db).
    reclaimed: list[str] = field(default_factory=list)
    # Pending generations past the wait whose task is still queued: left alone.
    waiting: int = 0

    @property
    def possible_double_charges(self) -> list[str]:
        """The runs queued again without a kept result: their worker may have died after
        the API generated (and billed) the image, so the next run may pay a second time.
        The one double charge no system can avoid, counted so it is seen."""
        return self.requeued


def recover_generations(
    *, now: datetime | None = None, pending_after: float | None = None
) -> Recovery:
    """Settle generations whose run was lost. Safe to run at any time, repeatedly.

    - ``running`` past ``deadline_at`` (the worker died or hung): when the run kept a
      paid result it could not record (``receipts``), that result is recorded;
      otherwise queued again while attempts remain (``AIGEN["TASK_MAX_ATTEMPTS"]``),
      else ``failed`` with the reason.
    - ``pending`` and not (re)queued for ``pending_after`` seconds (default
      ``AIGEN["GENERATION_DEADLINE"]``), for example because the queue was down when it
      was created: queued again, unless the backend shows its task still queued (a
      long but healthy backlog; django-tasks-db and procrastinate, see ``task_rows``).
      Elsewhere a duplicate queue entry is harmless: only one run can claim a pending
      generation.
    - Task rows (django-tasks-db) and jobs (procrastinate) a dead worker left running
      are marked failed (``task_rows.reclaim_dead_task_rows``).

    Every change is a conditional UPDATE on the state that was read, so concurrent
    recoveries and late workers never both win.
    """
    now = now or timezone.now()
    report = Recovery()
    max_attempts = int(aigen_settings.TASK_MAX_ATTEMPTS)
    dead_before = task_rows.stale_before(now, run_deadline())
    report.reclaimed = task_rows.reclaim_dead_task_rows(stale_before=dead_before, now=now)
    queued = task_rows.queued_tasks(stale_before=dead_before)
    stuck = Generation.objects.filter(status=GenerationStatus.RUNNING, deadline_at__lt=now)
    for generation in stuck.only("id", "conversation_id", "attempts", "run_token",
                                 "started_at"):
        if finish_kept_result(generation) is not None:
            report.finished.append(str(generation.pk))
            continue
        _recover_running(generation, now, max_attempts, report,
                         enqueue=queued is None or str(generation.pk) not in queued.waiting)
    wait = float(aigen_settings.GENERATION_DEADLINE if pending_after is None else pending_after)
    cutoff = now - timedelta(seconds=wait)
    stale = Generation.objects.filter(
        Q(queued_at__isnull=True) | Q(queued_at__lt=cutoff),
        Q(run_after__isnull=True) | Q(run_after__lt=cutoff),
        status=GenerationStatus.PENDING,
    )
    for generation in stale.only("id", "queued_at"):
        if queued is not None and queued.holds(generation.pk):
            report.waiting += 1  # its task is still queued (or running): not lost
            continue
        with transaction.atomic():
            if Generation.objects.filter(
                pk=generation.pk, status=GenerationStatus.PENDING, queued_at=generation.queued_at
            ).update(queued_at=now, run_after=None):
                enqueue_on_commit(generation.pk)
                report.resent.append(str(generation.pk))
    return report


def _recover_running(generation: Generation, now: datetime, max_attempts: int,
                     report: Recovery, *, enqueue: bool) -> None:
    lost = Generation.objects.filter(pk=generation.pk, status=GenerationStatus.RUNNING,
                                     run_token=generation.run_token)
    started = generation.started_at.isoformat() if generation.started_at else "?"
    reason = (f"The run that started at {started} passed its deadline "
              f"(AIGEN['GENERATION_DEADLINE']) without finishing; its worker probably died")
    with transaction.atomic():
        if generation.attempts < max_attempts:
            if lost.update(status=GenerationStatus.PENDING, run_token=None, deadline_at=None,
                           queued_at=now, error_code="worker_lost",
                           error_message=f"{reason}. Queued again."):
                if enqueue:  # else a task for it is queued already
                    enqueue_on_commit(generation.pk)
                report.requeued.append(str(generation.pk))
                logger.warning("generation %s: %s; queued again, a possible double charge "
                               "(the API may have generated the image before the worker "
                               "died)", generation.pk, reason)
            return
        if lost.update(status=GenerationStatus.FAILED, run_token=None, deadline_at=None,
                       finished_at=now, error_code="worker_lost",
                       error_message=f"{reason}. Gave up after {generation.attempts} task runs "
                       "(AIGEN['TASK_MAX_ATTEMPTS'])."):
            report.failed.append(str(generation.pk))
            failed = Generation.objects.get(pk=generation.pk)
            transaction.on_commit(
                lambda: generation_finished.send(sender=Generation, generation=failed)
            )
    logger.warning("generation %s: %s", generation.pk, reason)
