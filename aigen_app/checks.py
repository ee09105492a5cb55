"""System checks: configuration mistakes surface at start-up, naming the key to fix."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

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
    for key in ("TIMEOUT", "MAX_RETRY_WAIT", "DEADLINE", "GENERATION_DEADLINE"):
        value = conf[key]
        if not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f"AIGEN[{key!r}] must be a positive number.", id="aigen.E003"))
    return errors
