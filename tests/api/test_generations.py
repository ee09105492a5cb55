"""Generations over HTTP: create (202 while queued, 201 once finished), refine, retry,
cancel, idempotency, validation and the daily quota."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus, Turn, TurnPart
from tests.api.helpers import delivered, finished_generation, make_asset, pending_generation
from tests.support import aigen_settings_for, png_bytes

URL = "/api/generations/"


def body(client: APIClient, url: str) -> bytes:
    return delivered(client.get(url))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("immediate_tasks")
class TestFinishedAtOnce:
    def test_create_answers_201_with_the_image_behind_an_api_link(
        self, api: APIClient, aigen_emulator: EmulatorServer
    ) -> None:
        response = api.post(URL, {"prompt": "A red lighthouse", "width": 320, "height": 240},
                            format="json")

        assert response.status_code == 201, response.json()
        data = response.json()
        assert data["status"] == "succeeded"
        assert response["Location"] == data["url"] == f"http://testserver{URL}{data['id']}/"
        assert "Retry-After" not in response
        image = data["image"]
        assert image["url"] == f"http://testserver{URL}{data['id']}/image/"
        assert "/media/" not in str(data)
        content = body(api, image["url"])
        assert hashlib.sha256(content).hexdigest() == image["sha256"]
        assert (image["width"], image["height"]) == (320, 240)
        assert api.get(data["url"]).json() == data

    def test_a_blocked_generation_is_a_resource_not_an_error(
        self, api: APIClient, aigen_emulator: EmulatorServer
    ) -> None:
        aigen_emulator.inject("block_prompt", reason="SAFETY")

        response = api.post(URL, {"prompt": "Something forbidden"}, format="json")

        assert response.status_code == 201
        data = response.json()
        assert data["status"] == "blocked"
        assert data["block_reason"]
        assert data["error"]["code"] == "content_policy"
        assert data["image"] is None
        assert api.get(f"{URL}{data['id']}/image/").json()["code"] == "not_found"

    def test_multipart_reference_image_and_assets_are_sent_to_the_model(
        self, api: APIClient, alice: Any, aigen_emulator: EmulatorServer
    ) -> None:
        first, second = make_asset(alice, (1, 2, 3)), make_asset(alice, (4, 5, 6))
        reference = png_bytes(50, 40, (90, 90, 90))
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("photo.heic", reference, content_type="image/png")
        response = api.post(URL, {"prompt": "Put the logo on it", "reference_image": upload,
                                  "media_assets": [str(second.pk), str(first.pk)],
                                  "enable_grounding": "false"}, format="multipart")

        assert response.status_code == 201, response.json()
        data = response.json()
        assert data["media_assets"] == [str(second.pk), str(first.pk)]
        sent = aigen_emulator.requests()[-1].body["contents"][-1]["parts"]
        assert sum("inlineData" in part for part in sent) == 3

    def test_refine_continues_the_conversation(
        self, api: APIClient, aigen_emulator: EmulatorServer
    ) -> None:
        first = api.post(URL, {"prompt": "A red lighthouse"}, format="json").json()

        response = api.post(f"{URL}{first['id']}/refine/", {"prompt": "Make it stormy"},
                            format="json")

        assert response.status_code == 201, response.json()
        second = response.json()
        assert second["parent"] == first["id"]
        assert second["conversation"] == first["conversation"]
        assert (second["width"], second["height"]) == (first["width"], first["height"])
        assert response["Location"] == second["url"]
        assert Turn.objects.filter(conversation_id=first["conversation"]).count() == 4

    def test_retry_runs_a_failed_generation_again(
        self, api: APIClient, alice: Any, aigen_emulator: EmulatorServer
    ) -> None:
        failed = finished_generation(alice)

        response = api.post(f"{URL}{failed.pk}/retry/")

        assert response.status_code == 200
        assert response.json()["status"] == "succeeded"
        assert response.json()["error"] is None

    def test_idempotency_key_makes_a_repeat_return_the_same_generation(
        self, api: APIClient, aigen_emulator: EmulatorServer
    ) -> None:
        payload = {"prompt": "A red lighthouse"}
        first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
        again = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
        other = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-43")

        assert first.json()["id"] == again.json()["id"] != other.json()["id"]
        assert Generation.objects.count() == 2
        assert len(aigen_emulator.requests()) == 2

    def test_an_idempotency_key_reused_for_another_request_answers_422(
        self, api: APIClient, aigen_emulator: EmulatorServer
    ) -> None:
        first = api.post(URL, {"prompt": "A red lighthouse"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="order-42")
        reused = api.post(URL, {"prompt": "A blue lighthouse"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="order-42")

        assert reused.status_code == 422
        body = reused.json()
        assert body["code"] == "idempotency_key_reused"
        assert first.json()["id"] in body["message"] and "prompt" in body["message"]
        assert Generation.objects.count() == 1
        assert len(aigen_emulator.requests()) == 1

    def test_daily_limit_answers_429_daily_limit_reached(
        self, api: APIClient, emulator: EmulatorServer
    ) -> None:
        with override_settings(AIGEN=aigen_settings_for(emulator, USER_DAILY_LIMIT=1)):
            assert api.post(URL, {"prompt": "one"}, format="json").status_code == 201
            response = api.post(URL, {"prompt": "two"}, format="json")

        assert response.status_code == 429
        data = response.json()
        # The site's own limit per user, not the provider's quota (quota_exceeded).
        assert data["code"] == "daily_limit_reached"
        assert "limit" in data["message"]
        assert int(response["Retry-After"]) == data["retry_after"] > 0
        assert Generation.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("queued_tasks")
class TestQueued:
    def test_create_answers_202_with_location_and_retry_after(self, api: APIClient) -> None:
        response = api.post(URL, {"prompt": "A red lighthouse"}, format="json")

        assert response.status_code == 202
        data = response.json()
        assert data["status"] == "pending"
        assert response["Location"] == data["url"]
        assert response["Retry-After"] == "2"
        polled = api.get(response["Location"])
        assert polled.status_code == 200 and polled.json()["status"] == "pending"

    def test_retry_after_follows_the_setting(self, api: APIClient) -> None:
        with override_settings(AIGEN={"API_RETRY_AFTER": 7}):
            response = api.post(URL, {"prompt": "A red lighthouse"}, format="json")
        assert response["Retry-After"] == "7"

    def test_refine_of_an_unfinished_generation_is_409(self, api: APIClient,
                                                       alice: Any) -> None:
        pending = pending_generation(alice)

        response = api.post(f"{URL}{pending.pk}/refine/", {"prompt": "more"}, format="json")

        assert response.status_code == 409
        assert response.json()["code"] == "invalid_state"
        assert Generation.objects.count() == 1

    def test_refine_while_queued_answers_202(self, api: APIClient, alice: Any) -> None:
        parent = finished_generation(alice, status=GenerationStatus.SUCCEEDED,
                                     error_code="", error_message="")
        # Marked succeeded without a run: give its (stored, empty) model turn a reply.
        TurnPart.objects.create(turn=Turn.objects.get(generation=parent, role="model"),
                                index=0, kind="text", text="Here it is")

        response = api.post(f"{URL}{parent.pk}/refine/", {"prompt": "more"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="r1")

        assert response.status_code == 202, response.json()
        assert response.json()["parent"] == str(parent.pk)

    def test_retry_while_queued_answers_202(self, api: APIClient, alice: Any) -> None:
        failed = finished_generation(alice)

        response = api.post(f"{URL}{failed.pk}/retry/")

        assert response.status_code == 202
        assert response.json()["status"] == "pending"
        assert response["Location"].endswith(f"{failed.pk}/")

    def test_retry_of_a_pending_generation_is_409(self, api: APIClient, alice: Any) -> None:
        response = api.post(f"{URL}{pending_generation(alice).pk}/retry/")
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_state"

    def test_cancel_a_pending_generation(self, api: APIClient, alice: Any) -> None:
        pending = pending_generation(alice)

        response = api.post(f"{URL}{pending.pk}/cancel/")
        again = api.post(f"{URL}{pending.pk}/cancel/")

        assert response.status_code == again.status_code == 200
        assert response.json()["status"] == "canceled"

    def test_cancel_a_finished_generation_is_409(self, api: APIClient, alice: Any) -> None:
        response = api.post(f"{URL}{finished_generation(alice).pk}/cancel/")
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_state"

    def test_image_of_a_pending_generation_is_404(self, api: APIClient, alice: Any) -> None:
        response = api.get(f"{URL}{pending_generation(alice).pk}/image/",
                           HTTP_ACCEPT="image/png")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "not_found"

    def test_too_long_idempotency_key_is_a_field_error(self, api: APIClient) -> None:
        response = api.post(URL, {"prompt": "x"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="k" * 256)
        assert response.status_code == 400
        assert "Idempotency-Key" in response.json()["fields"]
        assert Generation.objects.count() == 0

    @pytest.mark.parametrize(("payload", "field"), [
        ({}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 32_001}, "prompt"),
        ({"prompt": "x", "width": 0}, "width"),
        ({"prompt": "x", "height": 8193}, "height"),
        ({"prompt": "x", "seed": 2**31}, "seed"),
        ({"prompt": "x", "media_assets": ["not-a-uuid"]}, "media_assets.0"),
        ({"prompt": "x", "media_assets": ["6f1c1f8e-8d4b-4f7e-9a59-5d2f3b0c1a2b"]},
         "media_assets"),
        ({"prompt": "x", "enable_grounding": "maybe"}, "enable_grounding"),
    ])
    def test_invalid_input_is_a_field_error(self, api: APIClient, payload: dict[str, Any],
                                            field: str) -> None:
        response = api.post(URL, payload, format="json")

        assert response.status_code == 400
        data = response.json()
        assert data["code"] == "validation_error"
        assert field in data["fields"], data
        assert data["message"]
        assert Generation.objects.count() == 0

    def test_another_users_asset_cannot_be_sent(self, api: APIClient, make_user: Any) -> None:
        theirs = make_asset(make_user("bob"))

        response = api.post(URL, {"prompt": "x", "media_assets": [str(theirs.pk)]},
                            format="json")

        assert response.status_code == 400
        assert "media_assets" in response.json()["fields"]

    def test_a_listed_twice_asset_is_refused_by_the_services(self, api: APIClient,
                                                             alice: Any) -> None:
        asset = make_asset(alice)

        response = api.post(URL, {"prompt": "x", "media_assets": [str(asset.pk)] * 2},
                            format="json")

        assert response.status_code == 400
        assert "twice" in response.json()["fields"]["media_assets"][0]
