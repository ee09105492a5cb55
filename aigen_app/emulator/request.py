"""Reading a generateContent body: a lenient summary for the log, a strict validation
that refuses what the real API refuses (docs/protocol-gemini.md#request-body,
#thought-signatures) with real-looking 400s."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import invalid_argument
from .gemini_models import GeminiModel, closest_ratio
from .images import image_size
from .signatures import SignatureRegistry, check_replay
from .wire import decode_base64


@dataclass(frozen=True)
class Summary:
    """What the request log shows; never raises, whatever the body looks like."""

    prompt: str = ""
    aspect_ratio: str | None = None
    image_size: str | None = None
    seed: int | None = None


@dataclass(frozen=True)
class GenerateCall:
    """A request that passed validation, with the defaults the server fills in."""

    model: str
    spec: GeminiModel
    prompt: str
    ratio: str
    tier: str | None
    seed: int | None
    want_text: bool
    grounding: bool
    input_images: int


def get(mapping: Any, camel: str, snake: str) -> Any:
    """A field under either spelling: proto3 JSON accepts lowerCamel and snake_case."""
    if not isinstance(mapping, dict):
        return None
    return mapping[camel] if camel in mapping else mapping.get(snake)


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        snippet = raw[:40].decode("utf-8", "replace")
        raise invalid_argument(
            f"Invalid JSON payload received. Unexpected token.\n{snippet}\n^"
        ) from exc
    if not isinstance(body, dict):
        raise invalid_argument("Invalid JSON payload received. Expected an object.")
    return body


def summarize(body: Any) -> Summary:
    image_config = get(get(body, "generationConfig", "generation_config"),
                       "imageConfig", "image_config")
    ratio = get(image_config, "aspectRatio", "aspect_ratio")
    size = get(image_config, "imageSize", "image_size")
    return Summary(
        prompt=last_user_text(body),
        aspect_ratio=ratio if isinstance(ratio, str) else None,
        image_size=size if isinstance(size, str) else None,
        seed=_seed(body),
    )


def last_user_text(body: Any) -> str:
    contents = get(body, "contents", "contents")
    if not isinstance(contents, list):
        return ""
    for content in reversed(contents):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            parts = content.get("parts")
            texts = [p["text"] for p in parts or [] if isinstance(p, dict)
                     and isinstance(p.get("text"), str)] if isinstance(parts, list) else []
            return "\n".join(texts)
    return ""


def _seed(body: Any) -> int | None:
    seed = get(get(body, "generationConfig", "generation_config"), "seed", "seed")
    if isinstance(seed, str) and seed.lstrip("-").isdigit():
        return int(seed)  # proto3 JSON allows integers as strings
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def validate(spec: GeminiModel, body: dict[str, Any], registry: SignatureRegistry) -> GenerateCall:
    """Refuse what the real API refuses; fill in the defaults it applies."""
    contents = _contents(body)
    config = get(body, "generationConfig", "generation_config") or {}
    image_config = get(config, "imageConfig", "image_config") or {}
    ratio = get(image_config, "aspectRatio", "aspect_ratio")
    if ratio is not None and ratio not in spec.ratios:
        raise invalid_argument(
            f"Unsupported aspect ratio: {ratio}. Supported aspect ratios for "
            f"models/{spec.name}: {', '.join(spec.ratios)}."
        )
    tier = get(image_config, "imageSize", "image_size")
    if tier is not None and not spec.tiers:
        raise invalid_argument(f"Image size is not supported for models/{spec.name}.")
    if tier is not None and tier not in spec.tiers:
        raise invalid_argument(
            f"Unsupported image size: {tier}. Supported image sizes for "
            f"models/{spec.name}: {', '.join(spec.tiers)}."
        )
    raw_seed = get(config, "seed", "seed")
    if raw_seed is not None and _seed(body) is None:
        raise invalid_argument(
            f"Invalid value at 'generation_config.seed' (TYPE_INT32), {json.dumps(raw_seed)}"
        )
    grounding = _wants_grounding(body)
    if grounding and not spec.grounding:
        raise invalid_argument(f"Search Grounding is not supported for models/{spec.name}.")
    images = _decode_images(contents)
    user_images = [image.size for image in images if image.role == "user"]
    if len(user_images) > spec.max_input_images:
        raise invalid_argument(
            f"Too many images in the request: {len(user_images)}. models/{spec.name} "
            f"accepts at most {spec.max_input_images} input images."
        )
    if any(image.size is None for image in images):
        raise invalid_argument("Provided image is not valid.")
    if spec.thinking:
        check_replay(contents, {image.position: image.data for image in images}, registry)
    if ratio is None:
        sized = [size for size in user_images if size is not None]
        ratio = closest_ratio(spec, *sized[-1]) if sized else "1:1"
    modalities = get(config, "responseModalities", "response_modalities")
    only_image = isinstance(modalities, list) and [str(m).upper() for m in modalities] == [
        "IMAGE"
    ]
    return GenerateCall(
        model=spec.name, spec=spec, prompt=last_user_text(body), ratio=ratio,
        tier=tier or ("1K" if spec.tiers else None), seed=_seed(body),
        want_text=not only_image, grounding=grounding, input_images=len(user_images),
    )


def _contents(body: dict[str, Any]) -> list[dict[str, Any]]:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise invalid_argument("* GenerateContentRequest.contents: contents is not specified\n")
    for index, content in enumerate(contents):
        if not isinstance(content, dict) or content.get("role", "user") not in ("user", "model"):
            raise invalid_argument("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict)
                                                                for p in parts):
            raise invalid_argument(
                f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not "
                "be empty.\n"
            )
    return contents


def _wants_grounding(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and any(
        isinstance(tool, dict) and ({"googleSearch", "google_search"} & tool.keys())
        for tool in tools
    )


@dataclass(frozen=True)
class _InlineImage:
    role: str
    position: tuple[int, int]  # 0-based (content, part)
    data: bytes
    size: tuple[int, int] | None  # None: not an image Pillow can read


def _decode_images(contents: list[dict[str, Any]]) -> list[_InlineImage]:
    found = []
    for ci, content in enumerate(contents):
        for pi, part in enumerate(content["parts"]):
            inline = get(part, "inlineData", "inline_data")
            if inline is None:
                continue
            data = get(inline, "data", "data")
            raw = decode_base64(data) if isinstance(data, str) else None
            if raw is None:
                shown = str(data)[:40]
                raise invalid_argument(
                    f"Invalid value at 'contents[{ci}].parts[{pi}].inline_data.data' "
                    f'(TYPE_BYTES), Base64 decoding failed for "{shown}"'
                )
            role = content.get("role", "user")
            found.append(_InlineImage(role, (ci, pi), raw, image_size(raw)))
    return found
