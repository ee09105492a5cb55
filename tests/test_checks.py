"""System checks name the setting to fix."""

from __future__ import annotations

import pytest
from django.test import override_settings

from aigen_app.checks import check_aigen_settings


def installed_apps_without(app: str) -> list[str]:
    """INSTALLED_APPS less ``app``, and less procrastinate's app (installed on PostgreSQL):
    its ``ready()`` can't run twice in one process (procrastinate 3.10 registers its
    built-in tasks again and raises TaskAlreadyRegistered), and an override runs it."""
    from django.conf import settings

    return [name for name in settings.INSTALLED_APPS
            if name not in (app, "procrastinate.contrib.django")]


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
    with override_settings(INSTALLED_APPS=installed_apps_without("rest_framework.authtoken")):
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


def host_ids(**overrides: object) -> set[str]:
    from aigen_app.checks import check_host_settings

    with override_settings(**overrides):
        return {message.id or "" for message in check_host_settings()}


def test_swagger_ui_from_a_cdn_warns() -> None:
    assert "aigen.W007" not in host_ids()
    apps = installed_apps_without("drf_spectacular_sidecar")
    assert "aigen.W007" in host_ids(INSTALLED_APPS=apps)


@pytest.mark.parametrize(("media_root", "options", "warned"), [
    ("", {}, True),                                   # startproject's default
    ("media", {}, True),
    ("/srv/site/media", {}, False),
    ("", {"location": "/srv/site/media"}, False),
])
def test_file_storage_without_an_absolute_location_warns(
        media_root: str, options: dict[str, str], warned: bool) -> None:
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                            "OPTIONS": options},
                "staticfiles": {"BACKEND":
                                "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    assert ("aigen.W008" in host_ids(MEDIA_ROOT=media_root, STORAGES=storages)) is warned


def test_every_key_has_a_rule_and_every_default_passes_it() -> None:
    from aigen_app.conf import DEFAULTS, RULES, invalid_settings

    assert set(RULES) == set(DEFAULTS)
    assert invalid_settings(DEFAULTS) == []


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("USER_DAILY_LIMIT", "fifty", "None or an integer of at least 0"),
    ("USER_DAILY_LIMIT", True, "None or an integer of at least 0"),
    ("MAX_RETRIES", -1, "an integer of at least 0"),
    ("TIMEOUT", "120", "a number greater than 0"),
    ("API_PAGE_SIZE", 0, "an integer of at least 1"),
    ("DATABASE_THREADS", 0, "an integer of at least 1"),
    ("API_CREATE_RATE", "30 per minute", '"30/minute"'),
    ("API_IMAGE_DELIVERY", "proxy", "'auto', 'stream', 'redirect'"),
    ("BASE_URL", "localhost:8000", "http(s) URL"),
    ("SAFETY_SETTINGS", [{"category": "HARM_CATEGORY_HARASSMENT"}], "threshold"),
    ("REQUESTS_PER_MINUTE", 0.5, "None or an integer of at least 1"),
])
def test_a_wrong_type_or_range_is_an_error_naming_the_key_and_the_expected_value(
    key: str, value: object, expected: str
) -> None:
    with override_settings(AIGEN={"API_KEY": "k", key: value}, DEBUG=True):
        (message,) = check_aigen_settings()

    assert message.id == "aigen.E003"
    assert f"AIGEN[{key!r}]" in message.msg and expected in message.msg


def test_manage_py_check_fails_on_a_mistyped_setting() -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with override_settings(AIGEN={"API_KEY": "k", "USER_DAILY_LIMIT": "fifty"}), \
            pytest.raises(SystemCheckError, match=r"USER_DAILY_LIMIT.*'fifty'.*integer"):
        call_command("check")


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
