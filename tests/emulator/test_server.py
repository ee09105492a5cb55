"""Server lifecycle and load: clean start/stop, no blocking on hangs, many clients."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest

from aigen_app.emulator import EmulatorServer, running_emulator
from aigen_app.emulator.faults import RpmWindow

from .helpers import KEY, body, url


def test_start_listens_and_stop_releases_the_port():
    server = EmulatorServer()
    with pytest.raises(RuntimeError):
        _ = server.port
    server.start()
    try:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1beta"
        with pytest.raises(RuntimeError):
            server.start()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
    finally:
        server.stop()
    server.stop()  # idempotent
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass


def test_a_taken_port_fails_start_with_os_error(emu):
    with pytest.raises(OSError):
        EmulatorServer(port=emu.port).start()


def test_stop_ends_hanging_requests_at_once():
    errors: list[BaseException] = []
    with running_emulator() as emu:
        emu.inject("hang", times=3)

        def call() -> None:
            try:
                httpx.post(url(emu), json=body(), headers={"x-goog-api-key": KEY}, timeout=60)
            except httpx.TransportError as exc:
                errors.append(exc)

        callers = [threading.Thread(target=call) for _ in range(3)]
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 30
        while len(emu.requests()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    for caller in callers:
        caller.join(30)

    assert len(errors) == 3
    assert [e.outcome for e in emu.requests()] == ["hang"] * 3


def test_a_client_giving_up_ends_its_hang(emu, client):
    emu.inject("hang")
    with pytest.raises(httpx.ReadTimeout):
        client.post(url(emu), json=body(), timeout=0.2)

    assert client.post(url(emu), json=body()).status_code == 200


def test_with_statement_runs_the_server():
    with EmulatorServer() as server:
        assert httpx.post(url(server), json=body(), params={"key": KEY},
                          timeout=30).status_code == 200


async def test_hundreds_of_concurrent_requests():
    request = body("load", size="512")
    request["generationConfig"]["responseModalities"] = ["IMAGE"]
    with running_emulator() as emu:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=60, limits=limits,
                                     headers={"x-goog-api-key": KEY}) as client:
            target = url(emu, "gemini-3.1-flash-image")
            replies = await asyncio.gather(*(client.post(target, json=request)
                                             for _ in range(200)))
        log = emu.requests()

    assert [r.status_code for r in replies] == [200] * 200
    assert len({r.json()["responseId"] for r in replies}) == 200
    assert len(log) == 200
    assert [e.received_at for e in log] == sorted(e.received_at for e in log)


def test_rpm_window_reports_the_exact_wait_for_the_oldest_request():
    window = RpmWindow(2)

    assert window.admit(100.0) is None
    assert window.admit(110.25) is None
    assert window.admit(130.5) == pytest.approx(29.5)
    assert window.admit(160.0) is None  # the first request left the window
    assert window.admit(160.1) == pytest.approx(10.15)


def test_access_log_leaves_out_the_query_string_and_its_key(caplog):
    caplog.set_level("INFO", logger="aiohttp.access")
    with EmulatorServer(access_log=True) as server:
        httpx.post(url(server), json=body(), params={"key": KEY}, timeout=30)

    assert ":generateContent 200" in caplog.text
    assert KEY not in caplog.text


def test_the_request_log_keeps_only_the_latest_entries(monkeypatch):
    from aigen_app.emulator import state

    monkeypatch.setattr(state, "LOG_LIMIT", 3)
    with running_emulator() as emu:
        for index in range(5):
            httpx.post(url(emu), json=body(f"prompt {index}"), headers={"x-goog-api-key": KEY},
                       timeout=30)
        assert [entry.prompt for entry in emu.requests()] == [
            "prompt 2", "prompt 3", "prompt 4"]
