"""The HTTP control API, for an emulator running in another process."""

from __future__ import annotations

import httpx
import pytest

from .helpers import KEY, body, url


@pytest.fixture
def control(emu):
    with httpx.Client(base_url=f"{emu.root_url}/_emulator", timeout=30) as http:
        yield http


def test_faults_endpoint_queues_a_fault(emu, client, control):
    answer = control.post("/faults", json={"kind": "rate_limit", "times": 2,
                                           "retry_delay": "3s"})

    assert answer.status_code == 200
    assert [client.post(url(emu), json=body()).status_code for _ in range(3)] == [429, 429, 200]


def test_faults_endpoint_refuses_unknown_kinds(control):
    answer = control.post("/faults", json={"kind": "volcano"})

    assert answer.status_code == 400
    assert "volcano" in answer.json()["error"]


def test_fault_rates_endpoint(emu, client, control):
    assert control.post("/fault-rates", json={"unavailable": 1.0}).status_code == 200

    assert client.post(url(emu), json=body()).status_code == 503
    assert control.post("/fault-rates", json={"unavailable": 2}).status_code == 400


def test_config_endpoint_sets_rpm_and_latency(emu, client, control):
    answer = control.post("/config", json={"rpm": 1, "latency": 0.01, "seed": 3})

    assert answer.json()["rpm"] == 1
    assert answer.json()["latency"] == 0.01
    assert [client.post(url(emu), json=body()).status_code for _ in range(2)] == [200, 429]
    assert control.post("/config", json={"rpm": None}).json()["rpm"] is None
    assert client.post(url(emu), json=body()).status_code == 200
    assert control.post("/config", json={"rpm": 0}).status_code == 400
    assert control.post("/config", json={"colour": "red"}).status_code == 400


def test_log_endpoint_omits_bodies_unless_asked(emu, client, control):
    client.post(url(emu), json=body("for the log"))

    (entry,) = control.get("/log").json()
    (full,) = control.get("/log", params={"bodies": "1"}).json()

    assert (entry["prompt"], entry["status"], entry["outcome"]) == ("for the log", 200, "ok")
    assert "body" not in entry
    assert full["body"]["contents"][0]["parts"][0]["text"] == "for the log"
    assert KEY not in control.get("/log", params={"bodies": "1"}).text


def test_reset_endpoint_clears_log_and_faults(emu, client, control):
    client.post(url(emu), json=body())
    control.post("/faults", json={"kind": "internal"})
    control.post("/fault-rates", json={"reset": 0.5})

    assert control.post("/reset").status_code == 200

    assert control.get("/log").json() == []
    assert control.get("/state").json()["pending_faults"] == []
    assert control.get("/state").json()["fault_rates"] == {}
    assert client.post(url(emu), json=body()).status_code == 200


def test_state_endpoint_lists_pending_faults(control):
    control.post("/faults", json={"kind": "hang", "times": 3, "seconds": 5})

    assert control.get("/state").json()["pending_faults"] == [
        {"kind": "hang", "times": 3, "seconds": 5},
    ]


def test_non_json_control_body_is_400(control):
    assert control.post("/faults", content=b"{nope").status_code == 400
