"""The client the Django side uses, built from settings.AIGEN."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from aigen_app import client_factory
from aigen_app.client import ConfigurationError, LocalRateLimiter


@pytest.fixture(autouse=True)
def _fresh_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "AI_MODEL", "AI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    client_factory.reset_client()


def test_client_is_built_from_settings_and_cached() -> None:
    aigen = {"API_KEY": "k", "MODEL": "gemini-3-pro-image", "BASE_URL": "http://127.0.0.1:9/v1beta",
             "TIMEOUT": 12, "MAX_RETRIES": 1, "MAX_RETRY_WAIT": 5, "DEADLINE": 40}
    with override_settings(AIGEN=aigen):
        client = client_factory.get_client()
        assert client_factory.get_client() is client
        assert client.model == "gemini-3-pro-image"
        assert client.base_url == "http://127.0.0.1:9/v1beta"
        assert (client.timeout, client.max_retries) == (12.0, 1)
        assert (client.max_retry_wait, client.deadline) == (5.0, 40.0)
        assert client.limiter is None
        assert client.system_instruction  # the built-in constraints
    with override_settings(AIGEN={**aigen, "MODEL": "gemini-3.1-flash-image"}):
        assert client_factory.get_client() is not client
        assert client_factory.get_client().model == "gemini-3.1-flash-image"


def test_limiter_instruction_and_safety_settings() -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    with override_settings(AIGEN={"API_KEY": "k", "REQUESTS_PER_MINUTE": 30,
                                  "MAX_IN_FLIGHT": 4, "SYSTEM_INSTRUCTION": "",
                                  "SAFETY_SETTINGS": safety}):
        client = client_factory.get_client()
    assert isinstance(client.limiter, LocalRateLimiter)
    assert (client.limiter.requests_per_minute, client.limiter.max_in_flight) == (30, 4)
    assert client.system_instruction is None
    assert client.safety_settings == safety
    with override_settings(AIGEN={"API_KEY": "k", "SYSTEM_INSTRUCTION": "Only cats."}):
        assert client_factory.get_client().system_instruction == "Only cats."


def test_missing_key_names_the_setting() -> None:
    with override_settings(AIGEN={}), \
            pytest.raises(ImproperlyConfigured, match=r"AIGEN\['API_KEY'\]") as raised:
        client_factory.get_client()
    assert isinstance(raised.value.__cause__, ConfigurationError)
