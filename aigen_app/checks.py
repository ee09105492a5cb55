"""System checks: configuration mistakes surface at start-up, naming the key to fix."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .client import ModelNotFoundError
from .client.catalog import PROVIDER_LABELS, provider_of
from .client.client import PROVIDER_CLASSES, provider_key
from .client_factory import default_model_name, provider_configs
from .conf import DEFAULTS, aigen_settings, invalid_settings


@register()
def check_aigen_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    try:
        conf = aigen_settings.as_dict()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="aigen.E001")]
    storages = getattr(settings, "STORAGES", {})
    errors.extend(_unknown_alias("STORAGE", conf["STORAGE"], "STORAGES", storages, "E002"))
    tasks = getattr(settings, "TASKS", None) or {"default": {}}
    errors.extend(_unknown_alias("TASK_BACKEND", conf["TASK_BACKEND"], "TASKS", tasks, "E004"))
    errors.extend(check_providers(conf))
    errors.extend(_check_limiter_cache(conf["LIMITER_CACHE"]))
    errors.extend(_check_task_backend(tasks.get(conf["TASK_BACKEND"])))
    errors.extend(_check_signed_urls(storages.get(conf["STORAGE"])))
    errors.extend(_check_token_app())
    errors.extend(check_sqlite_locking(settings.DATABASES))
    errors.extend(
        Error(f"AIGEN[{key!r}] is {conf[key]!r}; it must be {expected}.",
              hint=f"Fix AIGEN[{key!r}] in your settings (default: {DEFAULTS[key]!r}).",
              id="aigen.E003")
        for key, expected in invalid_settings(conf))
    return errors


# The AIGEN key holding each provider's API key.
PROVIDER_KEY_SETTINGS = {"gemini": "API_KEY", "openai": "OPENAI_API_KEY"}


def check_providers(conf: Mapping[str, Any]) -> list[CheckMessage]:
    """An error for a default model no provider serves; a warning, saying which
    providers are configured, when the default model's provider has no key."""
    model = default_model_name(conf["MODEL"])
    try:
        default = provider_of(model)
    except ModelNotFoundError as exc:
        return [Error(f"AIGEN['MODEL'] (or AI_MODEL): {exc}.", id="aigen.E007")]
    configs = provider_configs()
    configured = [
        name for name in PROVIDER_CLASSES
        if provider_key(name, configs.get(name), serves_default_model=name == default)
    ]
    if default in configured:
        return []
    setting = PROVIDER_KEY_SETTINGS[default]
    have = ", ".join(PROVIDER_LABELS[name] for name in configured) or "none"
    return [Warning(
        f"No {PROVIDER_LABELS[default]} API key for the default model {model}: its "
        f"generations will fail with 'configuration_error'. Providers with a key: {have}.",
        hint=f"Set AIGEN[{setting!r}] or the AI_API_KEY environment variable "
        "(manage.py generate falls back to the bundled emulator).",
        id="aigen.W001",
    )]


def _unknown_alias(key: str, alias: str, setting: str, aliases: Mapping[str, Any],
                   number: str, after_hint: str = "") -> list[CheckMessage]:
    """An error when ``AIGEN[key]`` names no entry of ``settings.<setting>``."""
    if alias in aliases:
        return []
    return [Error(
        f"AIGEN[{key!r}] is {alias!r}, which is not a key of settings.{setting}.",
        hint=f"Add it to {setting} or set AIGEN[{key!r}] to one of {sorted(aliases)}"
             f"{after_hint}.",
        id=f"aigen.{number}",
    )]


# Caches whose add() is not atomic across processes, or that keep nothing at all.
_PROCESS_LOCAL_CACHES = ("LocMemCache", "FileBasedCache")


def _check_limiter_cache(alias: str | None) -> list[CheckMessage]:
    if alias is None:
        return []
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return _unknown_alias("LIMITER_CACHE", alias, "CACHES", caches, "E005",
                              " (None keeps the limiter per process)")
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


IMMEDIATE_BACKENDS = frozenset({
    "django.tasks.backends.immediate.ImmediateBackend",
    "django_tasks.backends.immediate.ImmediateBackend",
})
# Longer than this, an owner's image URL is a link to share rather than to load (seconds).
SIGNED_URL_MAX_AGE = 3600


def _check_task_backend(backend: dict[str, Any] | None) -> list[CheckMessage]:
    """The immediate backend (Django's default) runs a 10-120 s generation inside the
    request that starts it: fine for a demo, a worker timeout in production."""
    path = (backend or {}).get("BACKEND", "django.tasks.backends.immediate.ImmediateBackend")
    if path not in IMMEDIATE_BACKENDS or settings.DEBUG:
        return []
    return [Warning(
        "Generations run inside the request that starts them (the immediate task "
        "backend): a web worker is blocked for the whole generation and may be killed by "
        "its timeout mid-call.",
        hint="Use a worker-backed TASKS backend, e.g. django_tasks_db.DatabaseBackend "
        "with manage.py db_worker (docs/operations.md#background-work).",
        id="aigen.W003",
    )]


def _check_signed_urls(storage: dict[str, Any] | None) -> list[CheckMessage]:
    """Owners get their images through S3 signed URLs: unsigned or long-lived ones
    would let anyone holding a link read it."""
    if not storage or "s3" not in str(storage.get("BACKEND", "")).lower():
        return []
    options = storage.get("OPTIONS") or {}
    if options.get("querystring_auth", True) is False:
        problem = "querystring_auth is False, so image URLs are public and never expire"
    elif int(options.get("querystring_expire", 3600)) > SIGNED_URL_MAX_AGE:
        problem = (f"querystring_expire is {options['querystring_expire']} s, so an image "
                   "URL stays valid long after its owner loaded it")
    else:
        return []
    return [Warning(
        f"The storage AIGEN['STORAGE'] names serves images with {problem}.",
        hint="Set OPTIONS querystring_auth=True and querystring_expire to a few minutes "
        "(the production settings in docs/operations.md use 300).",
        id="aigen.W004",
    )]


def _check_token_app() -> list[CheckMessage]:
    """The REST API accepts DRF tokens, whose model lives in rest_framework.authtoken."""
    apps = settings.INSTALLED_APPS
    if "rest_framework" not in apps or "rest_framework.authtoken" in apps:
        return []
    return [Warning(
        "The aigen REST API authenticates with DRF tokens, but rest_framework.authtoken "
        "is not in INSTALLED_APPS: a request with a token header would fail.",
        hint="Add 'rest_framework.authtoken' to INSTALLED_APPS and run migrate.",
        id="aigen.W005",
    )]


def check_sqlite_locking(databases: Mapping[str, Mapping[str, Any]]) -> list[CheckMessage]:
    """On SQLite, row locks do nothing: refinements of one conversation and the daily
    quota serialize only because an IMMEDIATE transaction takes the write lock at once.
    With the default (DEFERRED) mode, concurrent writers fail with "database is locked"
    when they upgrade their lock."""
    found: list[CheckMessage] = []
    for alias, database in databases.items():
        if database.get("ENGINE") != "django.db.backends.sqlite3":
            continue
        options = database.get("OPTIONS") or {}
        if str(options.get("transaction_mode", "")).upper() != "IMMEDIATE":
            found.append(Warning(
                f"DATABASES[{alias!r}] is SQLite without transaction_mode 'IMMEDIATE': "
                "concurrent refinements and daily-quota checks can fail with 'database "
                "is locked'.",
                hint='Set OPTIONS {"transaction_mode": "IMMEDIATE", "timeout": 20} '
                "(or use PostgreSQL for several workers).",
                id="aigen.W006",
            ))
    return found


@register()
def check_host_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Host settings that break something a user would not see at once."""
    try:
        alias = aigen_settings.STORAGE
    except ImproperlyConfigured:
        return []  # check_aigen_settings reports it
    storage = getattr(settings, "STORAGES", {}).get(alias)
    return [*_check_swagger_files(), *_check_media_root(alias, storage)]


def _check_swagger_files() -> list[CheckMessage]:
    """Swagger UI (``api/docs/``) loads its files from drf-spectacular-sidecar when it is
    installed; without it, from the CDN the host's SWAGGER_UI_DIST names: a blank page
    offline or behind a strict Content-Security-Policy."""
    if "drf_spectacular" not in settings.INSTALLED_APPS:
        return []
    if "drf_spectacular_sidecar" in settings.INSTALLED_APPS:
        return []
    return [Warning(
        "Swagger UI (the API's docs/ page) will load its JavaScript and CSS from a CDN: "
        "drf_spectacular_sidecar is not in INSTALLED_APPS.",
        hint="pip install 'aigen[swagger]' and add 'drf_spectacular_sidecar' to "
        "INSTALLED_APPS; the page then serves them as static files.",
        id="aigen.W007",
    )]


def _check_media_root(alias: str, storage: dict[str, Any] | None) -> list[CheckMessage]:
    """A file-system storage without an absolute location writes images relative to
    whichever directory a process started in: the admin and the API then miss them."""
    if not storage or not str(storage.get("BACKEND", "")).endswith("FileSystemStorage"):
        return []
    location = (storage.get("OPTIONS") or {}).get("location") or settings.MEDIA_ROOT
    if location and os.path.isabs(location):
        return []
    return [Warning(
        f"STORAGES[{alias!r}] (AIGEN['STORAGE']) is a file-system storage without an "
        "absolute location: images are written relative to the directory each process "
        "starts in, and the admin and the API cannot find them from another.",
        hint='Set MEDIA_ROOT to an absolute path, e.g. MEDIA_ROOT = BASE_DIR / "media".',
        id="aigen.W008",
    )]
