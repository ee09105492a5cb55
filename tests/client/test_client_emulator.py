"""The client against the bundled emulator over a real loopback socket: every failure
mode maps to its exception with the stated number of attempts, and the waits between
attempts (read from the emulator's request log) are the server's requested delays."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from PIL import Image

from aigen_app.client import (
    AIGenerationClient,
    AuthenticationError,
    ContentPart,
    ContentPolicyError,
    ConversationTurn,
    GenerationRequest,
    GenerationTimeoutError,
    InvalidRequestError,
    MalformedResponseError,
    NoImageError,
    RateLimitError,
    ServerError,
    TransportError,
)
from aigen_app.emulator import running_emulator

# Real waits are measured here: allow scheduling noise above, never below. A loaded CI
# machine has stalled a process for 0.3 s; this still tells the server's 0.4 s wait
# from a one-second backoff.
SLACK = 0.55


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with running_emulator(api_keys={"test-key"}) as server:
        yield server


@pytest.fixture
def emulator(emu: Any) -> Iterator[Any]:
    emu.clear()
    yield emu
    emu.clear()


def make_client(emulator: Any, **kwargs: Any) -> AIGenerationClient:
    options: dict[str, Any] = {"api_key": "test-key", "base_url": emulator.base_url,
                               "timeout": 10}
    options.update(kwargs)
    return AIGenerationClient(**options)


def gen(**kwargs: Any) -> GenerationRequest:
    fields: dict[str, Any] = {"prompt": "A red fox reading a newspaper", "width": 1280,
                              "height": 720}
    fields.update(kwargs)
    return GenerationRequest(**fields)


def gaps(emulator: Any) -> list[float]:
    times = [entry.received_at for entry in emulator.requests()]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_1280x720_is_16_9_and_exactly_1280x720(emulator: Any) -> None:
    async with make_client(emulator) as client:
        response = await client.generate(gen())
    (entry,) = emulator.requests()
    assert entry.aspect_ratio == "16:9"
    assert entry.image_size == "1K"
    assert Image.open(io.BytesIO(response.image_data)).size == (1280, 720)
    assert entry.seed == response.seed
    assert set(response.thought_signatures) <= emulator.issued_signatures()
    assert len(response.thought_signatures) == 2


async def test_retry_info_delays_are_the_waits_between_attempts(emulator: Any) -> None:
    emulator.inject("rate_limit", retry_delay="0.4s")
    emulator.inject("rate_limit", retry_delay="0.75s")
    async with make_client(emulator) as client:
        response = await client.generate(gen())
    assert response.attempts == 3
    assert [e.outcome for e in emulator.requests()] == ["rate_limit", "rate_limit", "ok"]
    first, second = gaps(emulator)
    assert 0.4 <= first < 0.4 + SLACK
    assert 0.75 <= second < 0.75 + SLACK


async def test_retry_after_header_is_the_wait(emulator: Any) -> None:
    emulator.inject("rate_limit_header", retry_after="1")
    async with make_client(emulator) as client:
        response = await client.generate(gen())
    assert response.attempts == 2
    (gap,) = gaps(emulator)
    assert 1.0 <= gap < 1.0 + SLACK


async def test_wait_longer_than_max_retry_wait_raises_at_once(emulator: Any) -> None:
    emulator.inject("rate_limit", retry_delay="45s")
    async with make_client(emulator) as client:
        with pytest.raises(RateLimitError) as info:
            await client.generate(gen())
    assert info.value.retry_after == pytest.approx(45.0)
    assert info.value.attempts == 1
    assert len(emulator.requests()) == 1


async def test_daily_quota_is_not_retried(emulator: Any) -> None:
    emulator.inject("daily_quota")
    async with make_client(emulator) as client:
        with pytest.raises(RateLimitError) as info:
            await client.generate(gen())
    assert info.value.per_day
    assert info.value.attempts == 1


async def test_503_then_success_backs_off_at_least_a_second(emulator: Any) -> None:
    emulator.inject("unavailable")
    async with make_client(emulator) as client:
        response = await client.generate(gen())
    assert response.attempts == 2
    (gap,) = gaps(emulator)
    assert 1.0 <= gap < 2.0 + SLACK


async def test_persistent_500_exhausts_retries(emulator: Any) -> None:
    emulator.inject("internal", times=2)
    async with make_client(emulator, max_retries=1) as client:
        with pytest.raises(ServerError) as info:
            await client.generate(gen())
    assert info.value.attempts == 2
    assert info.value.status == 500


async def test_hang_past_the_timeout_is_retried_then_a_timeout_error(emulator: Any) -> None:
    emulator.inject("hang", times=2)
    async with make_client(emulator, timeout=0.5, max_retries=1) as client:
        with pytest.raises(GenerationTimeoutError) as info:
            await client.generate(gen())
    assert info.value.attempts == 2


async def test_connection_reset_is_retried(emulator: Any) -> None:
    emulator.inject("reset")
    async with make_client(emulator) as client:
        response = await client.generate(gen())
    assert response.attempts == 2


async def test_resets_exhaust_as_transport_error(emulator: Any) -> None:
    emulator.inject("reset", times=2)
    async with make_client(emulator, max_retries=1) as client:
        with pytest.raises(TransportError) as info:
            await client.generate(gen())
    assert info.value.attempts == 2


@pytest.mark.parametrize(
    ("kind", "params", "error", "reason"),
    [
        ("block_prompt", {"reason": "SAFETY"}, ContentPolicyError, "SAFETY"),
        ("block_prompt", {"reason": "PROHIBITED_CONTENT"}, ContentPolicyError,
         "PROHIBITED_CONTENT"),
        ("block_image", {"reason": "IMAGE_SAFETY"}, ContentPolicyError, "IMAGE_SAFETY"),
        ("no_image", {}, NoImageError, "NO_IMAGE"),
        ("image_other", {}, NoImageError, "IMAGE_OTHER"),
        ("text_only", {}, NoImageError, "STOP"),
        ("malformed_json", {}, MalformedResponseError, None),
        ("malformed_base64", {}, MalformedResponseError, None),
        ("invalid_image", {}, MalformedResponseError, None),
        ("bad_request", {"message": "Invalid value"}, InvalidRequestError, None),
    ],
)
async def test_refusals_and_broken_replies_are_not_retried(
        emulator: Any, kind: str, params: dict[str, Any], error: type[Exception],
        reason: str | None) -> None:
    emulator.inject(kind, **params)
    async with make_client(emulator) as client:
        with pytest.raises(error) as info:
            await client.generate(gen())
    assert len(emulator.requests()) == 1
    assert getattr(info.value, "attempts", None) == 1
    if isinstance(info.value, ContentPolicyError):
        assert info.value.reason == reason
    if isinstance(info.value, NoImageError):
        assert info.value.finish_reason == reason
        assert info.value.message


async def test_image_other_carries_the_finish_message(emulator: Any) -> None:
    emulator.inject("image_other")
    async with make_client(emulator) as client:
        with pytest.raises(NoImageError, match="could not generate the image"):
            await client.generate(gen())


async def test_wrong_key_is_an_authentication_error(emulator: Any) -> None:
    async with make_client(emulator, api_key="wrong-key") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.generate(gen())
    assert "wrong-key" not in str(info.value)
    assert info.value.attempts == 1


async def test_unknown_model_is_not_retried(emulator: Any) -> None:
    async with make_client(emulator, model="gemini-0-image") as client:
        with pytest.raises(InvalidRequestError):
            await client.generate(gen())
    assert len(emulator.requests()) == 1


async def test_refinement_replays_every_signature_and_keeps_the_size(emulator: Any) -> None:
    async with make_client(emulator) as client:
        first = await client.generate(gen())
        history = [ConversationTurn("user", (ContentPart(text=gen().prompt),)), first.model_turn]
        second = await client.generate(gen(prompt="Make the fox wear a hat",
                                           conversation_history=history))
        hat = ConversationTurn("user", (ContentPart(text="Make the fox wear a hat"),))
        third = await client.generate(gen(
            prompt="Now at night", conversation_history=[*history, hat, second.model_turn]))
    assert Image.open(io.BytesIO(third.image_data)).size == (1280, 720)
    replayed = emulator.requests()[-1].body["contents"]
    assert [c["role"] for c in replayed] == ["user", "model", "user", "model", "user"]
    sent = [p.get("thoughtSignature") for c in replayed if c["role"] == "model" for p in c["parts"]]
    assert sent == first.thought_signatures + second.thought_signatures


async def test_refinement_with_plain_dict_history(emulator: Any) -> None:
    async with make_client(emulator) as client:
        first = await client.generate(gen())
        text_part, image_part = first.model_turn.parts
        history: list[Any] = [
            {"role": "user", "text": gen().prompt},
            {"role": "model", "parts": [
                {"text": text_part.text, "thought_signature": text_part.thought_signature},
                {"image_data": image_part.image_data, "mime_type": image_part.mime_type,
                 "thought_signature": image_part.thought_signature}]},
        ]
        second = await client.generate(gen(prompt="Add snow", conversation_history=history))
    assert second.attempts == 1


async def test_dropped_signature_is_rejected_by_the_server(emulator: Any) -> None:
    async with make_client(emulator) as client:
        first = await client.generate(gen())
        text_part, image_part = first.model_turn.parts
        unsigned = ConversationTurn("model", (text_part, ContentPart(
            image_data=image_part.image_data, mime_type=image_part.mime_type)))
        with pytest.raises(InvalidRequestError, match="missing a thought_signature") as info:
            await client.generate(gen(prompt="again", conversation_history=[
                ConversationTurn("user", (ContentPart(text="x"),)), unsigned]))
    assert info.value.attempts == 1


async def test_altered_signature_is_rejected_by_the_server(emulator: Any) -> None:
    async with make_client(emulator) as client:
        first = await client.generate(gen())
        text_part, image_part = first.model_turn.parts
        sig = image_part.thought_signature or ""
        altered = ConversationTurn("model", (text_part, ContentPart(
            image_data=image_part.image_data, mime_type=image_part.mime_type,
            thought_signature=("A" if sig[0] != "A" else "B") + sig[1:])))
        with pytest.raises(InvalidRequestError, match="invalid thought signature"):
            await client.generate(gen(prompt="again", conversation_history=[
                ConversationTurn("user", (ContentPart(text="x"),)), altered]))


def test_fifty_sequential_async_to_sync_calls_on_one_shared_client(emulator: Any) -> None:
    client = make_client(emulator)
    generate = async_to_sync(client.generate)
    sizes = {generate(gen(width=64, height=64, prompt=f"call {i}")).width for i in range(50)}
    assert sizes == {64}
    assert [e.outcome for e in emulator.requests()] == ["ok"] * 50
    assert client.pools.opened == 50  # a fresh loop each call, and never a stale pool


async def test_server_rpm_limit_gives_real_429s(emulator: Any) -> None:
    emulator.set_rpm(2)
    async with make_client(emulator) as client:
        await client.generate(gen(width=64, height=64))
        await client.generate(gen(width=64, height=64))
        with pytest.raises(RateLimitError) as info:
            await client.generate(gen(width=64, height=64))
    assert info.value.retry_after is not None
    assert 30 < info.value.retry_after <= 60
    emulator.set_rpm(None)
