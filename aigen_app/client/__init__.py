"""The image-generation client (Gemini, OpenAI): pure asyncio + httpx, no Django.

    async with AIGenerationClient(api_key=...) as client:
        response = await client.generate(GenerationRequest("A lighthouse", 1280, 720))
"""

from __future__ import annotations

import threading
from typing import Any

from .catalog import (
    DEFAULT_MODEL,
    MODELS,
    Capabilities,
    ModelSpec,
    capabilities,
    get_model_spec,
    provider_of,
)
from .client import AIGenerationClient, RetryEvent
from .errors import (
    AuthenticationError,
    CapacityTimeoutError,
    ConfigurationError,
    ContentPolicyError,
    GenerationError,
    GenerationTimeoutError,
    InvalidRequestError,
    MalformedResponseError,
    ModelNotFoundError,
    NoImageError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    TransportError,
    UnsupportedFeatureError,
)
from .gemini import DEFAULT_BASE_URL
from .limiter import LocalRateLimiter, RateLimiter
from .provider import ProviderConfig
from .types import (
    ContentPart,
    ConversationTurn,
    GenerationRequest,
    GenerationResponse,
    MediaAssetInput,
    Usage,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "MODELS",
    "AIGenerationClient",
    "AuthenticationError",
    "Capabilities",
    "CapacityTimeoutError",
    "ConfigurationError",
    "ContentPart",
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
    "ProviderConfig",
    "QuotaExceededError",
    "RateLimitError",
    "RateLimiter",
    "RetryEvent",
    "ServerError",
    "TransportError",
    "UnsupportedFeatureError",
    "Usage",
    "capabilities",
    "create_ai_client",
    "get_ai_client",
    "get_model_spec",
    "provider_of",
]

_shared: AIGenerationClient | None = None
_shared_lock = threading.Lock()


def create_ai_client(**kwargs: Any) -> AIGenerationClient:
    """A new client; unspecified options come from AI_API_KEY, AI_MODEL, AI_BASE_URL and
    each provider's own variables (OPENAI_API_KEY, OPENAI_BASE_URL...)."""
    return AIGenerationClient(**kwargs)


def get_ai_client() -> AIGenerationClient:
    """The process-wide shared client (created on first use from the environment)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = create_ai_client()
        return _shared
