"""System checks: configuration mistakes surface at start-up, naming the key to fix."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .client.client import API_KEY_ENV_VARS
from .conf import aigen_settings


@register()
def check_aigen_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    try:
        conf = aigen_settings.as_dict()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="aigen.E001")]
    storages = getattr(settings, "STORAGES", {})
    if conf["STORAGE"] not in storages:
        errors.append(
            Error(
                f"AIGEN['STORAGE'] is {conf['STORAGE']!r}, which is not a key of "
                "settings.STORAGES.",
                hint=f"Add it to STORAGES or set AIGEN['STORAGE'] to one of {sorted(storages)}.",
                id="aigen.E002",
            )
        )
    tasks = getattr(settings, "TASKS", None) or {"default": {}}
    if conf["TASK_BACKEND"] not in tasks:
        errors.append(
            Error(
                f"AIGEN['TASK_BACKEND'] is {conf['TASK_BACKEND']!r}, which is not a key of "
                "settings.TASKS.",
                hint=f"Add it to TASKS or set AIGEN['TASK_BACKEND'] to one of {sorted(tasks)}.",
                id="aigen.E004",
            )
        )
    if not conf["API_KEY"] and not any(os.environ.get(v) for v in API_KEY_ENV_VARS):
        errors.append(
            Warning(
                "No Gemini API key: generations will fail with 'configuration_error'.",
                hint="Set AIGEN['API_KEY'] or the AI_API_KEY environment variable "
                "(manage.py generate falls back to the bundled emulator).",
                id="aigen.W001",
            )
        )
    errors.extend(_check_limiter_cache(conf["LIMITER_CACHE"]))
    for key in ("TIMEOUT", "MAX_RETRY_WAIT", "DEADLINE", "GENERATION_DEADLINE"):
        value = conf[key]
        if not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f"AIGEN[{key!r}] must be a positive number.", id="aigen.E003"))
    return errors


# Caches whose add() is not atomic across processes, or that keep nothing at all.
_PROCESS_LOCAL_CACHES = ("LocMemCache", "FileBasedCache")


def _check_limiter_cache(alias: str | None) -> list[CheckMessage]:
    if alias is None:
        return []
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [Error(
            f"AIGEN['LIMITER_CACHE'] is {alias!r}, which is not a key of settings.CACHES.",
            hint=f"Add it to CACHES or set AIGEN['LIMITER_CACHE'] to one of {sorted(caches)} "
                 "(None keeps the limiter per process).",
            id="aigen.E005",
        )]
    backend = str(caches[alias].get("BACKEND", ""))
    if backend.endswith("DummyCache"):
        return [Error(
            f"AIGEN['LIMITER_CACHE'] names {alias!r}, a DummyCache: it keeps nothing, so "
            "nothing would be limited.",
            hint="Point it at a Redis or Memcached cache, or set it to None.", id="aigen.E006",
        )]
    if backend.endswith(_PROCESS_LOCAL_CACHES):
        return [Warning(
            f"AIGEN['LIMITER_CACHE'] names {alias!r} ({backend.rsplit('.', 1)[-1]}), which "
            "is not shared safely between processes: each process limits only itself.",
            hint="Use Redis (django.core.cache.backends.redis.RedisCache) or Memcached.",
            id="aigen.W002",
        )]
    return []
