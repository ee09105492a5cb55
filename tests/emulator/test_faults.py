"""Injected faults: each kind answers with the documented shape, in FIFO order."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from aigen_app.emulator import running_emulator
from aigen_app.emulator.wire import decode_base64

from .helpers import MODEL, body, decode_image, image_part, url

RPC = "type.googleapis.com/google.rpc."


def post(emu, client):
    return client.post(url(emu), json=body("faulty"))


def detail(error: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``google.rpc.<name>`` entry of an error's details; {} when there is none."""
    return next((d for d in error.get("details", []) if d["@type"] == RPC + name), {})


def test_rate_limit_is_429_with_retry_info_and_quota_failure(emu, client):
    emu.inject("rate_limit", retry_delay="1.5s")

    reply = post(emu, client)

    error = reply.json()["error"]
    assert (reply.status_code, error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert "Please retry in 1.5s." in error["message"]
    assert detail(error, "RetryInfo") == {"@type": RPC + "RetryInfo", "retryDelay": "1.5s"}
    violation = detail(error, "QuotaFailure")["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel"
    assert violation["quotaDimensions"] == {"location": "global", "model": MODEL}
    assert detail(error, "Help")["links"]
    assert "retry-after" not in reply.headers
    assert emu.requests()[0].outcome == "rate_limit"


def test_rate_limit_delay_may_be_given_in_seconds(emu, client):
    emu.inject("rate_limit", retry_delay=2.25)

    error = post(emu, client).json()["error"]

    assert detail(error, "RetryInfo")["retryDelay"] == "2.250s"


@pytest.mark.parametrize("retry_after", ["2", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_rate_limit_header_variant_has_retry_after_and_no_retry_info(emu, client, retry_after):
    emu.inject("rate_limit_header", retry_after=retry_after)

    reply = post(emu, client)

    assert reply.status_code == 429
    assert reply.headers["retry-after"] == retry_after
    assert detail(reply.json()["error"], "RetryInfo") == {}


def test_daily_quota_has_a_per_day_quota_and_no_retry_info(emu, client):
    emu.inject("daily_quota")

    reply = post(emu, client)

    error = reply.json()["error"]
    assert reply.status_code == 429
    assert detail(error, "QuotaFailure")["violations"][0]["quotaId"] == (
        "GenerateRequestsPerDayPerProjectPerModel"
    )
    assert detail(error, "RetryInfo") == {}
    assert "Please retry" not in error["message"]


@pytest.mark.parametrize(
    ("kind", "status", "rpc"),
    [("unavailable", 503, "UNAVAILABLE"), ("internal", 500, "INTERNAL"),
     ("deadline", 504, "DEADLINE_EXCEEDED"), ("bad_request", 400, "INVALID_ARGUMENT")],
)
def test_server_errors_have_google_error_bodies(emu, client, kind, status, rpc):
    emu.inject(kind)

    reply = post(emu, client)

    assert reply.status_code == status
    assert reply.json()["error"]["code"] == status
    assert reply.json()["error"]["status"] == rpc
    assert (emu.requests()[0].status, emu.requests()[0].outcome) == (status, kind)


def test_unavailable_has_the_real_overloaded_body(emu, client):
    emu.inject("unavailable")

    assert post(emu, client).json() == {"error": {
        "code": 503, "message": "The model is overloaded. Please try again later.",
        "status": "UNAVAILABLE",
    }}


def test_bad_request_carries_the_given_message(emu, client):
    emu.inject("bad_request", message="Something is off.")

    assert post(emu, client).json()["error"]["message"] == "Something is off."


def test_reset_drops_the_connection_without_an_answer(emu, client):
    emu.inject("reset")

    with pytest.raises(httpx.TransportError):
        post(emu, client)
    assert (emu.requests()[0].status, emu.requests()[0].outcome) == (0, "reset")
    assert post(emu, client).status_code == 200  # the next connection is fine


def test_hang_never_answers(emu, client):
    emu.inject("hang")

    with pytest.raises(httpx.ReadTimeout):
        client.post(url(emu), json=body(), timeout=0.3)
    assert (emu.requests()[0].status, emu.requests()[0].outcome) == (0, "hang")


def test_latency_fault_delays_then_succeeds(emu, client):
    emu.inject("latency", seconds=0.2)

    started = time.monotonic()
    reply = post(emu, client)

    assert time.monotonic() - started >= 0.2
    assert reply.status_code == 200
    assert emu.requests()[0].outcome == "latency"


def test_configured_latency_applies_to_every_reply(client):
    with running_emulator(latency=0.2) as emu:
        started = time.monotonic()
        assert post(emu, client).status_code == 200
        assert time.monotonic() - started >= 0.2


def test_latency_runs_from_arrival_and_includes_the_emulators_own_work(client, monkeypatch):
    """Drawing the image happens inside the configured latency, not after it, so many
    requests arriving together are not answered later than ``latency`` by the emulator
    working through them one after another."""
    from aigen_app.emulator import images
    from aigen_app.emulator import reply as reply_module

    drawn = images.render_image

    def slow_render(*args: Any) -> bytes:
        time.sleep(0.6)
        return drawn(*args)

    monkeypatch.setattr(reply_module, "render_image", slow_render)
    with running_emulator(latency=1.0) as emu:
        started = time.monotonic()
        assert post(emu, client).status_code == 200
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.5  # 1.6 s if the pause came after the drawing


@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT"])
def test_block_prompt_is_a_200_with_prompt_feedback_and_no_candidates(emu, client, reason):
    emu.inject("block_prompt", reason=reason)

    reply = post(emu, client)

    data = reply.json()
    assert reply.status_code == 200
    assert "candidates" not in data
    assert data["promptFeedback"]["blockReason"] == reason
    assert data["usageMetadata"]["promptTokenCount"] > 0


@pytest.mark.parametrize(
    ("kind", "params", "finish_reason"),
    [("block_image", {}, "IMAGE_SAFETY"),
     ("block_image", {"reason": "IMAGE_PROHIBITED_CONTENT", "message": "Nope."},
      "IMAGE_PROHIBITED_CONTENT"),
     ("no_image", {}, "NO_IMAGE"),
     ("image_other", {}, "IMAGE_OTHER")],
)
def test_no_image_finishes_have_empty_content(emu, client, kind, params, finish_reason):
    emu.inject(kind, **params)

    candidate = post(emu, client).json()["candidates"][0]

    assert candidate["content"] == {}
    assert candidate["finishReason"] == finish_reason
    assert candidate["finishMessage"] == params.get("message", candidate["finishMessage"])


def test_image_other_has_the_real_finish_message(emu, client):
    emu.inject("image_other")

    assert post(emu, client).json()["candidates"][0]["finishMessage"] == (
        "Unable to show the generated image. The model could not generate the image based "
        "on the prompt provided."
    )


def test_text_only_is_stop_without_an_image(emu, client):
    emu.inject("text_only")

    candidate = post(emu, client).json()["candidates"][0]

    assert candidate["finishReason"] == "STOP"
    assert [list(p) for p in candidate["content"]["parts"]] == [["text", "thoughtSignature"]]


def test_malformed_json_is_a_truncated_200(emu, client):
    emu.inject("malformed_json")

    reply = post(emu, client)

    assert reply.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.content)


def test_malformed_base64_is_not_base64_in_either_alphabet(emu, client):
    emu.inject("malformed_base64")

    data = image_part(post(emu, client).json())["inlineData"]["data"]

    assert decode_base64(data) is None
    with pytest.raises(ValueError):
        base64.b64decode(data, validate=True)


def test_invalid_image_decodes_but_is_no_image(emu, client):
    emu.inject("invalid_image")

    raw = base64.b64decode(image_part(post(emu, client).json())["inlineData"]["data"])

    with pytest.raises(OSError):
        Image.open(io.BytesIO(raw))


def test_scripted_faults_are_consumed_in_order(emu, client):
    emu.inject("unavailable", times=2)
    emu.inject("internal")

    statuses = [post(emu, client).status_code for _ in range(4)]

    assert statuses == [503, 503, 500, 200]
    assert [e.outcome for e in emu.requests()] == ["unavailable", "unavailable", "internal", "ok"]


def test_invalid_requests_do_not_consume_faults(emu, client):
    emu.inject("unavailable")

    assert client.post(url(emu), json={"contents": []}).status_code == 400
    assert post(emu, client).status_code == 503


@pytest.mark.parametrize(
    ("kind", "times", "params"),
    [("volcano", 1, {}), ("unavailable", 0, {}), ("rate_limit", 1, {"retry_after": "2"})],
)
def test_bad_injections_are_refused(emu, kind, times, params):
    with pytest.raises(ValueError):
        emu.inject(kind, times=times, **params)


def test_fault_rates_are_reproducible_with_a_seed(emu, client):
    def run() -> list[int]:
        emu.clear()
        emu.set_fault_rates({"unavailable": 0.5})
        emu.seed(1234)
        return [post(emu, client).status_code for _ in range(16)]

    first = run()

    assert set(first) == {200, 503}
    assert run() == first


def test_fault_rate_of_one_always_fires_and_clear_removes_it(emu, client):
    emu.set_fault_rates({"internal": 1.0})
    assert [post(emu, client).status_code for _ in range(3)] == [500, 500, 500]

    emu.clear()

    assert post(emu, client).status_code == 200
    assert [e.outcome for e in emu.requests()] == ["ok"]


@pytest.mark.parametrize("rates", [{"unavailable": 0.7, "reset": 0.5}, {"unavailable": -0.1},
                                   {"meteor": 0.1}])
def test_invalid_fault_rates_are_refused(emu, rates):
    with pytest.raises(ValueError):
        emu.set_fault_rates(rates)


def test_rpm_limit_is_a_real_429_with_a_fractional_delay(client):
    with running_emulator(rpm=2) as emu:
        statuses = [post(emu, client).status_code for _ in range(2)]
        refused = post(emu, client)
        outcomes = [e.outcome for e in emu.requests()]

    error = refused.json()["error"]
    delay = detail(error, "RetryInfo")["retryDelay"]
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert re.fullmatch(r"\d+\.\d{3}s", delay)
    assert 0 < float(delay[:-1]) <= 60
    assert re.search(r"Please retry in \d+\.\d{9}s\.", error["message"])
    assert detail(error, "QuotaFailure")["violations"][0]["quotaValue"] == "2"
    assert outcomes == ["ok", "ok", "rpm_limit"]


def test_refused_requests_do_not_count_toward_the_rpm_window(client):
    with running_emulator(rpm=1) as emu:
        assert post(emu, client).status_code == 200
        assert post(emu, client).status_code == 429
        emu.set_rpm(2)
        assert post(emu, client).status_code == 200  # the refusal did not take the slot
        emu.set_rpm(None)
        assert post(emu, client).status_code == 200


def test_rpm_is_checked_before_scripted_faults(client):
    with running_emulator(rpm=1) as emu:
        post(emu, client)
        emu.inject("unavailable")

        assert post(emu, client).status_code == 429
        assert [(f.kind, n) for f, n in emu.pending_faults()] == [("unavailable", 1)]


def test_faults_do_not_change_a_later_success(emu, client):
    emu.inject("malformed_json")
    post(emu, client)

    assert decode_image(post(emu, client).json())
