"""Safe errors: every error a client sees has a stable code and a message written for
it; the cause (file paths, SQL, tracebacks) goes to the server's log with the
generation id. Every response of the API tests is also checked by the autouse fixture
in ``tests/api/conftest.py``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.services.errors import FAILURE_MESSAGES
from aigen_app.signals import generation_started
from tests.api.helpers import pending_generation
from tests.api.leaks import internal_details
from tests.support import Media, png_bytes

pytestmark = pytest.mark.django_db
URL = "/api/generations/"
SECRET_PATH = "/srv/aigen/media/aigen/references/2026/12/secret.png"


@pytest.mark.parametrize("body", [
    f"FileNotFoundError: [Errno 2] No such file or directory: '{SECRET_PATH}'",
    'UNIQUE constraint failed: aigen_app_generation.idempotency_key',
    'duplicate key value violates unique constraint "aigen_gen_key"\nDETAIL: Key (x)=(1)',
    'Traceback (most recent call last):\n  File "/x.py", line 3, in <module>',
    'relation does not exist LINE 1: SELECT "id" FROM "aigen_app_generation"',
])
def test_the_checker_recognises_internal_details(body: str) -> None:
    assert internal_details(body)


def test_clean_bodies_pass_the_checker() -> None:
    assert internal_details('{"code": "not_found", "message": "Not found.", '
                            '"url": "http://testserver/api/generations/1/image/"}') == []


def test_an_unexpected_exception_answers_json_500_and_logs_the_cause(
    api: APIClient, alice: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    generation = pending_generation(alice)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError(f'no such table: aigen_app_generation ({SECRET_PATH})')

    monkeypatch.setattr(services, "cancel_generation", broken)
    response = api.post(f"{URL}{generation.pk}/cancel/")

    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "message": response.json()["message"]}
    assert any(f"{URL}{generation.pk}/cancel/" in record.getMessage() and record.exc_info
               and SECRET_PATH in str(record.exc_info[1]) for record in caplog.records)


def test_a_deleted_reference_image_fails_the_generation_with_a_clear_code(
    api: APIClient, alice: Any, aigen_emulator: EmulatorServer, media_storage: Media,
    caplog: pytest.LogCaptureFixture, queued_tasks: Any,
) -> None:
    generation = services.create_generation("A fox", owner=alice, width=64, height=48,
                                            reference_image=png_bytes())
    name = generation.reference_image.name or ""
    media_storage.delete(name)

    assert services.run_generation(str(generation.pk)) == "failed"

    error = api.get(f"{URL}{generation.pk}/").json()["error"]
    assert error == {"code": "input_missing", "message": FAILURE_MESSAGES["input_missing"]}
    assert aigen_emulator.requests() == []
    logged = [r for r in caplog.records if str(generation.pk) in r.getMessage()]
    assert any(name in r.getMessage() for r in logged)
    assert not any(r.exc_info for r in logged), "a missing input is no crash"


def test_an_internal_failure_keeps_its_cause_in_the_log(
    api: APIClient, alice: Any, aigen_emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    generation = pending_generation(alice)

    def broken(**kwargs: Any) -> None:
        raise OSError(f"[Errno 13] Permission denied: '{SECRET_PATH}'")

    generation_started.connect(broken, weak=False)
    try:
        with pytest.raises(OSError):
            services.run_generation(str(generation.pk))
    finally:
        generation_started.disconnect(broken)

    error = api.get(f"{URL}{generation.pk}/").json()["error"]
    assert error == {"code": "internal_error", "message": FAILURE_MESSAGES["internal_error"]}
    assert any(str(generation.pk) in r.getMessage() and r.exc_info for r in caplog.records)
