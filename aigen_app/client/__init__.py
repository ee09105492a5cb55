"""The Gemini image-generation client: pure asyncio + httpx, no Django.

    async with AIGenerationClient(api_key=...) as client:
        response = await client.generate(GenerationRequest("A lighthouse", 1280, 720))
"""

from __future__ import annotations

import threading
from typing import Any

from .catalog import DEFAULT_MODEL, MODELS, ModelSpec, get_model_spec
from .client import DEFAULT_BASE_URL, AIGenerationClient, RetryEvent
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ContentPolicyError,
    GenerationError,
    GenerationTimeoutError,
    InvalidRequestError,
    MalformedResponseError,
    ModelNotFoundError,
    NoImageError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    UnsupportedFeatureError,
)
from .limiter import LocalRateLimiter, RateLimiter
from .types import (
    ConversationTurn,
    GenerationRequest,
    GenerationResponse,
    MediaAssetInput,
    TurnPart,
    Usage,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "MODELS",
    "AIGenerationClient",
    "AuthenticationError",
    "ConfigurationError",
    "ContentPolicyError",
    "ConversationTurn",
    "GenerationError",
    "GenerationRequest",
    "GenerationResponse",
    "GenerationTimeoutError",
    "InvalidRequestError",
    "LocalRateLimiter",
    "MalformedResponseError",
    "MediaAssetInput",
    "ModelNotFoundError",
    "ModelSpec",
    "NoImageError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
    "RetryEvent",
    "ServerError",
    "TransportError",
    "TurnPart",
    "UnsupportedFeatureError",
    "Usage",
    "create_ai_client",
    "get_ai_client",
    "get_model_spec",
]

_shared: AIGenerationClient | None = None
_shared_lock = threading.Lock()


def create_ai_client(**kwargs: Any) -> AIGenerationClient:
    """A new client; unspecified options come from AI_API_KEY, AI_MODEL, AI_BASE_URL."""
    return AIGenerationClient(**kwargs)


def get_ai_client() -> AIGenerationClient:
    """The process-wide shared client (created on first use from the environment)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = create_ai_client()
        return _shared
