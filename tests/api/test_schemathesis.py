"""Schemathesis against the live schema: a real server on loopback (pytest-django's
``live_server``), the Gemini emulator behind it, every operation fuzzed with a signed-in
user. Every check schemathesis has runs on every response (the project's
``schemathesis.toml`` declares the one allowance: the upload endpoint may refuse bytes that
are no image): no 5xx; documented status, content type and headers; the response schema;
schema-valid requests accepted and schema-violating ones (negative mode) rejected; no
access without credentials; unsupported methods answered 405. Half of the cases for
``{id}`` paths use an object that exists, so success paths (201 generations, streamed
images, 409s) are checked too, not only 404s."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.test import override_settings
from hypothesis import HealthCheck, given, reject, settings, strategies
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from aigen_app.emulator import EmulatorServer
from tests.support import aigen_settings_for, png_bytes

# The project's schemathesis configuration: every check, one declared allowance.
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("immediate_tasks")]

# Per operation; raise it for a deeper local run: AIGEN_SCHEMATHESIS_EXAMPLES=200 pytest ...
EXAMPLES = int(os.environ.get("AIGEN_SCHEMATHESIS_EXAMPLES", "15"))


def seed(alice: Any, emulator: EmulatorServer) -> dict[str, str]:
    """Objects of the signed-in user for the ``{id}`` paths: a succeeded generation (its
    conversation has image turns), a media asset."""
    from aigen_app import services

    with override_settings(AIGEN=aigen_settings_for(emulator)):
        asset = services.add_media_asset(png_bytes(), owner=alice)
        generation = services.create_generation("A lighthouse", owner=alice, width=64,
                                                height=48, media_assets=[asset])
    generation.refresh_from_db()
    assert generation.status == "succeeded", generation.error_message
    return {"generations": str(generation.pk), "conversations": str(generation.conversation_id),
            "assets": str(asset.pk)}


def only_a_string_retyped_in_a_form(case: Any) -> bool:
    """Whether the case's only "invalid" change is a string field sent as another JSON
    type in form data: form data carries strings only, so on the wire it is a valid
    string (``-5e16`` is a fine display name) and accepting it is right."""
    if not str(case.media_type or "").startswith("multipart/"):
        return False
    phase_data = getattr(getattr(case.meta, "phase", None), "data", None)
    mutations: tuple[Any, ...] = tuple(getattr(phase_data, "mutations", None) or ())
    return bool(mutations) and all(
        tuple(m.keywords) == ("type",) and m.original_value == "string" for m in mutations)


def run_operation(operation: Any, base_url: str, headers: dict[str, str],
                  existing: dict[str, str], mode: GenerationMode) -> None:
    resource = operation.path.split("/")[2]

    @given(case=operation.as_strategy(mode), real=strategies.booleans(),
           position=strategies.integers(0, 2), index=strategies.integers(0, 2))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any, real: bool, position: int, index: int) -> None:
        if real and case.path_parameters and "id" in case.path_parameters:
            case.path_parameters["id"] = existing[resource]
            if "position" in case.path_parameters:
                case.path_parameters.update(position=position, index=index)
        if mode == GenerationMode.NEGATIVE and only_a_string_retyped_in_a_form(case):
            reject()
        if case.headers and "Idempotency-Key" in case.headers:
            # A key hypothesis repeats with other inputs is rightly refused (422); the
            # repeat paths are tested in test_generations.
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        case.call_and_validate(base_url=base_url, headers=headers, allow_redirects=False)

    fuzz()


# A hang guard that grows with the examples (15 took 14 s here, 200 took 143 s).
@pytest.mark.timeout(120 + 2 * EXAMPLES)
def test_every_operation_conforms_to_the_schema(
    live_server: Any, alice: Any, aigen_emulator: EmulatorServer
) -> None:
    existing = seed(alice, aigen_emulator)
    token = Token.objects.create(user=alice)
    headers = {"Authorization": f"Token {token.key}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json",
                                           config=SchemathesisConfig.from_path(CONFIG))
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 15
    # Deletes last, so the other operations still find the seeded asset.
    operations.sort(key=lambda operation: operation.method.lower() == "delete")

    failures: list[str] = []
    # No create throttle here: 429s are documented, but they would hide the 201 paths.
    with override_settings(AIGEN=aigen_settings_for(aigen_emulator, API_CREATE_RATE=None)):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for operation in operations:
                try:
                    run_operation(operation, live_server.url, headers, existing, mode)
                except Exception as exc:  # collect every operation's failure, then report
                    failures.append(f"{mode.value} {operation.method.upper()} "
                                    f"{operation.path}:\n{exc}")
    assert not failures, "\n\n".join(failures)
