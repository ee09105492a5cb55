"""How a finished generation leaves a command: its file, its summary, its exit code."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from ..models import Generation, GenerationStatus

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_ARGUMENTS = 2
EXIT_BLOCKED = 3
EXIT_RATE_LIMITED = 4

EXIT_CODES_HELP = """exit codes:
  0  the image was generated and written
  1  the generation failed (see the message)
  2  bad arguments (nothing was recorded)
  3  blocked by the content policy
  4  rate limited or out of quota (try again later)
  130, 143  interrupted by Ctrl-C (SIGINT) or SIGTERM: the generation is canceled"""

_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
_PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def exit_code_for(generation: Generation) -> int:
    if generation.status == GenerationStatus.SUCCEEDED:
        return EXIT_OK
    if generation.status == GenerationStatus.BLOCKED:
        return EXIT_BLOCKED
    if generation.error_code in ("rate_limited", "quota_exceeded") or (
        generation.status == GenerationStatus.PENDING and generation.run_after
    ):
        return EXIT_RATE_LIMITED
    return EXIT_FAILED


def save_output(generation: Generation, output: str | None) -> Path:
    """Write the result image to ``output`` (converted when its extension asks for another
    format) or to ``<id><ext>`` in the working directory; return the absolute path."""
    with generation.image.open("rb") as handle:
        data = handle.read()
    path = Path(output) if output else Path(
        f"{generation.id}{_EXTENSIONS.get(generation.mime_type, '.png')}")
    wanted = _PIL_FORMATS.get(path.suffix.lower())
    if wanted and _EXTENSIONS.get(generation.mime_type) not in _matching(wanted):
        image: Image.Image = Image.open(io.BytesIO(data))
        if wanted == "JPEG" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, wanted)
        data = out.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.resolve()


def _matching(pil_format: str) -> set[str]:
    return {ext for ext, fmt in _PIL_FORMATS.items() if fmt == pil_format}


def summary(generation: Generation, path: Path | None) -> dict[str, Any]:
    timing = None
    if generation.started_at and generation.finished_at:
        timing = (generation.finished_at - generation.started_at).total_seconds()
    return {
        "id": str(generation.id),
        "status": generation.status,
        "path": str(path) if path else None,
        "size": f"{generation.width}x{generation.height}",
        "model": generation.model,
        "seed": generation.seed,
        "tokens": {
            "prompt": generation.prompt_tokens,
            "candidates": generation.candidates_tokens,
            "thoughts": generation.thoughts_tokens,
            "total": generation.total_tokens,
        },
        "attempts": generation.api_attempts,
        "timing": {"seconds": timing, "inference_ms": generation.inference_time_ms},
        "conversation": str(generation.conversation_id),
        "error": generation.error_message or None,
        "block_reason": generation.block_reason or None,
    }
