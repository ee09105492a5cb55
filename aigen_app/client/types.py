"""The client's request and response values. Plain dataclasses: no Django, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "model"]


@dataclass(frozen=True)
class ContentPart:
    """One part of a conversation turn: text or an image, with its thought signature.

    ``thought_signature`` is the opaque base64 string exactly as the API sent it; it is
    echoed back byte-for-byte and never decoded.
    """

    text: str | None = None
    image_data: bytes | None = None
    mime_type: str | None = None
    thought_signature: str | None = None

    @property
    def is_image(self) -> bool:
        return self.image_data is not None


@dataclass(frozen=True)
class ConversationTurn:
    """One turn of a conversation, its parts in the order the API produced them."""

    role: Role
    parts: tuple[ContentPart, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationTurn:
        """Accept the pattern's plain dicts: ``{"role", "text", "image_data",
        "mime_type", "thought_signature"}`` or ``{"role", "parts": [...]}``."""
        role = data.get("role", "user")
        if role not in ("user", "model"):
            raise ValueError(f"turn role must be 'user' or 'model', not {role!r}")
        if "parts" in data:
            parts = tuple(
                p if isinstance(p, ContentPart) else ContentPart(**_part_fields(p))
                for p in data["parts"]
            )
            return cls(role=role, parts=parts)
        parts_list: list[ContentPart] = []
        if data.get("text"):
            parts_list.append(ContentPart(text=data["text"],
                                       thought_signature=data.get("text_thought_signature")))
        if data.get("image_data") is not None:
            parts_list.append(
                ContentPart(
                    image_data=data["image_data"],
                    mime_type=data.get("mime_type") or "image/png",
                    thought_signature=_signature_text(data.get("thought_signature")),
                )
            )
        return cls(role=role, parts=tuple(parts_list))


def _signature_text(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("ascii")
    return value


def _part_fields(part: dict[str, Any]) -> dict[str, Any]:
    allowed = {"text", "image_data", "mime_type", "thought_signature"}
    unknown = set(part) - allowed
    if unknown:
        raise ValueError(f"unknown turn part keys: {sorted(unknown)}")
    fields = dict(part)
    fields["thought_signature"] = _signature_text(fields.get("thought_signature"))
    return fields


@dataclass(frozen=True)
class MediaAssetInput:
    """A labelled image sent with the prompt: a logo, a face, a character..."""

    image_data: bytes
    mime_type: str = "image/png"
    asset_type: str = "other"
    display_name: str = ""


@dataclass
class GenerationRequest:
    prompt: str
    width: int
    height: int
    model: str | None = None
    seed: int | None = None
    input_image: bytes | None = None
    input_image_mime_type: str = "image/png"
    conversation_history: list[ConversationTurn | dict[str, Any]] | None = None
    media_assets: list[MediaAssetInput] = field(default_factory=list)
    enable_grounding: bool = False
    generation_id: str | None = None
    # Provider-specific image options (OpenAI's quality, output_format, background,
    # moderation, input_fidelity), checked against the model before anything is sent.
    options: dict[str, str] = field(default_factory=dict)
    # An opaque, stable id of the end user (a hash, never a name or an email): OpenAI's
    # ``safety_identifier``; Gemini takes none and it is not sent there.
    safety_identifier: str | None = None

    def history_turns(self) -> list[ConversationTurn]:
        return [
            t if isinstance(t, ConversationTurn) else ConversationTurn.from_dict(t)
            for t in (self.conversation_history or [])
        ]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    candidates_tokens: int = 0
    thoughts_tokens: int = 0
    total_tokens: int = 0


@dataclass
class GenerationResponse:
    image_data: bytes
    generation_id: str
    seed: int | None  # None when the provider takes no seed (OpenAI)
    inference_time_ms: int
    mime_type: str = "image/png"
    width: int = 0
    height: int = 0
    model: str = ""
    model_turn: ConversationTurn = field(default_factory=lambda: ConversationTurn("model"))
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    model_version: str = ""
    response_id: str = ""
    finish_reason: str = ""
    attempts: int = 1
    aspect_ratio: str = ""
    image_size: str | None = None
    provider: str = ""  # "gemini", "openai"
    request_id: str = ""  # the provider's request id header (OpenAI's x-request-id)

    @property
    def thought_signature(self) -> str | None:
        """The signature of the first image part (the pattern's single field)."""
        for part in self.model_turn.parts:
            if part.is_image:
                return part.thought_signature
        return None

    @property
    def thought_signatures(self) -> list[str]:
        return [p.thought_signature for p in self.model_turn.parts if p.thought_signature]
