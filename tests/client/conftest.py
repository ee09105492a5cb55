"""respx intercepts requests at httpx's client layer in these tests.

The client's default transport is aiohttp-based (``aigen_app.client.transport.AiohttpTransport``),
which respx's default mode (patching httpcore, httpx's own transport) never sees; its
``httpx`` mode stands in for any transport. Projects mocking the client with respx do the
same: ``respx.mock(using="httpx")``.
"""

from __future__ import annotations

import pytest
import respx.mocks


@pytest.fixture(autouse=True)
def _respx_mocks_the_httpx_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(respx.mocks, "DEFAULT_MOCKER", "httpx")
