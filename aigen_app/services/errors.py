"""Errors the services raise for requests they refuse. Bad input raises ``InvalidInput``
(a Django ``ValidationError`` with a ``code`` and the ``field`` it is about); the
``ServiceError`` classes cover refusals that are not about one input."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError


class InvalidInput(ValidationError):
    """A refused input. ``field`` is the name of the argument it concerns (the API's,
    the admin form's and the command's name for it too), so every surface shows the
    message beside that input without a table of codes; None: the request as a whole.
    """

    def __init__(self, field: str | None, message: str, code: str,
                 params: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, params=params)
        self.field = field

    @classmethod
    def about(cls, field: str, error: ValidationError) -> InvalidInput:
        """``error`` (a single Django ``ValidationError``, e.g. a validator's) as a
        refusal of ``field``."""
        return cls(field, str(error.message), error.code or "invalid", error.params)


@contextmanager
def refusing(field: str) -> Iterator[None]:
    """A ``ValidationError`` raised inside that names no field (a check shared by
    several inputs, such as an image's) becomes a refusal of ``field``."""
    try:
        yield
    except InvalidInput:
        raise
    except ValidationError as exc:
        first = exc.error_list[0] if not hasattr(exc, "error_dict") else exc
        raise InvalidInput.about(field, first) from None


class ServiceError(Exception):
    """Base of the services' refusals; ``code`` is stable for API clients."""

    code = "service_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DailyLimitReached(ServiceError):
    """The owner already started ``limit`` generations today (``AIGEN["USER_DAILY_LIMIT"]``,
    this site's limit per user; a provider's own quota is the client's
    ``quota_exceeded``)."""

    code = "daily_limit_reached"

    def __init__(self, limit: int, used: int, resets_at: datetime) -> None:
        super().__init__(
            f"Daily generation limit reached: {used} of {limit} used today; "
            f"it resets at {resets_at.isoformat()}."
        )
        self.limit = limit
        self.used = used
        self.resets_at = resets_at


class InvalidGenerationState(ServiceError):
    """The generation's status does not allow the operation (refining a failed one,
    cancelling a finished one...)."""

    code = "invalid_state"


class IdempotencyKeyReused(ServiceError):
    """The owner's idempotency key already started a generation with other inputs:
    returning that one would silently drop the new request, running the new one would
    break the key's promise. ``differs`` names the inputs that disagree."""

    code = "idempotency_key_reused"

    def __init__(self, existing_id: object, differs: list[str]) -> None:
        super().__init__(
            f"This idempotency key already started generation {existing_id} with a "
            f"different {', '.join(differs)}; use a new key for a new request."
        )
        self.existing_id = existing_id
        self.differs = differs


class AssetInUse(ServiceError):
    """The media asset is part of a generation that has not run yet (pending or
    running): deleting it would send that generation without it."""

    code = "asset_in_use"

    def __init__(self, generation_ids: Sequence[object]) -> None:
        shown = ", ".join(str(pk) for pk in generation_ids[:3])
        more = f" and {len(generation_ids) - 3} more" if len(generation_ids) > 3 else ""
        super().__init__(
            f"The asset is used by generations that have not finished ({shown}{more}); "
            "cancel them or wait for them to finish, then delete it."
        )
        self.generation_ids = list(generation_ids)


class InputMissing(ServiceError):
    """An input of a queued generation is gone by the time it runs: a reference image,
    a media asset's or an earlier turn's file deleted from storage, or a turn of the
    conversation it continues. ``detail`` (file names, ids) is for the log only."""

    code = "input_missing"

    def __init__(self, detail: str) -> None:
        super().__init__(FAILURE_MESSAGES[self.code])
        self.detail = detail


# What clients read (the API's ``error.message``) for failures whose cause is internal:
# the cause (paths, SQL, exception text) goes to the ``aigen.services`` log with the
# generation id, never into the row.
FAILURE_MESSAGES = {
    "input_missing": "An input image of this generation (its reference image, a media "
                     "asset or an image earlier in the conversation) is no longer stored; "
                     "start a new generation.",
    "configuration_error": "The server is not configured to generate images; tell its "
                           "administrators (the cause is in the server's log under this "
                           "generation's id).",
    "internal_error": "The generation failed because of an error on the server (the cause "
                      "is in the server's log under this generation's id).",
    "result_not_saved": "The image was generated but could not be saved; retry the "
                        "generation.",
    "file_missing": "The generated image is no longer stored; retry the generation.",
}


# The ``Generation.error_code`` values the services themselves record when a run fails
# for a reason that is not the provider's (those are the client errors' ``code``).
# ``tests/admin/test_generation_reasons.py`` checks every code the services write is here.
RUN_ERROR_CODES: tuple[str, ...] = (
    "attempts_exhausted",
    "worker_lost",
    "worker_stopped",
    *FAILURE_MESSAGES,
)
