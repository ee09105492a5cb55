"""The input rules of a generation request, each written once.

Every surface enforces these and no other copy: the services call the ``check_*``
functions below; the REST serializers and the admin's forms put ``VALIDATORS[field]`` on
their fields (DRF and Django forms run Django validators as they are, and
drf-spectacular writes their limits into the OpenAPI schema); ``manage.py generate``
passes its parsed values to ``check``. So a limit, its message and its code change here
and everywhere at once.

What a provider allows (the largest edge, the sizes and options a model takes) is the
client's rule (``aigen_app.client.catalog``): referred to here, never re-typed. The
lengths stored in a column are the column's (``Generation._meta``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core import validators
from django.core.exceptions import ValidationError

from ..client.catalog import MAX_EDGE
from ..client.openai_catalog import MAX_PROMPT_CHARS
from ..client_factory import default_model_name
from ..models import Generation
from .errors import InvalidInput

Validator = Callable[[Any], None]

# The API documents the seed as an int32 (what both providers' seeds fit in).
SEED_MIN, SEED_MAX = -(2**31), 2**31 - 1
# The longest prompt a provider reads (OpenAI's limit; Gemini counts tokens, and reads
# more): longer is refused before anything is stored or paid for.
MAX_PROMPT = MAX_PROMPT_CHARS
MAX_MODEL_NAME: int = Generation._meta.get_field("model").max_length  # type: ignore[assignment]
MAX_IDEMPOTENCY_KEY: int = Generation._meta.get_field(  # type: ignore[assignment]
    "idempotency_key").max_length


def _limited(kind: type[validators.BaseValidator], limit: int, message: str,
             code: str) -> validators.BaseValidator:
    validator = kind(limit, message)
    validator.code = code  # Django's validators take the message, not the code, as input
    return validator


def _not_blank(value: Any) -> None:
    if not str(value).strip():
        raise ValidationError("The prompt is empty.", code="prompt_empty")


def _edge(name: str) -> tuple[Validator, ...]:
    message = f"{name} must be between 1 and {MAX_EDGE} pixels."
    return (_limited(validators.MinValueValidator, 1, message, "invalid_size"),
            _limited(validators.MaxValueValidator, MAX_EDGE, message, "invalid_size"))


_SEED_MESSAGE = "seed must be a 32-bit integer."

# The Django validators of each request field, by the field's name (the services'
# argument, the API's field, the admin form's field and the command's option).
VALIDATORS: dict[str, tuple[Validator, ...]] = {
    "prompt": (_not_blank, _limited(
        validators.MaxLengthValidator, MAX_PROMPT,
        "The prompt is longer than %(limit_value)s characters.", "prompt_too_long")),
    "width": _edge("width"),
    "height": _edge("height"),
    "seed": (_limited(validators.MinValueValidator, SEED_MIN, _SEED_MESSAGE, "invalid_seed"),
             _limited(validators.MaxValueValidator, SEED_MAX, _SEED_MESSAGE, "invalid_seed")),
    "model": (_limited(
        validators.MaxLengthValidator, MAX_MODEL_NAME,
        "model must be a model id of at most %(limit_value)s characters.",
        "invalid_model"),),
    "idempotency_key": (_limited(
        validators.MaxLengthValidator, MAX_IDEMPOTENCY_KEY,
        "The idempotency key must be a string of at most %(limit_value)s characters.",
        "invalid_idempotency_key"),),
}
# The code of a value of the wrong type, by field.
_TYPE_CODES = {"prompt": "prompt_empty", "width": "invalid_size", "height": "invalid_size",
               "seed": "invalid_seed", "model": "invalid_model",
               "idempotency_key": "invalid_idempotency_key"}


def field_validators(field: str) -> list[Validator]:
    """A new list of ``field``'s validators, for a form or serializer field (DRF adds
    its own to the list it is given)."""
    return list(VALIDATORS[field])


def check(field: str, value: Any) -> Any:
    """``value`` if it passes ``field``'s validators; else ``InvalidInput`` about
    ``field`` with the first failing validator's message and code."""
    for validator in VALIDATORS[field]:
        try:
            validator(value)
        except ValidationError as exc:
            raise InvalidInput.about(field, exc) from None
    return value


def _typed(field: str, value: object, kind: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidInput(field, f"{field} must be {what}.", code=_TYPE_CODES[field])


def clean_prompt(prompt: object) -> str:
    if not isinstance(prompt, str):
        raise InvalidInput("prompt", "The prompt is empty.", code="prompt_empty")
    return str(check("prompt", prompt))


def check_size(width: object, height: object) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        _typed(name, value, int, "an integer")
        check(name, value)
    return width, height  # type: ignore[return-value]


def check_seed(seed: object) -> int | None:
    if seed is None:
        return None
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidInput("seed", _SEED_MESSAGE, code="invalid_seed")
    return int(check("seed", seed))


def check_model_name(model: object) -> str:
    _typed("model", model, str, "a model id")
    return str(check("model", model))


def check_idempotency_key(key: object) -> str | None:
    if key is None or key == "":
        return None
    _typed("idempotency_key", key, str, "a string")
    return str(check("idempotency_key", key))


def resolved_model(model: str) -> str:
    """The model a request naming ``model`` ("" for the default) runs on: the site's
    default (``AIGEN["MODEL"]``, else the client's own fallbacks) when it names none."""
    return model or default_model_name()

