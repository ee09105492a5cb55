"""Every hostile or broken upload answers 400 with a field error, before anything is
stored: no file in storage, no row."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from aigen_app.models import Conversation, Generation, MediaAsset, TurnPart
from tests.api.hostile import CASES
from tests.support import Media, stored_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_tasks")]
each_case = pytest.mark.parametrize(("name", "content", "content_type", "limits"),
                                    [case[1:] for case in CASES],
                                    ids=[case[0] for case in CASES])


def assert_refused(response: Any, field: str, media: Media) -> None:
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == "validation_error"
    assert data["fields"][field], data
    assert data["message"].startswith(f"{field}: ")
    assert stored_files(media) == []
    assert MediaAsset.objects.count() == 0
    assert Generation.objects.count() == Conversation.objects.count() == 0
    assert TurnPart.objects.count() == 0


def test_at_least_twenty_distinct_cases() -> None:
    assert len({case[2] for case in CASES}) == len(CASES) >= 20


@each_case
def test_asset_upload_refused(api: APIClient, media_storage: Media, name: str, content: bytes,
                              content_type: str, limits: dict[str, int]) -> None:
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    with override_settings(AIGEN=limits):
        response = api.post("/api/assets/", {"image": upload, "asset_type": "logo"},
                            format="multipart")
    assert_refused(response, "image", media_storage)


@each_case
def test_reference_image_refused(api: APIClient, media_storage: Media, name: str,
                                 content: bytes, content_type: str,
                                 limits: dict[str, int]) -> None:
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    with override_settings(AIGEN=limits):
        response = api.post("/api/generations/", {"prompt": "x", "reference_image": upload},
                            format="multipart")
    assert_refused(response, "reference_image", media_storage)
