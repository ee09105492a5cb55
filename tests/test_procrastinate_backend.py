"""The procrastinate backend. Its worker's connector waits out a lost connection: a
query is repeated until it gets through (so no side task of the worker dies and stops
it), the listener reconnects, and queries a repeat could do twice are left to fail. A
task it could not run (one that takes a context) is refused when queued; the argument
recovery reads a generation job by is the job's own."""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from procrastinate import PsycopgConnector, exceptions, sql

from aigen_app.procrastinate_backend import (
    ProcrastinateBackend,
    _OutageProofConnector,
    run_generation_job,
)

if TYPE_CHECKING:
    from django.tasks import task
else:
    try:
        from django.tasks import task
    except ImportError:  # Django 5.2: the backport
        from django_tasks import task


@task(takes_context=True)
def with_context(context: Any) -> None:
    """A task that takes a context."""


@task()
def without_context() -> None:
    """A task that takes none."""


def lost_connection() -> exceptions.ConnectorException:
    error = exceptions.ConnectorException("Database error.")
    error.__cause__ = psycopg.OperationalError("consuming input failed")
    return error


class Flaky:
    """Fails its first ``times`` calls as a lost connection would, then answers."""

    def __init__(self, times: int) -> None:
        self.times, self.calls = times, 0

    async def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise lost_connection()
        return "answer"


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep
    monkeypatch.setattr(asyncio, "sleep", lambda delay: real_sleep(0))


def connector_over(monkeypatch: pytest.MonkeyPatch, flaky: Flaky) -> _OutageProofConnector:
    for method in ("execute_query_async", "execute_query_one_async",
                   "execute_query_all_async", "listen_notify"):
        monkeypatch.setattr(PsycopgConnector, method, flaky)
    return _OutageProofConnector()


@pytest.mark.parametrize("query", ["update_heartbeat", "fetch_job", "list_jobs_to_abort",
                                   "finish_job"])
def test_a_worker_query_is_repeated_through_a_lost_connection(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, query: str
) -> None:
    flaky = Flaky(times=3)
    connector = connector_over(monkeypatch, flaky)

    answer = asyncio.run(connector.execute_query_one_async(sql.queries[query], job_id=7))

    assert (answer, flaky.calls) == ("answer", 4)
    warnings = [r.getMessage() for r in caplog.records if r.name == "aigen.tasks"]
    assert warnings == [f"procrastinate {query} (job 7): the database is unreachable; "
                        "retrying", f"procrastinate {query} (job 7): the database answers again"]


def test_the_listener_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = Flaky(times=2)
    connector = connector_over(monkeypatch, flaky)

    asyncio.run(connector.listen_notify(on_notification=None, channels=["q"]))

    assert flaky.calls == 3


def test_a_query_a_repeat_could_do_twice_is_not_repeated(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Flaky(times=1)
    connector = connector_over(monkeypatch, flaky)

    with pytest.raises(exceptions.ConnectorException):
        asyncio.run(connector.execute_query_one_async(sql.queries["defer_jobs"], jobs=[]))
    assert flaky.calls == 1


def test_other_errors_are_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    async def broken(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        raise exceptions.ConnectorException("syntax error") from psycopg.ProgrammingError()

    monkeypatch.setattr(PsycopgConnector, "execute_query_async", broken)

    with pytest.raises(exceptions.ConnectorException):
        asyncio.run(_OutageProofConnector().execute_query_async(sql.queries["finish_job"]))
    assert calls == 1


def test_a_task_that_takes_a_context_is_refused_at_enqueue() -> None:
    # The backend runs other tasks through ``run_task_job``, which has no context to
    # give; refused up front rather than a TypeError in the worker.
    backend = ProcrastinateBackend("procrastinate", {"QUEUES": [], "OPTIONS": {}})
    with pytest.raises(Exception, match="takes a context") as refused:
        backend.validate_task(with_context)
    assert type(refused.value).__name__ in {"InvalidTask", "InvalidTaskError"}
    backend.validate_task(without_context)


def test_the_generation_argument_recovery_reads_is_the_job_s_parameter() -> None:
    # The backend defers the job with it, and aigen_recover reads jobs' args by it.
    job_parameters = inspect.signature(run_generation_job.func).parameters
    assert list(job_parameters) == [ProcrastinateBackend.generation_argument]
