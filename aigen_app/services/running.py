"""``run_generation``: the body of the background task.

1. Claim: one conditional UPDATE moves the row pending -> running and stamps a fresh
   ``run_token``, a deadline and ``attempts + 1``. A second run of the same generation
   (a duplicate task, a retried worker) matches no row and returns without calling the
   API.
2. Call the client outside any transaction (a call can take minutes).
3. Record the outcome in one transaction, only while the run still holds its token: a
   run that outlived its deadline (and was re-queued by ``aigen_recover``) or whose
   generation was cancelled records nothing, and its files are deleted. A success
   fills the model turn stored with the generation (never a new turn), so the reply
   stays right after its prompt in the conversation.

A paid result is never thrown away because the database is briefly unreachable: its
files and a receipt are stored before any row is written, the rows are retried
through the outage until the run's deadline, and past it ``aigen_recover`` records
the result from the receipt (``receipts``), without calling the API again.

``arun_generation`` is the same run for an event loop (the procrastinate worker): the
call is awaited and each database step above runs on a small pool of threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..client import (
    CapacityTimeoutError,
    ConfigurationError,
    ContentPolicyError,
    GenerationError,
    GenerationRequest,
    GenerationResponse,
    MediaAssetInput,
    NoImageError,
    RateLimitError,
    ServerError,
)
from ..client_factory import get_client
from ..conf import aigen_settings
from ..images import inspect_image
from ..models import Conversation, Generation, GenerationStatus
from ..signals import generation_finished, generation_started
from ..storage import FileBatch, read_file, written_files
from . import receipts, turns
from .errors import FAILURE_MESSAGES, InputMissing
from .identity import safety_identifier
from .outages import DATABASE_UNREACHABLE, through_outage
from .queueing import can_defer, enqueue_on_commit

logger = logging.getLogger("aigen.services")
T = TypeVar("T")

# Seconds early a deferred run may arrive and still wait for its time (see
# ``_early_by``).
EARLY_RUN_TOLERANCE = 5.0


class ResultKept(Exception):
    """A paid result is stored with its receipt, but the database stayed unreachable
    until the run's deadline: ``aigen_recover`` records it later."""


class _Superseded(Exception):
    """The run no longer holds the generation (cancelled, or recovered after its
    deadline): its outcome must not be recorded."""


@dataclass(frozen=True)
class _Run:
    """A claimed run: the generation and the token its outcome is fenced by."""

    generation: Generation
    token: Any


def run_generation(generation_id: str, *, hand_back: bool = True) -> str:
    """Run a pending generation to a terminal status (or defer it); returns the status.

    Unexpected errors (misconfiguration, storage failures) mark the generation failed
    and are re-raised so the worker logs them. A run stopped before its result came
    (``KeyboardInterrupt``, ``SystemExit``) goes back to the queue, unless
    ``hand_back`` is False: then it stays running for the caller to settle (``generate``
    cancels it; queued again, this process's own backend could start it once more and
    pay for a call nobody waits for).
    """
    run = _claim_or_status(generation_id, _claim_when_due(generation_id))
    if not isinstance(run, _Run):
        return run
    try:
        response = get_client().generate_sync(_prepare(run))
    except BaseException as exc:
        return _call_failed(run, exc, hand_back=hand_back)
    return _record(run, response)


async def arun_generation(generation_id: str) -> str:
    """``run_generation`` for an event loop: the paid call is awaited, so one process
    holds many runs in flight (procrastinate's worker; ``aigen_app.procrastinate_backend``).

    Every database step runs on one of ``AIGEN["DATABASE_THREADS"]`` threads (each with
    its own connection), never on the event loop; the rules are the synchronous path's
    own functions. A cancelled run (the worker's stop timeout or a second signal) goes
    back to the queue like ``worker_stopped``. The steps that change the row (the claim,
    the outcome, the hand-back) run to their end even when the run is cancelled
    meanwhile: a claim is then handed back, and a result the API has returned is
    recorded (or kept with its receipt), never dropped half way.
    """
    # ``_claim_when_due``, awaited step by step: its wait for an early delivery must
    # not hold one of the few database threads.
    claimed, stopping = await _to_the_end(_claim, generation_id)
    if claimed is None and not stopping:
        wait = await _on_database_thread(_early_by)(generation_id)
        if wait is not None:
            await asyncio.sleep(wait)
            claimed, stopping = await _to_the_end(_claim, generation_id)
    run, stopped = await _to_the_end(_claim_or_status, generation_id, claimed)
    if not isinstance(run, _Run):
        return run
    if stopping or stopped:  # claimed as the stop came: hand it back, re-raise the stop
        return (await _to_the_end(_call_failed, run, asyncio.CancelledError()))[0]
    current = asyncio.current_task()
    if current is not None:
        _in_flight[current] = asyncio.get_running_loop()
    settle: Callable[[], str]
    try:
        request = await _on_database_thread(_prepare)(run)
        response = await get_client().generate(request)
    except BaseException as exc:
        # A stop is handed back, then re-raised (``_call_failed`` re-raises it).
        settle = functools.partial(_call_failed, run, exc)
    else:
        settle = functools.partial(_record, run, response)
    finally:  # no longer waiting for the API: a second signal has nothing to cancel here
        _in_flight.pop(current, None)  # type: ignore[arg-type]
    return (await _to_the_end(settle))[0]


async def _to_the_end(step: Callable[..., T], *args: Any) -> tuple[T, bool]:
    """Run a database step on a database thread to its end, even if this task is
    cancelled meanwhile (a step cancelled while queued for a thread would never run):
    its result, and whether a cancel arrived."""
    task = asyncio.ensure_future(_on_database_thread(step)(*args))
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    return task.result(), cancelled


class _DatabaseThreads(ThreadPoolExecutor):
    """A thread pool that says how many threads it has (the executor keeps it private)."""

    def __init__(self, size: int, thread_name_prefix: str) -> None:
        super().__init__(size, thread_name_prefix=thread_name_prefix)
        self.size = size


@functools.cache
def _database_threads() -> _DatabaseThreads:
    """The threads ``arun_generation``'s database steps run on, each holding its own
    connection: ``AIGEN["DATABASE_THREADS"]``, read once per process. One
    (``sync_to_async``'s thread-sensitive default) put every run's claim, reads, files
    and recording in one line: B8 (docs/benchmarks.md) measured the effect."""
    return _DatabaseThreads(int(aigen_settings.DATABASE_THREADS), thread_name_prefix="aigen-db")


def close_database_threads() -> None:
    """Close the database threads' connections and end the threads (the next run makes
    new ones): for a process that goes on without runs, such as a test's, whose open
    connections would keep its database from being dropped."""
    threads = _database_threads()
    _database_threads.cache_clear()
    every_thread = threading.Barrier(threads.size)  # one call on each thread

    def close() -> None:
        every_thread.wait(timeout=30)
        connections.close_all()

    for call in [threads.submit(close) for _ in range(threads.size)]:
        call.result()
    threads.shutdown()


def _on_database_thread(function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    return sync_to_async(function, thread_sensitive=False, executor=_database_threads())


# The asyncio tasks of ``arun_generation`` calls waiting for the API, with their loop.
_in_flight: dict[asyncio.Task[Any], asyncio.AbstractEventLoop] = {}


def cancel_runs_in_flight() -> int:
    """Cancel every ``arun_generation`` still waiting for the API (from any thread or a
    signal handler): each hands its generation back. Returns how many."""
    runs = list(_in_flight.items())
    for task, loop in runs:
        loop.call_soon_threadsafe(task.cancel)
    return len(runs)


def _claim_or_status(generation_id: str, generation: Generation | None) -> _Run | str:
    """The claimed run, or the status to return without running: not claimed (another
    run has it, or it is settled), or out of attempts."""
    if generation is None:
        current = Generation.objects.filter(pk=generation_id).values_list("status", flat=True)
        status = current.first()
        logger.info("generation %s not claimed (status %s)", generation_id, status)
        return status or "missing"
    token = generation.run_token
    max_attempts = int(aigen_settings.TASK_MAX_ATTEMPTS)
    if generation.attempts > max_attempts:
        return _finish(generation, token, GenerationStatus.FAILED, error_code="attempts_exhausted",
                       error_message=f"Gave up after {max_attempts} task runs "
                       "(AIGEN['TASK_MAX_ATTEMPTS']).")
    return _Run(generation, token)


def _prepare(run: _Run) -> GenerationRequest:
    """Announce the run and read its request (retried through a database outage)."""
    generation = run.generation
    generation_started.send(sender=Generation, generation=generation)
    return through_outage(lambda: build_request(generation), until=generation.deadline_at,
                          what=f"generation {generation.pk}: reading its request")


def _call_failed(run: _Run, error: BaseException, *, hand_back: bool = True) -> str:
    """Settle a run whose request could not be built or whose API call raised
    ``error``; returns the status, or re-raises what the worker must see."""
    generation, token = run.generation, run.token
    try:
        raise error
    except InputMissing as exc:
        logger.warning("generation %s failed: %s", generation.pk, exc.detail)
        return _finish(generation, token, GenerationStatus.FAILED, error_code=exc.code,
                       error_message=exc.message)
    except RateLimitError as exc:
        return _rate_limited(generation, token, exc)
    except ContentPolicyError as exc:
        return _finish(generation, token, GenerationStatus.BLOCKED, error_code=exc.code,
                       error_message=exc.message, block_reason=exc.reason[:200],
                       api_attempts=exc.attempts, request_id=exc.request_id[:200])
    except GenerationError as exc:
        if isinstance(exc, CapacityTimeoutError) or (
                isinstance(exc, ServerError) and _asks_a_long_wait(exc)):
            return _rate_limited(generation, token, exc)
        finish_reason = exc.finish_reason if isinstance(exc, NoImageError) else ""
        return _finish(generation, token, GenerationStatus.FAILED, error_code=exc.code,
                       error_message=exc.message, finish_reason=finish_reason[:64],
                       api_attempts=exc.attempts, request_id=exc.request_id[:200])
    except (ConfigurationError, ImproperlyConfigured):
        _failed_internally(generation, token, "configuration_error")
        raise
    except Exception:
        _failed_internally(generation, token, "internal_error")
        raise
    except BaseException:
        # SystemExit, KeyboardInterrupt or asyncio.CancelledError: the worker is told
        # to stop now. No result has come, so the generation goes back to the queue at
        # once instead of staying running until its deadline.
        if hand_back:
            _hand_back(generation, token)
        raise


def _record(run: _Run, response: GenerationResponse) -> str:
    """Record the paid result of ``run`` (see ``_succeeded``)."""
    try:
        return _succeeded(run.generation, run.token, response)
    except ResultKept:
        raise  # the row stays running: aigen_recover records the kept result
    except Exception:
        # The files are gone already (written_files); say why the result is missing.
        _failed_internally(run.generation, run.token, "result_not_saved",
                           api_attempts=response.attempts)
        raise


def _failed_internally(generation: Generation, token: Any, code: str, **fields: Any) -> str:
    """Record a failure whose cause must not reach clients: the row gets ``code`` and
    its client message, the log the cause (call from an ``except`` block)."""
    logger.exception("generation %s failed (%s)", generation.pk, code)
    return _finish(generation, token, GenerationStatus.FAILED, error_code=code,
                   error_message=FAILURE_MESSAGES[code], **fields)


def _claim(generation_id: str) -> Generation | None:
    now = timezone.now()
    deadline = now + timedelta(seconds=run_deadline())
    # Retried through an outage like every other step of a run: a worker that meets a
    # lost connection here waits for the database instead of dropping the delivery. A
    # claim that committed but whose answer was lost is recognised by its token.
    token = uuid.uuid4()
    claimed = through_outage(lambda: _mark_running(generation_id, now, deadline, token),
                             until=deadline, what=f"generation {generation_id}: claiming it")
    if not claimed and not through_outage(
            # A retried claim whose first try committed but whose answer was lost.
            lambda: Generation.objects.filter(pk=generation_id, run_token=token).exists(),
            until=deadline, what=f"generation {generation_id}: checking its claim"):
        return None
    # The row is this run's now: a lost connection must not strand it running.
    return through_outage(lambda: Generation.objects.get(pk=generation_id), until=deadline,
                          what=f"generation {generation_id}: reading its claimed row")


def _mark_running(generation_id: str, now: datetime, deadline: datetime, token: Any) -> int:
    """The claim itself: one conditional UPDATE, pending (and due) -> running."""
    return (
        Generation.objects.filter(pk=generation_id, status=GenerationStatus.PENDING)
        .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
        .update(
            status=GenerationStatus.RUNNING, run_token=token, attempts=F("attempts") + 1,
            started_at=now, finished_at=None, run_after=None, deadline_at=deadline,
        )
    )


def _claim_when_due(generation_id: str) -> Generation | None:
    """Claim ``generation_id``, waiting first when it was delivered a little early."""
    generation = _claim(generation_id)
    if generation is None and (wait := _early_by(generation_id)) is not None:
        time.sleep(wait)
        generation = _claim(generation_id)
    return generation


def _early_by(generation_id: str) -> float | None:
    """Seconds until a deferred generation delivered a little before its ``run_after``
    is due (None when it is not such a delivery). Backends run deferred work slightly
    early (RQ schedules in whole seconds; a worker's clock may lag the database's);
    dropping such a run would leave the generation pending until ``aigen_recover``
    re-sends it."""
    run_after = (Generation.objects.filter(pk=generation_id, status=GenerationStatus.PENDING)
                 .values_list("run_after", flat=True).first())
    if run_after is None:
        return None
    wait = (run_after - timezone.now()).total_seconds()
    if not 0 < wait <= EARLY_RUN_TOLERANCE:
        return None  # a stale duplicate delivery: the deferred one comes later
    return wait


def run_deadline() -> float:
    """Seconds a run may take before ``aigen_recover`` may treat it as lost: never less
    than the client's own deadline plus a margin for storage, so a live run is not
    queued a second time (and paid for twice) because the two settings disagree."""
    return max(float(aigen_settings.GENERATION_DEADLINE), float(aigen_settings.DEADLINE) + 60)


def build_request(generation: Generation) -> GenerationRequest:
    """The client request for ``generation``: its own inputs plus its line's history.
    Raises ``InputMissing`` when a file or turn it needs is gone."""
    try:
        return _request_for(generation)
    except FileNotFoundError as exc:
        raise InputMissing(f"a file is missing from storage: {exc}") from exc


def _history(generation: Generation) -> list[Any]:
    try:
        return list(turns.history_for(generation))
    except ValueError as exc:  # the line it continues is incomplete (turns.history_turns)
        raise InputMissing(f"its conversation cannot be replayed: {exc}") from exc


def _request_for(generation: Generation) -> GenerationRequest:
    links = generation.asset_links.select_related("asset").order_by("position")
    reference = generation.reference_image.name or ""
    return GenerationRequest(
        prompt=generation.prompt, width=generation.width, height=generation.height,
        model=generation.model or None, seed=generation.seed,
        input_image=read_file(reference) if reference else None,
        input_image_mime_type=generation.reference_mime_type or "image/png",
        conversation_history=_history(generation),
        media_assets=[
            MediaAssetInput(image_data=read_file(link.asset.image.name or ""),
                            mime_type=link.asset.mime_type, asset_type=link.asset.asset_type,
                            display_name=link.asset.display_name)
            for link in links
        ],
        enable_grounding=generation.enable_grounding, generation_id=str(generation.pk),
        safety_identifier=safety_identifier(generation.owner_id),
        options=dict(generation.options or {}),
    )


def _succeeded(generation: Generation, token: Any, response: GenerationResponse) -> str:
    """Record a paid result. Its files and receipt are stored first, then the rows are
    written, retried through a database outage until the run's deadline; after that
    ``ResultKept`` leaves the row to ``aigen_recover`` (see ``receipts``)."""
    with written_files() as files:
        result = _stored_result(response, files)
        receipts.keep(generation.pk, token, result)
    try:
        status = through_outage(lambda: _record_result(generation, token, result),
                                until=generation.deadline_at,
                                what=f"generation {generation.pk}: saving its paid result")
    except DATABASE_UNREACHABLE as exc:
        raise ResultKept(f"generation {generation.pk}: the database stayed unreachable; "
                         f"its result is kept at {receipts.receipt_name(generation.pk, token)} "
                         "for aigen_recover") from exc
    except Exception:
        files.discard()
        receipts.drop(generation.pk, token)
        raise
    except BaseException:
        # The worker is stopping now (a second SIGTERM): one quick try to record the
        # result, else its receipt waits for aigen_recover. Never thrown away.
        with contextlib.suppress(Exception):
            if _record_result(generation, token, result) is not None:
                receipts.drop(generation.pk, token)
        raise
    if status is None:  # superseded: someone else settled the row
        files.discard()
        status = _status_of(generation)
    receipts.drop(generation.pk, token)
    return status


def finish_kept_result(generation: Generation) -> str | None:
    """Record the result a lost run kept (its receipt), without calling the API again;
    None when the run kept none. For ``aigen_recover``, once the run's deadline passed."""
    token = generation.run_token
    result = receipts.load(generation.pk, token)
    if result is None:
        return None
    status = _record_result(generation, token, result)
    if status is None:
        lost = FileBatch()
        lost.names.extend(result.files)
        lost.discard()
        status = _status_of(generation)
    receipts.drop(generation.pk, token)
    return status


def _stored_result(response: GenerationResponse, files: FileBatch) -> receipts.KeptResult:
    """Write the result's files; returns what the rows will record."""
    image_name = files.save("generations", response.image_data, response.mime_type)
    info = inspect_image(response.image_data)
    usage = response.usage
    fields = dict(
        image=image_name, mime_type=info.mime_type, image_width=info.width,
        image_height=info.height, byte_size=info.byte_size, sha256=info.sha256,
        seed=response.seed, model=response.model[:100], text=response.text,
        model_version=response.model_version[:100], response_id=response.response_id[:200],
        request_id=response.request_id[:200],
        finish_reason=response.finish_reason[:64], prompt_tokens=usage.prompt_tokens,
        candidates_tokens=usage.candidates_tokens, thoughts_tokens=usage.thoughts_tokens,
        total_tokens=usage.total_tokens, inference_time_ms=response.inference_time_ms,
        api_attempts=response.attempts, error_code="", error_message="",
    )
    return receipts.KeptResult(fields, _model_parts(response, image_name, info.sha256, files))


def _record_result(generation: Generation, token: Any, result: receipts.KeptResult) -> str | None:
    """Write a stored result into the rows in one transaction; None if the run no
    longer holds the row."""
    try:
        with transaction.atomic():
            # Same lock order as creation (conversation, then generation): the model
            # turn is filled and the conversation's updated_at moves.
            _lock_conversation_of(generation)
            _fenced_update(generation, token, GenerationStatus.SUCCEEDED, **result.fields)
            turns.fill_model_turn(generation, result.parts)
    except _Superseded:
        # A commit whose acknowledgement was lost with the connection, retried: the
        # row already holds this very result.
        if not Generation.objects.filter(pk=generation.pk, status=GenerationStatus.SUCCEEDED,
                                         image=result.fields["image"]).exists():
            return None
    return _after_finish(generation)


def _lock_conversation_of(generation: Generation) -> None:
    try:
        turns.lock_conversation(generation.conversation_id)
    except Conversation.DoesNotExist:
        # Deleted while the API call ran, and this generation with it (cascade).
        logger.warning("generation %s: its conversation was deleted while it ran; result "
                       "discarded", generation.pk)
        raise _Superseded from None


def _model_parts(response: GenerationResponse, image_name: str, image_sha256: str,
                 files: FileBatch) -> list[turns.PartRecord]:
    """The model turn's parts, each image stored exactly as the API sent it (the fitted
    result is reused when it is byte-identical)."""
    parts: list[turns.PartRecord] = []
    for part in response.model_turn.parts:
        if part.image_data is None:
            parts.append(turns.PartRecord(text=part.text or "",
                                          thought_signature=part.thought_signature))
            continue
        mime = part.mime_type or "image/png"
        info = inspect_image(part.image_data)
        name = image_name if info.sha256 == image_sha256 else files.save(
            "turns", part.image_data, mime)
        parts.append(turns.PartRecord(image_name=name, mime_type=mime,
                                      byte_size=info.byte_size, sha256=info.sha256,
                                      thought_signature=part.thought_signature))
    return parts


def _asks_a_long_wait(exc: ServerError) -> bool:
    """A 5xx whose Retry-After is longer than the client sleeps: it came back at once,
    unretried, so it is deferred like a long 429 rather than failed."""
    return exc.retry_after is not None and exc.retry_after > float(aigen_settings.MAX_RETRY_WAIT)


def _rate_limited(generation: Generation, token: Any,
                  exc: RateLimitError | ServerError | CapacityTimeoutError) -> str:
    """Defer the generation past the server's requested wait, or fail saying why not."""
    if isinstance(exc, RateLimitError) and exc.per_day:
        return _finish(generation, token, GenerationStatus.FAILED, error_code=exc.code,
                       error_message=f"The API's daily quota is exhausted: {exc.message}",
                       api_attempts=exc.attempts)
    retry_after = None if isinstance(exc, CapacityTimeoutError) else exc.retry_after
    wait = retry_after if retry_after is not None else float(
        aigen_settings.RATE_LIMIT_DEFAULT_WAIT)
    max_attempts = int(aigen_settings.TASK_MAX_ATTEMPTS)
    refusal = ("Rate limited by the API" if isinstance(exc, RateLimitError)
               else "No rate-limit capacity within the deadline"
               if isinstance(exc, CapacityTimeoutError)
               else f"The API is unavailable ({exc.message})")
    limit = float(aigen_settings.MAX_RETRY_WAIT)
    if retry_after is None:
        why = f"no wait named; trying again in {wait:g}s"
    elif wait > limit:
        why = f"retry after {wait:g}s, longer than the {limit:g}s the client waits"
    else:  # short waits, but every retry was refused too
        why = f"still refused after {exc.attempts} attempts; trying again in {wait:g}s"
    reason = f"{refusal} ({why})"
    if not can_defer():
        return _finish(
            generation, token, GenerationStatus.FAILED, error_code=exc.code,
            api_attempts=exc.attempts,
            error_message=f"{reason}; the task backend {aigen_settings.TASK_BACKEND!r} cannot "
            "run work later (supports_defer is False). Retry the generation later, or use "
            "a backend that can defer, such as django_tasks_db.DatabaseBackend.",
        )
    # A wait longer than the client sleeps (a long 429 or Retry-After, answered at once,
    # or the limiter refusing locally during a cooldown) is a deferral, not a failed run:
    # the run gives its attempt back, as does one the limiter held back until its
    # deadline without sending anything. TASK_MAX_ATTEMPTS counts runs that crashed or
    # had their retries refused, so a backlog behind a long cooldown drains when it lifts.
    deferral = (retry_after is not None and wait > limit) or (
        isinstance(exc, CapacityTimeoutError) and exc.requests_sent == 0)
    if not deferral and generation.attempts >= max_attempts:
        return _finish(generation, token, GenerationStatus.FAILED, error_code=exc.code,
                       api_attempts=exc.attempts,
                       error_message=f"{reason}; gave up after {generation.attempts} task runs "
                       "(AIGEN['TASK_MAX_ATTEMPTS']).")
    run_after = timezone.now() + timedelta(seconds=wait)

    def defer() -> None:
        with transaction.atomic():
            _fenced_update(
                generation, token, GenerationStatus.PENDING, run_token=None, deadline_at=None,
                run_after=run_after, queued_at=timezone.now(), api_attempts=exc.attempts,
                attempts=F("attempts") - 1 if deferral else generation.attempts,
                error_code=exc.code,
                error_message=f"{reason}; deferred until {run_after.isoformat()}.",
            )
            enqueue_on_commit(generation.pk, run_after=run_after)

    with contextlib.suppress(_Superseded):
        through_outage(defer, until=generation.deadline_at,
                       what=f"generation {generation.pk}: deferring it")
    return _status_of(generation)


def _hand_back(generation: Generation, token: Any) -> None:
    """Return a run interrupted before its result came back to the queue."""
    try:
        with transaction.atomic():
            _fenced_update(generation, token, GenerationStatus.PENDING, run_token=None,
                           deadline_at=None, queued_at=timezone.now(),
                           error_code="worker_stopped",
                           error_message="The worker stopped during the run; queued again.")
            enqueue_on_commit(generation.pk)
    except _Superseded:
        return
    except Exception:  # the row stays running: aigen_recover queues it after the deadline
        logger.exception("generation %s: could not hand the run back", generation.pk)
        return
    logger.warning("generation %s: the worker stopped during the run; queued again",
                   generation.pk)


def _finish(generation: Generation, token: Any, status: GenerationStatus,
            **fields: Any) -> str:
    """Record a terminal status without a result, if the run still holds the row."""
    def record() -> None:
        with transaction.atomic():
            _fenced_update(generation, token, status, **fields)

    try:
        through_outage(record, until=generation.deadline_at,
                       what=f"generation {generation.pk}: saving its outcome ({status})")
    except _Superseded:
        return _status_of(generation)
    return _after_finish(generation)


def _fenced_update(generation: Generation, token: Any, status: GenerationStatus,
                   **fields: Any) -> None:
    if status != GenerationStatus.PENDING:
        fields.setdefault("finished_at", timezone.now())
        fields.setdefault("deadline_at", None)
        fields.setdefault("run_token", None)
    updated = Generation.objects.filter(
        pk=generation.pk, status=GenerationStatus.RUNNING, run_token=token
    ).update(status=status, **fields)
    if not updated:
        logger.warning("generation %s: run %s superseded; outcome %s discarded",
                       generation.pk, token, status)
        raise _Superseded


def _after_finish(generation: Generation) -> str:
    generation.refresh_from_db()
    transaction.on_commit(
        lambda: generation_finished.send(sender=Generation, generation=generation)
    )
    return generation.status


def _status_of(generation: Generation) -> str:
    status = Generation.objects.filter(pk=generation.pk).values_list("status", flat=True)
    return status.first() or "missing"
