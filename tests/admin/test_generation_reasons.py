"""Why a generation failed or was blocked: a short line in the list, the whole message on
its page, and a filter by error code whose choices cost no query."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from aigen_app.admin.reasons import known_error_codes
from aigen_app.models import Generation, GenerationStatus

from .helpers import admin_url, field, result_rows

pytestmark = pytest.mark.django_db

SERVICES = Path(__file__).resolve().parents[2] / "aigen_app" / "services"


def test_list_rows_say_why_they_failed_or_were_blocked(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    failed = make_generation("A fox", fault="bad_request")
    blocked = make_generation("A wolf", fault="block_prompt")
    done = make_generation("A hare")
    assert failed.status == GenerationStatus.FAILED

    rows = result_rows(admin_client.get(admin_url("generation")).content.decode())

    assert f'<span class="aigen-reason">{failed.error_code}: ' in rows[str(failed.pk)]
    assert '<span class="aigen-reason">Blocked: SAFETY</span>' in rows[str(blocked.pk)]
    assert "aigen-reason" not in rows[str(done.pk)]


def test_the_page_shows_the_whole_message_finish_and_block_reason(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    failed = make_generation("A fox", fault="bad_request")
    blocked = make_generation("A wolf", fault="block_prompt")

    why = field(admin_client.get(admin_url("generation", "change", failed.pk))
                .content.decode(), "why")
    assert f"<dt>Error code</dt><dd>{failed.error_code}</dd>" in why
    assert failed.error_message and failed.error_message[:40] in why
    blocked_why = field(admin_client.get(admin_url("generation", "change", blocked.pk))
                        .content.decode(), "why")
    assert "<dt>Block reason</dt><dd>SAFETY</dd>" in blocked_why
    assert "<dt>Error code</dt><dd>content_policy</dd>" in blocked_why


def test_filter_by_error_code_offers_known_codes_without_scanning_the_table(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    failed = make_generation("A fox", fault="bad_request")
    blocked = make_generation("A wolf", fault="block_prompt")

    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get(admin_url("generation")).content.decode()
    assert "?error_code=content_policy" in html and "?error_code=worker_lost" in html
    assert not [q["sql"] for q in queries.captured_queries
                if "DISTINCT" in q["sql"] and "error_code" in q["sql"]]

    rows = result_rows(admin_client.get(admin_url("generation"),
                                        {"error_code": "content_policy"}).content.decode())
    assert list(rows) == [str(blocked.pk)]
    rows = result_rows(admin_client.get(admin_url("generation"),
                                        {"error_code": failed.error_code}).content.decode())
    assert list(rows) == [str(failed.pk)]


def test_every_code_the_services_record_is_a_known_code() -> None:
    written = set()
    for module in SERVICES.glob("*.py"):
        written |= set(re.findall(r'error_code="(\w+)"', module.read_text()))
    assert written, "no error_code literal found: the check would prove nothing"
    assert written <= set(known_error_codes())
    assert {"content_policy", "quota_exceeded", "rate_limited", "timeout"} <= set(
        known_error_codes())
