"""The clients compared: ours, raw httpx, and the official ``google-genai`` SDK on each
transport it can pick. Each asks the emulator for the same 1:1 1K image with the same
seed, and returns the decoded image bytes, so every peer does the same work.

The OpenAI path has its own set (``OPENAI_PEERS``): ours with ``gpt-image-2``, raw httpx
and the official ``openai`` SDK, each asking the same emulator's ``/v1/images/generations``
for a 1024x1024 image."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx

from aigen_app.client import AIGenerationClient, GenerationRequest, ProviderConfig

MODEL = "gemini-nano-banana-2.1"
OPENAI_MODEL = "gpt-image-2"
API_KEY = "benchmark-key"
PROMPT = "A lighthouse on a cliff at dawn, photographed with a long lens"
SEED = 7

Generate = Callable[[], Awaitable[bytes]]


@dataclass
class Options:
    """How a peer is configured for one benchmark."""

    size: int = 1024  # edge of the square image asked for (the native 1:1 size of a tier)
    retries: bool = False  # the SDK's retry options (ours always retries)
    client_kwargs: dict[str, Any] = field(default_factory=dict)  # extra AIGenerationClient args


class Peer:
    """Open a client in ``open`` (inside the running loop), call ``generate``, ``close``."""

    name = ""

    def __init__(self, base_url: str, options: Options | None = None) -> None:
        self.base_url = base_url
        self.options = options or Options()
        self.stack = AsyncExitStack()

    async def open(self) -> Generate:
        raise NotImplementedError

    async def close(self) -> None:
        await self.stack.aclose()


class Ours(Peer):
    name = "ours"

    async def open(self) -> Generate:
        size = self.options.size
        client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=self.base_url,
                                    **self.options.client_kwargs)
        self.client = client
        self.stack.push_async_callback(client.close)
        request = GenerationRequest(PROMPT, size, size, seed=SEED)

        async def generate() -> bytes:
            return (await client.generate(request)).image_data

        return generate


def _body(size: int) -> dict[str, Any]:
    tier = {1024: "1K", 2048: "2K", 4096: "4K"}[size]
    return {
        "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "seed": SEED,
                             "imageConfig": {"aspectRatio": "1:1", "imageSize": tier}},
    }


class RawHttpx(Peer):
    """What a few lines of httpx would do: post, ``json``, ``base64``."""

    name = "raw httpx"

    async def open(self) -> Generate:
        client = await self.stack.enter_async_context(
            httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=None))
        )
        url = f"{self.base_url}/models/{MODEL}:generateContent"
        body = _body(self.options.size)

        async def generate() -> bytes:
            response = await client.post(url, json=body, headers={"x-goog-api-key": API_KEY})
            response.raise_for_status()
            data = json.loads(response.content)
            parts = data["candidates"][0]["content"]["parts"]
            inline = next(p["inlineData"] for p in parts if "inlineData" in p)
            return base64.b64decode(inline["data"])

        return generate


class GenAI(Peer):
    """``google-genai``'s async client; ``transport`` picks its HTTP stack."""

    transport = "aiohttp"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"google-genai/{self.transport}"

    def _client_args(self) -> dict[str, Any]:
        if self.transport == "httpx2":
            import httpx2

            return {"transport": httpx2.AsyncHTTPTransport()}
        if self.transport == "httpx":
            return {"transport": httpx.AsyncHTTPTransport()}
        return {}  # the SDK takes aiohttp whenever it is installed

    async def open(self) -> Generate:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            base_url=self.base_url.removesuffix("v1beta"), api_version="v1beta",
            async_client_args=self._client_args(),
            retry_options=types.HttpRetryOptions() if self.options.retries else None,
        )
        client = genai.Client(api_key=API_KEY, http_options=options)
        self.stack.push_async_callback(client.aio.aclose)
        tier = {1024: "1K", 2048: "2K", 4096: "4K"}[self.options.size]
        config = types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"], seed=SEED,
            image_config=types.ImageConfig(aspect_ratio="1:1", image_size=tier),
        )

        async def generate() -> bytes:
            response = await client.aio.models.generate_content(
                model=MODEL, contents=PROMPT, config=config
            )
            parts = response.candidates[0].content.parts  # type: ignore[index,union-attr]
            return next(p.inline_data.data for p in parts if p.inline_data)  # type: ignore[union-attr,return-value]

        return generate


class GenAIHttpx2(GenAI):
    transport = "httpx2"


class GenAIHttpx(GenAI):
    transport = "httpx"




class RawAiohttp(Peer):
    """The floor of this set-up, not a peer: aiohttp alone, post and read the bytes, no
    JSON, no base64. What is left of its time is the emulator's and the loopback's."""

    name = "floor: raw aiohttp (no parsing)"

    async def open(self) -> Generate:
        import aiohttp

        session = await self.stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        )
        url = f"{self.base_url}/models/{MODEL}:generateContent"
        body = json.dumps(_body(self.options.size)).encode()
        headers = {"x-goog-api-key": API_KEY, "content-type": "application/json"}

        async def generate() -> bytes:
            async with session.post(url, data=body, headers=headers) as response:
                response.raise_for_status()
                return await response.read()

        return generate


def openai_base(base_url: str) -> str:
    """The emulator's OpenAI base from its Gemini one (the runner passes the latter)."""
    return base_url.removesuffix("/v1beta") + "/v1"


class OursOpenAI(Peer):
    name = "ours/openai"

    async def open(self) -> Generate:
        size = self.options.size
        client = AIGenerationClient(
            model=OPENAI_MODEL, providers={"openai": ProviderConfig(
                API_KEY, openai_base(self.base_url))}, **self.options.client_kwargs)
        self.stack.push_async_callback(client.close)
        request = GenerationRequest(PROMPT, size, size)

        async def generate() -> bytes:
            return (await client.generate(request)).image_data

        return generate


class RawHttpxOpenAI(Peer):
    """What a few lines of httpx would do against OpenAI: post, ``json``, ``base64``."""

    name = "raw httpx/openai"

    async def open(self) -> Generate:
        client = await self.stack.enter_async_context(
            httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=None)))
        url = f"{openai_base(self.base_url)}/images/generations"
        size = self.options.size
        body = {"model": OPENAI_MODEL, "prompt": PROMPT, "size": f"{size}x{size}"}

        async def generate() -> bytes:
            response = await client.post(url, json=body,
                                         headers={"authorization": f"Bearer {API_KEY}"})
            response.raise_for_status()
            return base64.b64decode(json.loads(response.content)["data"][0]["b64_json"])

        return generate


class OpenAISDK(Peer):
    """The official ``openai`` SDK's async client, as its README configures it."""

    name = "openai"

    async def open(self) -> Generate:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(api_key=API_KEY, base_url=openai_base(self.base_url),
                             max_retries=2 if self.options.retries else 0, timeout=120)
        self.stack.push_async_callback(client.close)
        size = self.options.size

        async def generate() -> bytes:
            response = await client.images.generate(
                model=OPENAI_MODEL, prompt=PROMPT, size=f"{size}x{size}")  # type: ignore[arg-type]
            return base64.b64decode(response.data[0].b64_json)  # type: ignore[index,arg-type]

        return generate


OPENAI_PEERS: dict[str, type[Peer]] = {
    OursOpenAI.name: OursOpenAI,
    RawHttpxOpenAI.name: RawHttpxOpenAI,
    OpenAISDK.name: OpenAISDK,
}

PEERS: dict[str, type[Peer]] = {
    "ours": Ours,
    "raw httpx": RawHttpx,
    "google-genai/aiohttp": GenAI,
    "google-genai/httpx2": GenAIHttpx2,
    "google-genai/httpx": GenAIHttpx,
    RawAiohttp.name: RawAiohttp,
    **OPENAI_PEERS,
}
