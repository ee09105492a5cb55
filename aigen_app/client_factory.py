"""The one ``AIGenerationClient`` the Django side uses, built from ``settings.AIGEN``.

Cached per process (the client keeps a connection pool per event loop, so one object
serves every thread and ``async_to_sync`` call) and rebuilt when ``AIGEN`` changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .client import (
    AIGenerationClient,
    ConfigurationError,
    LocalRateLimiter,
    ModelNotFoundError,
    ProviderConfig,
    RateLimiter,
    RetryEvent,
    provider_of,
)
from .client.client import default_model, provider_key
from .conf import aigen_settings
from .shared_limiter import SharedRateLimiter

_client: AIGenerationClient | None = None
# Clients ``serving`` put in place, innermost last.
_serving: list[AIGenerationClient] = []
_lock = threading.Lock()


def build_client(*, providers: Mapping[str, ProviderConfig] | None = None,
                 on_retry: Callable[[RetryEvent], None] | None = None) -> AIGenerationClient:
    """A new client from the current settings, with ``providers`` (keys and base URLs)
    replacing the settings' where given and ``on_retry`` called before each retry's
    wait. Raises ``ImproperlyConfigured`` naming the setting to fix when the client
    cannot be built (no API key...)."""
    conf = aigen_settings
    options: dict[str, Any] = {
        "providers": {**provider_configs(), **(providers or {})},
        "on_retry": on_retry,
        "max_retry_wait": float(conf.MAX_RETRY_WAIT),
        "deadline": float(conf.DEADLINE),
        "safety_settings": conf.SAFETY_SETTINGS,
    }
    limiter = build_limiter()
    if limiter is not None:
        options["limiter"] = limiter
    if conf.SYSTEM_INSTRUCTION is not None:
        # None keeps the client's built-in instruction; "" sends none.
        options["system_instruction"] = conf.SYSTEM_INSTRUCTION or None
    try:
        return AIGenerationClient(
            None, conf.MODEL, float(conf.TIMEOUT), int(conf.MAX_RETRIES), **options
        )
    except ConfigurationError as exc:
        raise ImproperlyConfigured(
            f"{exc} In a Django project, set settings.AIGEN['API_KEY'] (Gemini) or "
            "AIGEN['OPENAI_API_KEY'] (or the environment variable) and check AIGEN's "
            "MODEL, TIMEOUT, DEADLINE and MAX_RETRIES."
        ) from exc


def provider_configs() -> dict[str, ProviderConfig]:
    """Each provider's key and base URL from ``AIGEN`` (None: the environment's)."""
    conf = aigen_settings
    return {"gemini": ProviderConfig(conf.API_KEY, conf.BASE_URL),
            "openai": ProviderConfig(conf.OPENAI_API_KEY, conf.OPENAI_BASE_URL)}


def default_model_name(configured: str | None = None) -> str:
    """The model of a request that names none: ``AIGEN["MODEL"]`` (or ``configured``,
    a MODEL value being checked), else the client's own fallbacks (``AI_MODEL``, then
    its built-in default)."""
    return default_model(aigen_settings.MODEL if configured is None else configured)


def has_api_key(model: str) -> bool:
    """Whether the provider serving ``model`` has an API key (setting or environment),
    by the rules the client applies."""
    name = provider_of(model)
    try:
        serves_default = provider_of(default_model_name()) == name
    except ModelNotFoundError:  # a bad default model is the E007 check's to report
        serves_default = False
    return bool(provider_key(name, provider_configs().get(name),
                             serves_default_model=serves_default))


def build_limiter() -> RateLimiter | None:
    """The limiter the settings ask for: shared through ``AIGEN["LIMITER_CACHE"]`` when
    it names a cache (429 cooldowns are then shared even without limits), else
    process-local when a limit is set, else none."""
    conf = aigen_settings
    rpm, in_flight = conf.REQUESTS_PER_MINUTE, conf.MAX_IN_FLIGHT
    alias = conf.LIMITER_CACHE
    if alias is not None:
        if alias not in settings.CACHES:
            raise ImproperlyConfigured(
                f"AIGEN['LIMITER_CACHE'] is {alias!r}, which is not a key of "
                f"settings.CACHES (keys: {', '.join(sorted(settings.CACHES))})."
            )
        # A slot is held for one attempt at most (the client's TIMEOUT); the margin
        # covers a process stalled between its attempt and the release.
        return SharedRateLimiter(alias, requests_per_minute=rpm, max_in_flight=in_flight,
                                 lease=float(conf.TIMEOUT) + 60)
    if rpm is not None or in_flight is not None:
        return LocalRateLimiter(requests_per_minute=rpm, max_in_flight=in_flight)
    return None


def get_client() -> AIGenerationClient:
    """The process-wide client, built on first use (or the one ``serving`` put in
    place)."""
    global _client
    with _lock:
        if _serving:
            return _serving[-1]
        if _client is None:
            _client = build_client()
        return _client


@contextmanager
def serving(client: AIGenerationClient) -> Iterator[AIGenerationClient]:
    """Run this process's generations with ``client`` until the block ends, then with
    the settings' again: how ``manage.py generate`` applies its options (the bundled
    emulator, progress lines) without changing ``settings.AIGEN`` at run time."""
    with _lock:
        _serving.append(client)
    try:
        yield client
    finally:
        with _lock:
            _serving.remove(client)


def reset_client() -> None:
    """Forget the cached client; the next ``get_client()`` builds a new one. Its pools
    close with the event loops that opened them."""
    global _client
    with _lock:
        _client = None


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "AIGEN":
        reset_client()
