"""``AIGenerationClient``: the request/retry/limit loop around the Gemini wire format.

The wire format (payload, reply parsing, error mapping) lives in ``gemini.py``; this
module owns the flow: validate, limit, send, retry what is retryable, honour the
server's wait, enforce time limits, fit the image to the exact size, and log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter

from . import gemini
from .background import background_loop
from .catalog import DEFAULT_MODEL, choose_tier, get_model_spec, nearest_ratio, validate_size
from .errors import (
    ConfigurationError,
    ContentPolicyError,
    GenerationError,
    GenerationTimeoutError,
    RateLimitError,
    TransportError,
)
from .imaging import fit_exact, mime_if_exact
from .limiter import RateLimiter
from .transport import AiohttpTransport, LoopPools
from .types import GenerationRequest, GenerationResponse

logger = logging.getLogger("aigen.client")

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
API_KEY_ENV_VARS = ("AI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
_DEFAULT = object()


@dataclass(frozen=True)
class RetryEvent:
    """Passed to ``on_retry`` before each wait: what failed and how long we wait."""

    generation_id: str
    attempt: int
    error: GenerationError
    wait: float


@dataclass
class _Call:
    generation_id: str
    model: str
    started: float
    deadline: float
    body: bytes = b""
    attempts: int = 0
    deadline_hit: bool = False

    def log(self, level: int, event: str, *, status: int | str, latency_ms: int,
            **more: object) -> None:
        """One structured line: the same fields in the text and, prefixed ``aigen_``, as
        LogRecord attributes (``extra``) for JSON formatters; ``more`` fields that are None
        are left out. Never the key or image bytes."""
        fields: dict[str, object] = {
            "generation_id": self.generation_id, "model": self.model,
            "attempt": self.attempts,
            "status": status, "latency_ms": latency_ms,
            **{name: value for name, value in more.items() if value is not None},
        }
        text = " ".join(f"{name}={value}" for name, value in fields.items())
        extra = {f"aigen_{name}": value for name, value in fields.items()}
        logger.log(level, "%s %s", event, text, extra={"aigen_event": event, **extra})

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


class _PastDeadline(stop_base):
    """Stop retrying when the next wait would end past the call's deadline."""

    def __init__(self, call: _Call) -> None:
        self.call = call

    def __call__(self, retry_state: RetryCallState) -> bool:
        if time.monotonic() + retry_state.upcoming_sleep >= self.call.deadline:
            self.call.deadline_hit = True
            return True
        return False


def _failure(retry_state: RetryCallState) -> GenerationError:
    """The error of the attempt tenacity is deciding about (only GenerationErrors retry)."""
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    if not isinstance(exc, GenerationError):
        raise RuntimeError("retry decision without a GenerationError outcome")
    return exc


def _server_wait(exc: GenerationError) -> float | None:
    """The wait the server asked for (RetryInfo, Retry-After), on the errors that carry one."""
    wait = getattr(exc, "retry_after", None)
    return None if wait is None else float(wait)


async def _exact_size(data: bytes, width: int, height: int) -> tuple[bytes, str]:
    # Already the right size: only checksums to check, cheaper than a thread hop.
    mime = mime_if_exact(data, width, height)
    if mime is not None:
        return data, mime
    # Decoding, resizing and encoding take tens of milliseconds or more.
    fitted, fitted_mime, _ = await asyncio.to_thread(fit_exact, data, width, height)
    return fitted, fitted_mime


def _record_failure(call: _Call, exc: GenerationError) -> None:
    """Give the error the call's attempt count and log the outcome line."""
    exc.attempts = call.attempts
    call.log(
        logging.WARNING, "generation failed",
        status="blocked" if isinstance(exc, ContentPolicyError) else exc.code,
        latency_ms=call.elapsed_ms(), http_status=exc.status, error=exc.message,
    )


class AIGenerationClient:
    """Async client for Gemini image generation. Safe to share: one object serves any
    number of event loops (see ``transport.LoopPools``) and threads."""

    def __init__(
        self,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 120,
        max_retries: int = 3,
        *,
        base_url: str | None = None,
        max_retry_wait: float = 30.0,
        deadline: float = 300.0,
        limiter: RateLimiter | None = None,
        system_instruction: Any = _DEFAULT,
        safety_settings: list[dict[str, str]] | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_connections: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        key = api_key or next((os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), "")
        if not key:
            raise ConfigurationError(
                "No Gemini API key: pass api_key= or set the AI_API_KEY environment variable."
            )
        if max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")
        if timeout <= 0 or deadline <= 0:
            raise ConfigurationError("timeout and deadline must be positive")
        self._api_key = key
        self.model = model or os.environ.get("AI_MODEL") or DEFAULT_MODEL
        self.base_url = (base_url or os.environ.get("AI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_retry_wait = float(max_retry_wait)
        self.deadline = float(deadline)
        self.limiter = limiter
        self.system_instruction = (
            gemini.DEFAULT_SYSTEM_INSTRUCTION if system_instruction is _DEFAULT
            else system_instruction
        )
        self.safety_settings = safety_settings
        self.on_retry = on_retry
        self._sleep = sleep
        self._transport = transport
        self._max_connections = max_connections
        self.pools = LoopPools(self._new_pool)
        self._urls: dict[str, httpx.URL] = {}

    def __repr__(self) -> str:
        return f"<AIGenerationClient model={self.model!r} base_url={self.base_url!r}>"

    def _new_pool(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._transport or AiohttpTransport(max_connections=self._max_connections),
            headers={"x-goog-api-key": self._api_key, "content-type": "application/json"},
            timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
            limits=httpx.Limits(max_connections=self._max_connections,
                                max_keepalive_connections=32),
        )

    async def __aenter__(self) -> AIGenerationClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.pools.close()

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        """Generate one image of exactly ``request.width`` x ``request.height``."""
        started = time.monotonic()
        model = request.model or self.model
        call = _Call(generation_id=request.generation_id or str(uuid.uuid4()), model=model,
                     started=started, deadline=started + self.deadline)
        try:  # any failure, before a request is sent or after, logs one outcome line
            validate_size(request.width, request.height)
            spec = get_model_spec(model)
            ratio = nearest_ratio(spec, request.width, request.height)
            tier = choose_tier(spec, ratio, request.width, request.height)
            seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
            payload = gemini.build_payload(
                request, spec, seed=seed, aspect_ratio=ratio, image_size=tier,
                system_instruction=self.system_instruction,
                safety_settings=self.safety_settings,
            )
            call.body = gemini.encode_payload(payload)
            reply = await self._send_with_retries(call)
            image, mime = await _exact_size(reply.image_data, request.width, request.height)
        except GenerationError as exc:
            _record_failure(call, exc)
            raise
        elapsed_ms = call.elapsed_ms()
        call.log(logging.INFO, "generation succeeded", status="ok", latency_ms=elapsed_ms,
                 ratio=ratio, size=tier)
        return GenerationResponse(
            image_data=image, generation_id=call.generation_id, seed=seed,
            inference_time_ms=elapsed_ms, mime_type=mime, width=request.width,
            height=request.height, model=model, model_turn=reply.model_turn, text=reply.text,
            usage=reply.usage, model_version=reply.model_version,
            response_id=reply.response_id, finish_reason=reply.finish_reason,
            attempts=call.attempts, aspect_ratio=ratio, image_size=tier,
        )

    def generate_sync(self, request: GenerationRequest) -> GenerationResponse:
        """``generate`` for synchronous code (views, tasks, commands); blocks the thread.

        Calls from every thread run on one background event loop, so they share this
        client's pool and reuse its connections, where ``async_to_sync`` would open a new
        loop, pool and connection for each call. Not for use inside a running event loop.
        """
        return background_loop.run(self.generate(request))

    async def _send_with_retries(self, call: _Call) -> gemini.ParsedReply:
        retrying = AsyncRetrying(
            retry=retry_if_exception(self._is_retryable),
            wait=self._wait_for,
            stop=stop_after_attempt(self.max_retries + 1) | _PastDeadline(call),
            sleep=self._sleep,
            before_sleep=lambda rs: self._before_sleep(call, rs),
            retry_error_callback=lambda rs: self._give_up(call, rs),
        )
        reply: gemini.ParsedReply = await retrying(self._attempt, call)
        return reply

    def _is_retryable(self, exc: BaseException) -> bool:
        if not isinstance(exc, GenerationError) or not exc.retryable:
            return False
        if isinstance(exc, RateLimitError) and exc.per_day:
            return False
        # A wait the server asks for (a 429's or a 5xx's) that is longer than we may sleep
        # goes back to the caller at once, so it can reschedule instead of holding a worker.
        return (_server_wait(exc) or 0.0) <= self.max_retry_wait

    def _wait_for(self, retry_state: RetryCallState) -> float:
        exc = _failure(retry_state)
        server_wait = _server_wait(exc)
        if server_wait is not None:  # at most max_retry_wait: longer ones are not retried
            return server_wait
        backoff = wait_exponential_jitter(initial=1, exp_base=2, max=self.max_retry_wait, jitter=1)
        return float(backoff(retry_state))

    def _before_sleep(self, call: _Call, retry_state: RetryCallState) -> None:
        exc = _failure(retry_state)
        wait = retry_state.upcoming_sleep
        call.log(logging.INFO, "retrying", status=exc.code, latency_ms=call.elapsed_ms(),
                 wait=f"{wait:.3f}s")
        if self.on_retry is not None:
            self.on_retry(RetryEvent(call.generation_id, call.attempts, exc, wait))

    def _give_up(self, call: _Call, retry_state: RetryCallState) -> Any:
        exc = _failure(retry_state)
        if call.deadline_hit:
            raise GenerationTimeoutError(
                self.deadline,
                f"Gave up after {call.attempts} attempt(s): the {self.deadline:g}s deadline "
                f"would pass before the next try (last error: {exc})",
                attempts=call.attempts,
            ) from exc
        raise exc

    async def _attempt(self, call: _Call) -> gemini.ParsedReply:
        call.attempts += 1
        remaining = call.deadline - time.monotonic()
        if remaining <= 0:
            call.deadline_hit = True
            raise GenerationTimeoutError(self.deadline, attempts=call.attempts)
        started = time.monotonic()
        limit = min(self.timeout, remaining)
        status: int | str = "error"  # the HTTP status, or the error code when none came
        try:
            async with contextlib.AsyncExitStack() as held:
                if self.limiter is not None:
                    # Waiting for capacity is bounded by the call's deadline only: the
                    # per-attempt timeout is for the request, which has not been sent yet.
                    # A 429's cooldown longer than max_retry_wait raises RateLimitError,
                    # which is not retried: the caller reschedules, as after the 429.
                    try:
                        async with asyncio.timeout(remaining):
                            await held.enter_async_context(
                                self.limiter.slot(call.model, max_wait=self.max_retry_wait))
                    except TimeoutError:
                        call.deadline_hit = True
                        raise GenerationTimeoutError(
                            self.deadline, "Timed out waiting for rate-limit capacity",
                            attempts=call.attempts) from None
                    limit = min(self.timeout, call.deadline - time.monotonic())
                async with asyncio.timeout(limit):
                    status, headers, body = await self._post(call)
            # The limiter slot is released once the reply is read, before parsing.
            if status == 200:
                data = gemini.load_reply(body)
                del body  # its last reference: freed before the image is decoded
                return gemini.reply_from_json(data)
            error = gemini.error_from_reply(status, headers, body)
            if isinstance(error, RateLimitError) and self.limiter is not None:
                self.limiter.cooldown(call.model, error.retry_after or 0.0)
            raise error
        except TimeoutError as exc:
            status = GenerationTimeoutError.code
            raise GenerationTimeoutError(limit, attempts=call.attempts) from exc
        except GenerationError as exc:
            if not isinstance(status, int):  # no reply: a timeout, connection error, pause
                status = exc.code
            raise
        finally:
            call.log(logging.INFO, "attempt", status=status,
                     latency_ms=int((time.monotonic() - started) * 1000))

    async def _post(self, call: _Call) -> tuple[int, httpx.Headers, bytes]:
        pool = await self.pools.get()
        url = self._urls.get(call.model)
        if url is None:  # parsed once per model: httpx parses a string URL in Python
            url = httpx.URL(f"{self.base_url}/models/{call.model}:generateContent")
            self._urls[call.model] = url
        try:
            transport = _direct_transport(pool, url)
            if transport is not None:
                return await transport.post(str(url), pool.headers.multi_items(), call.body,
                                            pool.timeout.as_dict())
            response = await pool.post(url, content=call.body)
        except httpx.TimeoutException:
            raise GenerationTimeoutError(self.timeout) from None
        except httpx.TransportError as exc:
            # Connection refused/reset, protocol errors: the message names no key.
            raise TransportError(f"connection error: {type(exc).__name__}: {exc}") from None
        return response.status_code, response.headers, response.content


def _direct_transport(pool: httpx.AsyncClient, url: httpx.URL) -> AiohttpTransport | None:
    """Our own transport when it is the one ``pool`` would send ``url`` through, so the
    request can skip ``AsyncClient``'s layers (none of which the client uses: no auth,
    redirects, cookies or event hooks). Anything else (a proxy mounted from the
    environment, ``transport=``, respx patching ``_transport_for_url``) goes through
    ``pool.post`` as usual."""
    pick = getattr(pool, "_transport_for_url", None)  # httpx's; absent: the usual path
    transport = pick(url) if pick is not None else None
    return transport if type(transport) is AiohttpTransport else None
