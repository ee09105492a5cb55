"""Thought signatures: issued per response part, checked when a model turn is replayed.

Real signatures are opaque bytes bound to what the model produced
(docs/protocol-gemini.md#thought-signatures). Binding each one to the sha256 of its part's
content lets the emulator catch the client bugs that matter: a dropped signature, one moved
to another part, or one invented by the client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Mapping
from typing import Any

from .errors import invalid_argument
from .wire import decode_base64

# Values Google documents for history the model did not produce
# (docs/protocol-gemini.md#thought-signatures).
BYPASS_VALUES = frozenset(
    {"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"}
)
_BYPASS_BYTES = frozenset(value.encode("ascii") for value in BYPASS_VALUES)


def content_digest(content: str | bytes) -> str:
    """What a signature is bound to: the part's text, or its decoded image bytes."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(raw).hexdigest()


# The key signatures are made with. The real service verifies its signatures in any of
# its servers; likewise every emulator process shares this key, so a conversation begun
# against one emulator (``manage.py generate`` starts its own each run) can be refined
# against another, while a signature the client invents, drops or moves still fails.
SIGNING_KEY = hashlib.sha256(b"aigen emulator thought signatures").digest()
_NONCE, _MAC = 16, 32
# Issued signatures kept for ``issued()`` (tests compare stored ones with them).
ISSUED_LIMIT = 10_000


class SignatureRegistry:
    """Issues signatures bound to their part's content and checks replayed ones.

    A signature is ``nonce + HMAC(key, nonce + content digest)`` plus optional padding,
    so checking it needs no memory of what was issued. Checked on its decoded bytes,
    because the official Python SDK decodes the signature and re-encodes it URL-safe
    when it replays history.
    """

    def __init__(self, padding: int = 0, key: bytes = SIGNING_KEY) -> None:
        if padding < 0:
            raise ValueError("signature_padding must be >= 0")
        self.padding = padding
        self._key = key
        self._lock = threading.Lock()
        self._issued: dict[str, None] = {}  # insertion-ordered, the latest ISSUED_LIMIT

    def issue(self, response_id: str, part_index: int, digest: str) -> str:
        nonce = hashlib.sha256(f"{response_id}|{part_index}".encode() + os.urandom(16))
        raw = nonce.digest()[:_NONCE]
        raw += self._mac(raw, digest)
        # Padding imitates the very large signatures seen in the wild (597,616 chars).
        raw += os.urandom(self.padding)
        signature = base64.b64encode(raw).decode("ascii")
        with self._lock:
            self._issued[signature] = None
            if len(self._issued) > ISSUED_LIMIT:
                del self._issued[next(iter(self._issued))]
        return signature

    def matches(self, signature: str, digest: str) -> bool:
        """Whether ``signature`` was issued for content with this digest (or is a bypass)."""
        if signature in BYPASS_VALUES:
            return True
        raw = decode_base64(signature)
        if raw is None:
            return False
        if raw in _BYPASS_BYTES:  # the bypass value sent as bytes through an SDK
            return True
        if len(raw) < _NONCE + _MAC:
            return False
        return hmac.compare_digest(raw[_NONCE:_NONCE + _MAC], self._mac(raw[:_NONCE], digest))

    def _mac(self, nonce: bytes, digest: str) -> bytes:
        return hmac.new(self._key, nonce + digest.encode("ascii"), hashlib.sha256).digest()

    def issued(self) -> set[str]:
        """The latest ``ISSUED_LIMIT`` signatures issued by this emulator."""
        with self._lock:
            return set(self._issued)


def check_replay(
    contents: list[dict[str, Any]],
    images: Mapping[tuple[int, int], bytes],
    registry: SignatureRegistry,
) -> None:
    """Every non-thought text or image part of a replayed model turn must carry the
    signature issued for exactly that content, else the API's 400 (1-based positions).

    ``images`` holds the decoded inline images by 0-based (content, part) position.
    """
    for ci, content in enumerate(contents, start=1):
        if content.get("role") != "model":
            continue
        for pi, part in enumerate(content["parts"], start=1):
            if part.get("thought"):
                continue
            if (ci - 1, pi - 1) in images:
                kind, digest = "Image", content_digest(images[ci - 1, pi - 1])
            elif isinstance(part.get("text"), str):
                kind, digest = "Text", content_digest(part["text"])
            else:
                continue
            signature = part.get("thoughtSignature", part.get("thought_signature"))
            if not isinstance(signature, str) or not signature:
                raise invalid_argument(
                    f"{kind} part is missing a thought_signature in content position {ci}, "
                    f"part position {pi}.", "missing_signature",
                )
            if not registry.matches(signature, digest):
                raise invalid_argument(
                    "Unable to submit request because it has an invalid thought signature "
                    f"for content at index {ci}.", "invalid_signature",
                )
