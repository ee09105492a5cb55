"""The app's settings: one ``AIGEN`` dict in the host project's settings.

Read lazily through ``aigen_settings.NAME`` so ``override_settings(AIGEN=...)`` works;
unknown keys are rejected with a message naming the key, because a misspelt setting
that silently falls back to its default is worse than a crash at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # Gemini API key. None falls back to the env vars AI_API_KEY (when MODEL is a Gemini
    # model), GEMINI_API_KEY, GOOGLE_API_KEY (in that order).
    "API_KEY": None,
    # Model id; it picks the provider (docs/providers.md). None falls back to env
    # AI_MODEL, then the client's default model.
    "MODEL": None,
    # Gemini API base URL. None falls back to env AI_BASE_URL (when MODEL is a Gemini
    # model), then Google's v1beta endpoint.
    "BASE_URL": None,
    # OpenAI API key and base URL. None falls back to env AI_API_KEY / AI_BASE_URL (when
    # MODEL is an OpenAI model), then OPENAI_API_KEY / OPENAI_BASE_URL, then
    # https://api.openai.com/v1 for the URL.
    "OPENAI_API_KEY": None,
    "OPENAI_BASE_URL": None,
    # Seconds allowed for one HTTP attempt.
    "TIMEOUT": 120.0,
    # Retries after the first attempt (on 408/429/5xx, timeouts, connection errors).
    "MAX_RETRIES": 3,
    # The longest server-requested wait the client sleeps; longer waits raise
    # RateLimitError at once so the caller can reschedule.
    "MAX_RETRY_WAIT": 30.0,
    # Seconds allowed for a whole call, all attempts and waits included.
    "DEADLINE": 300.0,
    # Proactive client-side limits per model (None: no limit).
    "REQUESTS_PER_MINUTE": None,
    "MAX_IN_FLIGHT": None,
    # Alias in settings.CACHES where the limits above and 429 cooldowns are shared by
    # every process using that cache (Redis: every machine). None keeps them per process.
    "LIMITER_CACHE": None,
    # Constraints sent as systemInstruction. None: the built-in text; "" sends none.
    "SYSTEM_INSTRUCTION": None,
    # safetySettings sent with every request: list of {"category", "threshold"}.
    "SAFETY_SETTINGS": None,
    # Storage alias (a key of settings.STORAGES) for images and assets.
    "STORAGE": "default",
    # Task backend alias (a key of settings.TASKS) used to run generations.
    "TASK_BACKEND": "default",
    # Queue name used to enqueue generations.
    "TASK_QUEUE": "default",
    # Seconds after which a running generation counts as stuck (aigen_recover).
    "GENERATION_DEADLINE": 900.0,
    # Task runs per generation before it fails for good: runs that crashed or used the
    # API up. A deferral past a wait longer than MAX_RETRY_WAIT does not count.
    "TASK_MAX_ATTEMPTS": 5,
    # Threads (each with its own database connection) for the database steps of the
    # runs a worker awaits on its event loop (procrastinate): per worker process.
    "DATABASE_THREADS": 4,
    # Generations a user may start per day (None: unlimited). Days are calendar days in
    # settings.TIME_ZONE; retries of a generation do not count again.
    "USER_DAILY_LIMIT": None,
    # Largest reference image or media asset accepted, in bytes: the API takes inline
    # images only, and every byte is stored and re-sent with each refinement.
    "MAX_IMAGE_BYTES": 20 * 1024 * 1024,
    # Seconds to defer a rate-limited generation when the API names no wait.
    "RATE_LIMIT_DEFAULT_WAIT": 60.0,
    # Largest pixel count (width x height) an uploaded image may declare. Checked before
    # any pixel is decoded, so a small file that claims huge dimensions (a decompression
    # bomb) costs nothing; 50 MP admits a 48 MP phone photo.
    "MAX_IMAGE_PIXELS": 50_000_000,
    # REST API: rate of creating requests (generations, refinements, retries, uploads)
    # per user, in DRF's "number/period" form. The host project's
    # REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["aigen_create"] wins when set; None here
    # (and no host rate) disables the throttle.
    "API_CREATE_RATE": "30/minute",
    # REST API: seconds a 202 Accepted response asks clients to wait before polling.
    "API_RETRY_AFTER": 2,
    # REST API page size, and the most a client may ask for with ?page_size=.
    "API_PAGE_SIZE": 20,
    "API_MAX_PAGE_SIZE": 100,
    # REST API listings count matching rows up to this many; past it ``count`` is null
    # (``next`` still tells whether more follow), so a page costs the same whatever the
    # rows behind it. None counts every row (a full index scan per page).
    "API_COUNT_LIMIT": 10_000,
    # REST API image delivery: "stream" sends the file through Django, "redirect" answers
    # 302 to the storage's own (short-lived, signed on S3) URL, "auto" streams files of a
    # local storage (one with ``path()``) and redirects otherwise.
    "API_IMAGE_DELIVERY": "auto",
    # Prices the admin's usage page estimates cost with: model id -> {"input": USD per
    # 1M prompt tokens, "output": USD per 1M output tokens (candidates and thinking)}.
    # A model is matched exactly, else by the longest id it starts with. Defaults as
    # published for the paid tier (sources and dates: docs/admin.md); set
    # your own, e.g. for the Batch API's half price. Never a bill: an estimate.
    "PRICES": {
        "gemini-nano-banana-2.1": {"input": 0.50, "output": 30.00},
        "gemini-3.1-flash-image": {"input": 0.50, "output": 60.00},
        "gemini-3-pro-image": {"input": 2.00, "output": 120.00},
        "gemini-2.5-flash-image": {"input": 0.30, "output": 30.00},
    },
}


# What each key takes, checked at start-up by ``checks.check_aigen_settings`` (an Error
# naming the key and this description). One owner: code reading a setting relies on it.
DELIVERIES = ("auto", "stream", "redirect")
THROTTLE_RATE = re.compile(r"^[1-9][0-9]*/(?:s|sec|second|m|min|minute|h|hour|d|day)$")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(minimum: int) -> Callable[[Any], bool]:
    return lambda value: (isinstance(value, int) and not isinstance(value, bool)
                          and value >= minimum)


def _optional(rule: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or rule(value)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _prices(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(model, str) and isinstance(price, dict) and set(price) == {"input", "output"}
        and all(_number(v) and v >= 0 for v in price.values())
        for model, price in value.items())


def _safety_settings(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, dict) and set(item) == {"category", "threshold"}
        and all(isinstance(v, str) for v in item.values()) for item in value)


POSITIVE_NUMBER = ("a number greater than 0", lambda v: _number(v) and v > 0)
HTTP_URL = ("None or an http(s) URL", _optional(
    lambda v: isinstance(v, str) and v.startswith(("http://", "https://"))))
RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "API_KEY": ("None or a non-empty string", _optional(_text)),
    "MODEL": ("None or a model id (a non-empty string)", _optional(_text)),
    "BASE_URL": HTTP_URL,
    "OPENAI_API_KEY": ("None or a non-empty string", _optional(_text)),
    "OPENAI_BASE_URL": HTTP_URL,
    "TIMEOUT": POSITIVE_NUMBER,
    "MAX_RETRIES": ("an integer of at least 0", _integer(0)),
    "MAX_RETRY_WAIT": POSITIVE_NUMBER,
    "DEADLINE": POSITIVE_NUMBER,
    "REQUESTS_PER_MINUTE": ("None or an integer of at least 1", _optional(_integer(1))),
    "MAX_IN_FLIGHT": ("None or an integer of at least 1", _optional(_integer(1))),
    "LIMITER_CACHE": ("None or an alias of settings.CACHES", _optional(_text)),
    "SYSTEM_INSTRUCTION": ("None or a string", _optional(lambda v: isinstance(v, str))),
    "SAFETY_SETTINGS": ('None or a list of {"category": str, "threshold": str}',
                        _optional(_safety_settings)),
    "STORAGE": ("an alias of settings.STORAGES", _text),
    "TASK_BACKEND": ("an alias of settings.TASKS", _text),
    "TASK_QUEUE": ("a queue name (a non-empty string)", _text),
    "GENERATION_DEADLINE": POSITIVE_NUMBER,
    "TASK_MAX_ATTEMPTS": ("an integer of at least 1", _integer(1)),
    "DATABASE_THREADS": ("an integer of at least 1", _integer(1)),
    "USER_DAILY_LIMIT": ("None or an integer of at least 0", _optional(_integer(0))),
    "MAX_IMAGE_BYTES": ("an integer of at least 1", _integer(1)),
    "RATE_LIMIT_DEFAULT_WAIT": POSITIVE_NUMBER,
    "MAX_IMAGE_PIXELS": ("an integer of at least 1", _integer(1)),
    "API_CREATE_RATE": ('None or a rate such as "30/minute" (per s, m, h or d)',
                        _optional(lambda v: isinstance(v, str)
                                  and THROTTLE_RATE.match(v) is not None)),
    "API_RETRY_AFTER": ("an integer of at least 0", _integer(0)),
    "API_PAGE_SIZE": ("an integer of at least 1", _integer(1)),
    "API_MAX_PAGE_SIZE": ("an integer of at least 1", _integer(1)),
    "API_COUNT_LIMIT": ("None or an integer of at least 1", _optional(_integer(1))),
    "PRICES": ('a dict of model id -> {"input": USD, "output": USD} per 1M tokens (>= 0)',
               _prices),
    "API_IMAGE_DELIVERY": (f"one of {', '.join(map(repr, DELIVERIES))}",
                           lambda v: v in DELIVERIES),
}


def invalid_settings(conf: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, what it takes) for each value of ``conf`` its rule refuses."""
    return [(key, expected) for key, (expected, valid) in RULES.items()
            if key in conf and not valid(conf[key])]


class AigenSettings:
    """Attribute access to ``settings.AIGEN`` merged over ``DEFAULTS``."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._cache is None:
            user = getattr(settings, "AIGEN", None) or {}
            if not isinstance(user, dict):
                raise ImproperlyConfigured("settings.AIGEN must be a dict.")
            unknown = sorted(set(user) - set(DEFAULTS))
            if unknown:
                raise ImproperlyConfigured(
                    f"Unknown key(s) in settings.AIGEN: {', '.join(unknown)}. "
                    f"Valid keys: {', '.join(sorted(DEFAULTS))}."
                )
            self._cache = {**DEFAULTS, **user}
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid aigen setting: {name!r}")
        return self._load()[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._load())

    def reload(self) -> None:
        self._cache = None


aigen_settings = AigenSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "AIGEN":
        aigen_settings.reload()
