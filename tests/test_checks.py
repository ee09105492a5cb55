"""System checks name the setting to fix."""

from __future__ import annotations

import pytest
from django.test import override_settings

from aigen_app.checks import check_aigen_settings


def ids(**aigen: object) -> set[str]:
    # DEBUG on: the immediate task backend of the test settings is then not a warning.
    with override_settings(AIGEN=aigen, DEBUG=True):
        return {message.id or "" for message in check_aigen_settings()}


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_a_configured_project_passes() -> None:
    assert ids(API_KEY="k") == set()


def test_unknown_key_is_named() -> None:
    with override_settings(AIGEN={"API_KEYS": "k"}):
        (message,) = check_aigen_settings()
    assert message.id == "aigen.E001"
    assert "API_KEYS" in message.msg


def test_unknown_storage_alias() -> None:
    assert "aigen.E002" in ids(API_KEY="k", STORAGE="nowhere")


def test_non_positive_timeouts() -> None:
    assert "aigen.E003" in ids(API_KEY="k", TIMEOUT=0)


def test_unknown_task_backend_alias() -> None:
    assert "aigen.E004" in ids(API_KEY="k", TASK_BACKEND="nowhere")


def test_missing_api_key_warns() -> None:
    assert ids() == {"aigen.W001"}


def test_key_from_environment_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_API_KEY", "k")
    assert ids() == set()


IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
WORKER = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.mark.parametrize(("tasks", "debug", "warned"), [
    (IMMEDIATE, False, True), (IMMEDIATE, True, False), (WORKER, False, False),
])
def test_generations_inside_requests_warn_outside_debug(
    tasks: dict[str, object], debug: bool, warned: bool
) -> None:
    with override_settings(TASKS=tasks, DEBUG=debug, AIGEN={"API_KEY": "k"}):
        found = {message.id for message in check_aigen_settings()}
    assert ("aigen.W003" in found) is warned


@pytest.mark.parametrize(("options", "warned"), [
    ({"querystring_auth": False}, True),
    ({"querystring_expire": 7 * 24 * 3600}, True),
    ({"querystring_auth": True, "querystring_expire": 300}, False),
])
def test_public_or_long_lived_image_urls_warn(options: dict[str, object], warned: bool) -> None:
    storages = {"default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
                "staticfiles": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    with override_settings(STORAGES=storages):
        assert ("aigen.W004" in ids(API_KEY="k")) is warned


def test_token_authentication_needs_the_authtoken_app() -> None:
    from django.conf import settings

    apps = [app for app in settings.INSTALLED_APPS if app != "rest_framework.authtoken"]
    with override_settings(INSTALLED_APPS=apps):
        assert "aigen.W005" in ids(API_KEY="k")
    assert "aigen.W005" not in ids(API_KEY="k")


def test_sqlite_without_immediate_transactions_warns() -> None:
    from aigen_app.checks import check_sqlite_locking

    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
    [warning] = check_sqlite_locking({"default": {**sqlite, "OPTIONS": {"timeout": 20}}})
    assert warning.id == "aigen.W006" and "'default'" in warning.msg
    assert check_sqlite_locking(
        {"default": {**sqlite, "OPTIONS": {"transaction_mode": "IMMEDIATE"}},
         "pg": {"ENGINE": "django.db.backends.postgresql"}}) == []


def test_the_missing_key_warning_names_the_providers_that_have_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with override_settings(AIGEN={"OPENAI_API_KEY": "sk"}, DEBUG=True):
        (message,) = [m for m in check_aigen_settings() if m.id == "aigen.W001"]
    assert "No Gemini API key for the default model" in message.msg
    assert "Providers with a key: OpenAI." in message.msg
    # An OpenAI default model with its key configured: nothing to warn about.
    assert "aigen.W001" not in ids(MODEL="gpt-image-2", OPENAI_API_KEY="sk")
    with override_settings(AIGEN={"MODEL": "gpt-image-2", "API_KEY": "k"}, DEBUG=True):
        (message,) = [m for m in check_aigen_settings() if m.id == "aigen.W001"]
    assert "No OpenAI API key" in message.msg and "'OPENAI_API_KEY'" in str(message.hint)


def test_a_default_model_no_provider_serves() -> None:
    assert "aigen.E007" in ids(API_KEY="k", MODEL="imagen-4")
