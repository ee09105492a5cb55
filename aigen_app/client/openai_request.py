"""Build an OpenAI Images request (docs/protocol-openai.md): JSON to
``/images/generations`` when there is no input image, multipart to ``/images/edits``
when there is (a reference image, media assets, or a refinement's latest image).

OpenAI keeps no conversation: a refinement sends the latest image, then the images
the conversation's user turns carried (references, assets), then this request's own,
and the prompt says what each input image is, the way Gemini's parts do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from .errors import InvalidRequestError, UnsupportedFeatureError
from .labels import asset_intro
from .openai_catalog import MAX_PROMPT_CHARS, OpenAIModelSpec, check_options, choose_size
from .types import ConversationTurn, GenerationRequest

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class InputImage:
    data: bytes
    mime_type: str
    label: str  # what the prompt says about it


@dataclass(frozen=True)
class OpenAIRequest:
    path: str
    body: bytes
    content_type: str
    size: tuple[int, int]


def build_request(request: GenerationRequest, spec: OpenAIModelSpec) -> OpenAIRequest:
    """The request for ``spec.name``; UnsupportedFeatureError (or InvalidRequestError)
    for what the model cannot take, before anything is sent."""
    if not request.prompt or not request.prompt.strip():
        raise InvalidRequestError("prompt is empty")
    if request.enable_grounding:
        raise UnsupportedFeatureError(f"model {spec.name} (OpenAI) does not support grounding")
    if request.seed is not None:
        raise UnsupportedFeatureError(f"model {spec.name} (OpenAI) takes no seed")
    try:
        history = request.history_turns()
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"invalid conversation history: {exc}") from exc
    inputs = input_images(request, history)
    if len(inputs) > spec.max_input_images:
        raise UnsupportedFeatureError(
            f"model {spec.name} accepts at most {spec.max_input_images} input images; this "
            f"request has {len(inputs)} (the latest image, the conversation's references "
            "and assets, and this request's)")
    check_options(spec, request.options, edit=bool(inputs))
    prompt = prompt_with_labels(request.prompt, inputs)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequestError(
            f"the prompt (with the input images' labels) is {len(prompt)} characters; "
            f"OpenAI takes at most {MAX_PROMPT_CHARS}")
    width, height = choose_size(spec, request.width, request.height)
    fields: dict[str, str] = {"model": spec.name, "prompt": prompt,
                              "size": f"{width}x{height}", **request.options}
    if request.safety_identifier:
        fields["safety_identifier"] = request.safety_identifier
    if not inputs:
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        return OpenAIRequest("/images/generations", body, "application/json", (width, height))
    files = [
        ("image[]", (f"image-{number}.{_EXTENSIONS.get(image.mime_type, 'png')}",
                     image.data, image.mime_type))
        for number, image in enumerate(inputs, start=1)
    ]
    # httpx writes the multipart body (boundary, escaping) as it would for a POST.
    multipart = httpx.Request("POST", "http://multipart.invalid", data=fields, files=files)
    return OpenAIRequest("/images/edits", multipart.read(), multipart.headers["content-type"],
                         (width, height))


def input_images(request: GenerationRequest,
                 history: list[ConversationTurn]) -> list[InputImage]:
    """The images to send, in order: the latest image the model made, the images earlier
    user turns carried, then this request's reference image and media assets. An image
    sent twice (the same asset in several turns) goes once."""
    images: list[InputImage] = []
    seen: set[bytes] = set()

    def add(data: bytes, mime_type: str, label: str) -> None:
        if data not in seen:
            seen.add(data)
            images.append(InputImage(data, mime_type or "image/png", label))

    latest = _latest_model_image(history)
    if latest is not None:
        add(latest[0], latest[1], "the current image: apply the instruction to it")
    for turn in history:
        if turn.role != "user":
            continue
        for part in turn.parts:
            if part.image_data is not None:
                add(part.image_data, part.mime_type or "image/png",
                    "an input image given earlier in this conversation")
    if request.input_image:
        add(request.input_image, request.input_image_mime_type,
            "the reference image: keep its layout and composition and change only what "
            "the instruction asks")
    for number, asset in enumerate(request.media_assets, start=1):
        add(asset.image_data, asset.mime_type, asset_intro(number, asset))
    return images


def _latest_model_image(history: list[ConversationTurn]) -> tuple[bytes, str] | None:
    for turn in reversed(history):
        if turn.role != "model":
            continue
        for part in reversed(turn.parts):
            if part.image_data is not None:
                return part.image_data, part.mime_type or "image/png"
    return None


def prompt_with_labels(prompt: str, inputs: list[InputImage]) -> str:
    """The instruction, preceded by one line per input image saying what it is."""
    if not inputs:
        return prompt
    lines = [f"Input image {number}: {image.label}" for number, image in
             enumerate(inputs, start=1)]
    return "\n".join([*lines, "", prompt])
