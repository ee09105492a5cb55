"""The app's settings: one ``AIGEN`` dict in the host project's settings.

Read lazily through ``aigen_settings.NAME`` so ``override_settings(AIGEN=...)`` works;
unknown keys are rejected with a message naming the key, because a misspelt setting
that silently falls back to its default is worse than a crash at start-up.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # Gemini API key. None falls back to the env vars AI_API_KEY, GEMINI_API_KEY,
    # GOOGLE_API_KEY (in that order).
    "API_KEY": None,
    # Model id. None falls back to env AI_MODEL, then the client's default model.
    "MODEL": None,
    # API base URL. None falls back to env AI_BASE_URL, then Google's v1beta endpoint.
    "BASE_URL": None,
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
    # Task runs per generation before it fails for good (crashes, rate-limit deferrals).
    "TASK_MAX_ATTEMPTS": 5,
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
    # published for the paid tier (sources and dates: docs/admin-site-owners.md); set
    # your own, e.g. for the Batch API's half price. Never a bill: an estimate.
    "PRICES": {
        "gemini-nano-banana-2.1": {"input": 0.50, "output": 30.00},
        "gemini-3.1-flash-image": {"input": 0.50, "output": 60.00},
        "gemini-3-pro-image": {"input": 2.00, "output": 120.00},
        "gemini-2.5-flash-image": {"input": 0.30, "output": 30.00},
    },
}


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
