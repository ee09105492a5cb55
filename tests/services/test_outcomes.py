"""How a run ends: succeeded, blocked, failed, or deferred past a long rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from aigen_app.signals import generation_finished, generation_started
from tests.support import aigen_settings_for, reply_parts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signals() -> Iterator[list[tuple[str, str]]]:
    """(signal name, status at send time) for every signal sent."""
    sent: list[tuple[str, str]] = []

    def started(sender: Any, generation: Generation, **kwargs: Any) -> None:
        sent.append(("started", generation.status))

    def finished(sender: Any, generation: Generation, **kwargs: Any) -> None:
        sent.append(("finished", generation.status))

    generation_started.connect(started, weak=False)
    generation_finished.connect(finished, weak=False)
    yield sent
    generation_started.disconnect(started)
    generation_finished.disconnect(finished)


def pending(owner: Any, prompt: str = "A quiet harbour") -> Generation:
    return services.create_generation(prompt, owner=owner, width=320, height=240)


@pytest.mark.usefixtures("immediate_tasks")
def test_success_records_result_usage_and_signals(
    make_user: Any, aigen_emulator: EmulatorServer, signals: list[tuple[str, str]]
) -> None:
    generation = pending(make_user())
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.SUCCEEDED
    assert signals == [("started", "running"), ("finished", "succeeded")]
    assert (generation.image.name or "").startswith("aigen/generations/")
    assert generation.mime_type == "image/png" and generation.byte_size
    assert len(generation.sha256) == 64
    assert generation.total_tokens > 0 and generation.prompt_tokens > 0
    assert generation.seed is not None and generation.model
    assert generation.response_id and generation.finish_reason == "STOP"
    assert generation.inference_time_ms is not None
    assert generation.started_at and generation.finished_at and generation.deadline_at is None
    assert (generation.attempts, generation.api_attempts) == (1, 1)


@pytest.mark.usefixtures("immediate_tasks")
@pytest.mark.parametrize("fault", ["block_prompt", "block_image"])
def test_blocked_generation_keeps_the_reason(
    make_user: Any, aigen_emulator: EmulatorServer, signals: list[tuple[str, str]], fault: str
) -> None:
    aigen_emulator.inject(fault)
    generation = pending(make_user())
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.BLOCKED
    assert generation.block_reason and generation.error_code == "content_policy"
    assert generation.image.name == ""
    assert reply_parts(generation) == []
    assert signals[-1] == ("finished", "blocked")


@pytest.mark.usefixtures("immediate_tasks")
def test_no_image_fails_with_the_finish_reason(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    aigen_emulator.inject("no_image")
    generation = pending(make_user())
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "no_image"
    assert generation.finish_reason


@pytest.mark.usefixtures("database_tasks")
@pytest.mark.parametrize(("fault", "params", "code", "said"), [
    ("rate_limit", {"retry_delay": "120s"}, "rate_limited", "Rate limited"),
    # A 5xx naming a long wait came back at once, unretried: deferred like a long 429.
    ("unavailable", {"retry_after": "120"}, "server_error", "unavailable"),
], ids=["429", "503"])
def test_a_long_server_wait_defers_on_a_backend_that_can(
    make_user: Any, aigen_emulator: EmulatorServer, fault: str, params: dict[str, Any],
    code: str, said: str,
) -> None:
    generation = pending(make_user())
    aigen_emulator.inject(fault, **params)
    before = timezone.now()

    assert services.run_generation(str(generation.pk)) == GenerationStatus.PENDING

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.PENDING
    assert generation.error_code == code
    assert said in generation.error_message
    assert "retry after 120s" in generation.error_message
    assert generation.run_after is not None
    assert generation.run_after >= before + timedelta(seconds=119)
    deferred = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert deferred is not None and deferred.run_after == generation.run_after
    assert deferred.args_kwargs["args"] == [str(generation.pk)]
    # Not claimable before its time: no second call to the API.
    assert services.run_generation(str(generation.pk)) == GenerationStatus.PENDING
    assert len(aigen_emulator.requests()) == 1  # not slept and retried in the worker
    # When the time comes, it runs and succeeds.
    Generation.objects.filter(pk=generation.pk).update(run_after=timezone.now())
    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED
    generation.refresh_from_db()
    assert (generation.error_code, generation.error_message) == ("", "")
    assert generation.attempts == 1  # the deferral gave its attempt back


@pytest.mark.usefixtures("immediate_tasks")
def test_long_rate_limit_fails_clearly_where_the_backend_cannot_defer(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    aigen_emulator.inject("rate_limit", retry_delay="120s")
    generation = pending(make_user())
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "rate_limited"
    assert "retry after 120s" in generation.error_message
    assert "cannot run work later (supports_defer is False)" in generation.error_message
    assert len(aigen_emulator.requests()) == 1


@pytest.mark.usefixtures("database_tasks")
def test_server_errors_without_a_long_wait_still_fail(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    generation = pending(make_user())
    aigen_emulator.inject("internal", times=10)
    with override_settings(AIGEN=aigen_settings_for(aigen_emulator, MAX_RETRIES=0)):
        services.run_generation(str(generation.pk))
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "server_error"


@pytest.mark.usefixtures("immediate_tasks")
def test_short_rate_limits_that_use_up_the_retries_say_so(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    aigen_emulator.inject("rate_limit", times=2, retry_delay="0.2s")
    with override_settings(AIGEN=aigen_settings_for(aigen_emulator, MAX_RETRIES=1)):
        generation = pending(make_user())
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    # Not "longer than the 30s the client waits": it waited, and was refused again.
    assert "still refused after 2 attempts" in generation.error_message
    assert "longer than" not in generation.error_message
    assert len(aigen_emulator.requests()) == 2


@pytest.mark.usefixtures("database_tasks")
def test_rate_limited_past_the_attempt_budget_fails(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    # Short waits the client slept through, refused again: a run that used the API up.
    generation = pending(make_user())
    aigen_emulator.inject("rate_limit", retry_delay="0.1s")
    with override_settings(AIGEN=aigen_settings_for(aigen_emulator, TASK_MAX_ATTEMPTS=1,
                                                    MAX_RETRIES=0)):
        services.run_generation(str(generation.pk))
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert "gave up after 1 task runs" in generation.error_message


@pytest.mark.usefixtures("database_tasks")
def test_a_long_wait_is_deferred_whatever_the_attempt_budget(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    generation = pending(make_user())
    aigen_emulator.inject("rate_limit", retry_delay="120s")
    with override_settings(AIGEN=aigen_settings_for(aigen_emulator, TASK_MAX_ATTEMPTS=1)):
        assert services.run_generation(str(generation.pk)) == GenerationStatus.PENDING
    generation.refresh_from_db()
    assert generation.attempts == 0 and generation.run_after is not None


@pytest.mark.usefixtures("database_tasks")
def test_daily_api_quota_fails_without_deferring(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    generation = pending(make_user())
    aigen_emulator.inject("daily_quota")
    services.run_generation(str(generation.pk))
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "quota_exceeded"
    assert "daily quota" in generation.error_message


@pytest.mark.usefixtures("queued_tasks")
def test_missing_api_key_fails_the_generation_and_raises(
    make_user: Any, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    generation = pending(make_user())
    with override_settings(AIGEN={"BASE_URL": emulator.base_url}), \
            pytest.raises(ImproperlyConfigured, match="API_KEY"):
        services.run_generation(str(generation.pk))
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "configuration_error"
    assert emulator.requests() == []
