"""Objects the API tests make through the services (the API's own data path), and what
an image response delivers."""

from __future__ import annotations

from typing import Any

import httpx
from django.test import override_settings

from aigen_app import services
from aigen_app.models import Generation, MediaAsset
from tests.support import DUMMY, png_bytes


def make_asset(owner: Any, color: tuple[int, int, int] = (10, 120, 200)) -> MediaAsset:
    return services.add_media_asset(png_bytes(40, 30, color), owner=owner,
                                    display_name="logo.png")


def pending_generation(owner: Any, prompt: str = "A red lighthouse") -> Generation:
    """A generation stored by the services whose task never runs."""
    with override_settings(TASKS={"default": DUMMY}):
        return services.create_generation(prompt, owner=owner, width=64, height=48)


def finished_generation(owner: Any, prompt: str = "A red lighthouse", **fields: Any
                        ) -> Generation:
    """A pending generation marked finished (no API call); ``fields`` set on the row."""
    generation = pending_generation(owner, prompt)
    Generation.objects.filter(pk=generation.pk).update(
        **{"status": Generation.Status.FAILED, "error_code": "server_error",
           "error_message": "boom", **fields})
    return Generation.objects.get(pk=generation.pk)


def streamed(response: Any) -> bytes:
    """The body of a streamed (FileResponse) test response."""
    return b"".join(response.streaming_content)


def delivered(response: Any) -> bytes:
    """The image an API image response delivers, whatever the storage: streamed from local
    storage, or fetched from the signed URL it redirects to on S3."""
    if response.status_code == 302:
        fetched = httpx.get(response["Location"])
        assert fetched.status_code == 200, response["Location"]
        return fetched.content
    assert response.status_code == 200, response
    return streamed(response)
