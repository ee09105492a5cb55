"""The OpenAI Images wire format behind the client's ``Provider`` interface: request
building in ``openai_request``, replies and errors in ``openai_reply``, capabilities in
``openai_catalog``. No I/O, no Django. Wire facts: docs/protocol-openai.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .errors import GenerationError
from .openai_catalog import get_openai_spec
from .openai_reply import REQUEST_ID_HEADER, error_from_reply, load_reply, reply_from_json
from .openai_request import build_request
from .provider import ParsedReply, Provider, WireRequest
from .types import GenerationRequest

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider(Provider):
    """``/images/generations`` (JSON) and ``/images/edits`` (multipart, input images)."""

    name: ClassVar[str] = "openai"
    label: ClassVar[str] = "OpenAI"
    default_base_url: ClassVar[str] = DEFAULT_OPENAI_BASE_URL
    key_env_vars: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    base_url_env_vars: ClassVar[tuple[str, ...]] = ("OPENAI_BASE_URL",)
    request_id_header: ClassVar[str | None] = REQUEST_ID_HEADER

    def auth_headers(self, api_key: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {api_key}"),)

    def prepare(self, request: GenerationRequest, model: str) -> WireRequest:
        built = build_request(request, get_openai_spec(model))
        size = f"{built.size[0]}x{built.size[1]}"
        return WireRequest(path=built.path, body=built.body, content_type=built.content_type,
                           image_size=size, log_fields={"size": size})

    def decode(self, body: bytes) -> Any:
        return load_reply(body)

    def reply_from(self, decoded: Any, headers: Mapping[str, str]) -> ParsedReply:
        return reply_from_json(decoded, headers)

    def error_from_reply(self, status: int, headers: Mapping[str, str],
                         body: bytes) -> GenerationError:
        return error_from_reply(status, headers, body)
