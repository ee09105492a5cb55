"""The model id picks the provider; each provider is configured on its own; what one
provider cannot take is refused before anything is sent."""

from __future__ import annotations

import asyncio

import pytest
import respx

from aigen_app.client import (
    AIGenerationClient,
    ConfigurationError,
    GenerationRequest,
    ModelNotFoundError,
    ProviderConfig,
    UnsupportedFeatureError,
    capabilities,
    provider_of,
)

from .helpers import API_KEY, BASE_URL, MODEL, URL, ok


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY",
                 "AI_MODEL", "AI_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("model", "provider"), [
    ("gemini-nano-banana-2.1", "gemini"),
    ("gemini-9-image", "gemini"),  # unknown but Gemini-looking: sent to Gemini as given
    ("gpt-image-2", "openai"),
    ("gpt-image-1.5", "openai"),
    ("gpt-image-9", "openai"),
    ("chatgpt-image-latest", "openai"),
    ("dall-e-3", "openai"),
])
def test_the_model_id_picks_the_provider(model: str, provider: str) -> None:
    assert provider_of(model) == provider


def test_an_id_no_provider_serves_names_the_providers_it_could_belong_to() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        provider_of("imagen-4")
    message = str(info.value)
    assert "'imagen-4'" in message
    assert "Gemini ids start with 'gemini-'" in message
    assert "OpenAI ids start with 'gpt-image-'" in message


def test_capabilities_are_provider_neutral() -> None:
    gemini, openai = capabilities("gemini-2.5-flash-image"), capabilities("gpt-image-2")
    assert (gemini.provider, gemini.grounding, gemini.max_input_images) == ("gemini", False, 3)
    assert (openai.provider, openai.grounding, openai.max_input_images) == ("openai", False, 16)
    assert gemini.replays_history and not openai.replays_history


def test_a_default_model_no_provider_serves_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="imagen-4"):
        AIGenerationClient(api_key="k", model="imagen-4")


def test_an_unknown_provider_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="anthropic"):
        AIGenerationClient(api_key="k", providers={"anthropic": ProviderConfig("k")})


def test_the_key_comes_from_the_providers_mapping_or_its_own_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = AIGenerationClient(model=MODEL, providers={"gemini": ProviderConfig("g-key")})
    assert client.configured_providers() == ["gemini"]
    monkeypatch.setenv("GEMINI_API_KEY", "env-key")
    assert AIGenerationClient(model=MODEL).configured_providers() == ["gemini"]


def test_ai_api_key_belongs_to_the_default_models_provider(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_API_KEY", "generic")
    client = AIGenerationClient(model=MODEL, base_url=BASE_URL)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(return_value=ok(width=64, height=64))
        asyncio.run(client.generate(GenerationRequest("x", 64, 64)))
    assert route.calls.last.request.headers["x-goog-api-key"] == "generic"


def test_gemini_refuses_openai_options_before_sending() -> None:
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL).mock(return_value=ok())
        with pytest.raises(UnsupportedFeatureError, match="quality"):
            asyncio.run(client.generate(
                GenerationRequest("x", 64, 64, options={"quality": "high"})))
    assert not route.called
