"""What a provider's wire format must supply to the provider-neutral client.

``client.AIGenerationClient`` owns the flow (limits, retries, waits, deadlines, exact
size, logging); a provider (``gemini.GeminiProvider``, ``openai.OpenAIProvider``) only
turns a ``GenerationRequest`` into bytes and a reply into a ``ParsedReply`` or an error
of the shared tree, the way django-anymail's backends fill in its base class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import GenerationError
from .types import ConversationTurn, GenerationRequest, Usage


@dataclass(frozen=True)
class ProviderConfig:
    """A provider's credentials; None falls back to the provider's environment variables."""

    api_key: str | None = None
    base_url: str | None = None


@dataclass(frozen=True)
class WireRequest:
    """One prepared request: sent as is on every attempt of a call."""

    path: str  # appended to the provider's base URL
    body: bytes
    content_type: str
    seed: int | None = None  # the seed sent, when the provider takes one
    aspect_ratio: str = ""  # the ratio asked for, when the provider takes ratios
    image_size: str | None = None  # the size tier or pixel size asked for
    log_fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedReply:
    """A successful reply: the image and what the conversation keeps of it."""

    image_data: bytes
    mime_type: str
    model_turn: ConversationTurn
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    model_version: str = ""
    response_id: str = ""
    finish_reason: str = ""
    finish_message: str = ""
    grounding_metadata: dict[str, Any] | None = None
    request_id: str = ""  # the provider's request id header, when it sends one


class Provider(ABC):
    """One provider's wire format. Pure: no I/O, so every method is unit-testable."""

    name: ClassVar[str]
    """Short id used in configuration ("gemini", "openai")."""
    label: ClassVar[str]
    """Human name used in messages ("Gemini", "OpenAI")."""
    default_base_url: ClassVar[str]
    key_env_vars: ClassVar[tuple[str, ...]]
    """Environment variables holding the key, in order of preference."""
    base_url_env_vars: ClassVar[tuple[str, ...]] = ()
    request_id_header: ClassVar[str | None] = None
    """The reply header naming the request for the provider's support, if any."""

    @abstractmethod
    def auth_headers(self, api_key: str) -> tuple[tuple[str, str], ...]:
        """The headers that authenticate a request with ``api_key``."""

    @abstractmethod
    def prepare(self, request: GenerationRequest, model: str) -> WireRequest:
        """The request to send, or an ``InvalidRequestError`` (before anything is sent)."""

    @abstractmethod
    def decode(self, body: bytes) -> Any:
        """A 200 body parsed (``MalformedResponseError`` if it cannot be); the caller frees
        the raw bytes before ``reply_from`` decodes the image."""

    @abstractmethod
    def reply_from(self, decoded: Any, headers: Mapping[str, str]) -> ParsedReply:
        """The image of a decoded 200 reply, or the error (block, no image) it stands for."""

    @abstractmethod
    def error_from_reply(self, status: int, headers: Mapping[str, str],
                         body: bytes) -> GenerationError:
        """The exception for a non-200 reply; retryable ones say so (``retryable``) and
        carry the server's wait as ``retry_after``."""
