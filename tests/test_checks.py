"""System checks name the setting to fix."""

from __future__ import annotations

import pytest
from django.test import override_settings

from aigen_app.checks import check_aigen_settings


def ids(**aigen: object) -> set[str]:
    with override_settings(AIGEN=aigen):
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
