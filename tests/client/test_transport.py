"""Every sync caller reaches the client through async_to_sync, on a fresh loop each time:
the client must never touch a pool of a closed loop."""

from __future__ import annotations

import asyncio
import json

import httpx
import respx
from asgiref.sync import async_to_sync

from aigen_app.client import AIGenerationClient, GenerationRequest

from .helpers import API_KEY, BASE_URL, MODEL, URL, ok


@respx.mock
def test_each_event_loop_gets_its_own_pool_closed_with_the_loop() -> None:
    respx.post(URL).mock(side_effect=lambda request: ok())
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL)
    seen: list[httpx.AsyncClient] = []

    async def call() -> None:
        await client.generate(GenerationRequest("p", 64, 64))
        seen.append(await client.pools.get())

    asyncio.run(call())
    asyncio.run(call())
    assert client.pools.opened == 2
    assert seen[0] is not seen[1]
    # asyncio.run shut each loop's async generators down, which closed its pool
    assert seen[0].is_closed and seen[1].is_closed


@respx.mock
def test_repeated_async_to_sync_calls_on_one_client_succeed() -> None:
    respx.post(URL).mock(side_effect=lambda request: ok(width=64, height=64))
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL)
    generate = async_to_sync(client.generate)
    for _ in range(10):
        assert generate(GenerationRequest("p", 64, 64)).width == 64


@respx.mock
async def test_one_pool_per_loop_is_reused_within_the_loop() -> None:
    respx.post(URL).mock(side_effect=lambda request: ok(width=64, height=64))
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL)
    for _ in range(3):
        await client.generate(GenerationRequest("p", 64, 64))
    assert client.pools.opened == 1
    await client.close()


async def test_the_default_transport_reaches_the_server_and_decodes_compressed_replies(
) -> None:
    """Without a mock in the way, requests go over aiohttp to the server and a
    compressed reply is decoded; with respx in place, it sees the request instead."""
    import gzip

    from aiohttp import web

    from .helpers import success_body

    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers["x-goog-api-key"])
        data = json.dumps(success_body(64, 64)).encode()
        return web.Response(body=gzip.compress(data), headers={
            "Content-Encoding": "gzip", "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_post("/v1beta/models/{tail}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        client = AIGenerationClient(api_key=API_KEY, model=MODEL,
                                    base_url=f"http://127.0.0.1:{port}/v1beta")
        result = await client.generate(GenerationRequest("p", 64, 64))
        with respx.mock:  # a mock in place: it answers, the server sees nothing
            url = f"http://127.0.0.1:{port}/v1beta/models/{MODEL}:generateContent"
            route = respx.post(url).mock(return_value=httpx.Response(
                200, json=success_body(64, 64)))
            await client.generate(GenerationRequest("p", 64, 64))
            assert route.called
        await client.close()
    finally:
        await runner.cleanup()
    assert (result.width, seen) == (64, [API_KEY])
