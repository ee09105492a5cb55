"""The load-and-fault test: the production setup under load, with faults injected.

Four ``db_worker`` processes (django-tasks-db on PostgreSQL) share the limiter on Redis
and store images on S3 (moto's server, a process of its own). The emulator, another
process, enforces 300 requests per minute with real 429s and injects 10% 503s, 2%
connection resets and 2% hangs (past the workers' 3 s per-attempt timeout). 200
generations are queued through the REST API; one worker is killed with SIGKILL while
its call hangs (and replaced, as a process supervisor would), and ``aigen_recover``,
run as cron would, queues its generation again once the run's deadline has passed.
Afterwards every generation is settled, each one's successful call happened once, 429s
stay under 1%, storage holds no orphan file, and the API calls made while queued work
remained use at least 90% of the limit.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django_tasks_db.models import DBTaskResult
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aigen_app.models import Generation, GenerationStatus, MediaAsset, TurnPart
from tests.support import DATABASE, TEST_API_KEY, database_url, free_port, s3_storages
from tests.support.processes import process_env, redis_caches

from .load import EmulatorControl, Figures, summarize, wait_for_port

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 300  # the emulator's requests per minute
GENERATIONS = 200
WORKERS = 4
FAULTS = {"unavailable": 0.10, "reset": 0.02, "hang": 0.02}
AIGEN = {
    "API_KEY": TEST_API_KEY, "TIMEOUT": 3.0, "MAX_RETRIES": 3, "DEADLINE": 15.0,
    # A run is lost after max(GENERATION_DEADLINE, DEADLINE + 60 s) = 75 s.
    "GENERATION_DEADLINE": 30.0,
    # The quota itself: the limiter keeps a second's margin per minute for transit.
    "LIMITER_CACHE": "limiter", "REQUESTS_PER_MINUTE": LIMIT,
    "API_CREATE_RATE": None,
}
SETTLED = {GenerationStatus.SUCCEEDED, GenerationStatus.FAILED, GenerationStatus.BLOCKED,
           GenerationStatus.CANCELED}


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL on PostgreSQL (the production database)")


@pytest.fixture
def production(
    postgresql: None, redis_url: str, tmp_path: Path, processes: Callable[..., Any],
) -> dict[str, Any]:
    """The emulator, S3 and the settings every process shares."""
    emulator = processes(
        ["manage.py", "aigen_emulator", "--port", "0", "--rpm", str(LIMIT), "--seed", "6",
         "-v", "0", *(arg for kind, rate in FAULTS.items()
                      for arg in ("--fault-rate", f"{kind}={rate}"))],
        process_env({}))
    assert emulator.stdout is not None
    base_url = emulator.stdout.readline().strip()
    assert base_url.startswith("http://127.0.0.1:"), base_url
    s3_port = free_port()
    processes(["-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)], process_env({}),
              output=tmp_path / "s3.log")
    wait_for_port(s3_port)
    import boto3

    bucket = boto3.resource("s3", endpoint_url=f"http://127.0.0.1:{s3_port}",
                            region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing").Bucket("aigen-load")
    bucket.create()
    options = {"bucket_name": "aigen-load", "endpoint_url": f"http://127.0.0.1:{s3_port}",
               "region_name": "us-east-1", "access_key": "testing", "secret_key": "testing"}
    settings = {"AIGEN": {**AIGEN, "BASE_URL": base_url},
                "CACHES": redis_caches(redis_url), "STORAGES": s3_storages(options),
                "TASKS": {"default": DATABASE}}
    return {"control": EmulatorControl(base_url.removesuffix("/v1beta")),
            "bucket": bucket, "settings": settings}


class WorkerPool:
    """``db_worker`` processes with the test's settings, each logging to a file."""

    def __init__(self, processes: Callable[..., Any], settings: dict[str, Any],
                 logs: Path) -> None:
        self._start_process = processes
        self._env = process_env(settings, DATABASE_URL=database_url())
        self._logs = logs
        self.workers: dict[str, Any] = {}

    def start(self, count: int) -> None:
        names = [f"w{len(self.workers) + i}" for i in range(count)]
        for name in names:
            self.workers[name] = self._start_process(
                ["manage.py", "db_worker", "--no-reload", "--no-startup-delay",
                 "--interval", "0.1", "--worker-id", name], self._env,
                output=self._logs / f"{name}.log")
        deadline = time.monotonic() + 60
        while not all("Starting worker" in (self._logs / f"{name}.log").read_text()
                      for name in names):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM every live worker and wait: each finishes the task in hand first."""
        live = [worker for worker in self.workers.values() if worker.poll() is None]
        for worker in live:
            worker.terminate()
        for worker in live:
            worker.wait(timeout=60)


def queue_through_the_api(count: int) -> list[str]:
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user("load", password="x")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    ids = []
    for i in range(count):
        response = api.post("/api/generations/", {
            "prompt": f"Load test poster {i:03d}: a lighthouse at dawn",
            "width": 1024, "height": 1024}, format="json")
        assert response.status_code == 202, response.content
        ids.append(response.json()["id"])
    return ids


def kill_a_worker_mid_call(control: EmulatorControl, pool: WorkerPool) -> str:
    """SIGKILL the worker whose call the emulator holds (a hang), before its 3 s timeout:
    a run that has no answer yet, so its recovery can call the API again without paying
    twice. (A worker killed after the API answered has paid for a result it never
    stored; no system can avoid that second call.) Returns the generation's id."""
    for _ in range(5):
        seen = max((entry["seq"] for entry in control.log()), default=0)
        control.inject("hang", seconds=120)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            hanging = [e for e in control.log() if e["seq"] > seen and e["outcome"] == "hang"]
            if hanging:
                break
            time.sleep(0.05)
        else:
            continue
        entry = hanging[0]
        generation = Generation.objects.get(prompt=entry["prompt"])
        task = DBTaskResult.objects.filter(status="RUNNING",
                                           args_kwargs__args=[str(generation.pk)]).first()
        if task is None or time.time() - entry["wall_time"] > 1.0:
            continue  # too late to be sure the call is still held: try another
        pool.workers[task.worker_ids[-1]].send_signal(signal.SIGKILL)
        return str(generation.pk)
    raise AssertionError("no worker could be caught in a hanging call")


def run_until_settled(ids: list[str], control: EmulatorControl, pool: WorkerPool,
                      timeout: float) -> tuple[str, dict[str, list[str]]]:
    """Kill a worker once a quarter of the work is done and start another in its place,
    as a process supervisor (systemd's Restart=always) would; run ``aigen_recover``
    every few seconds, as cron would. Returns the killed generation and what recover
    did ("requeued": lost runs; "resent": pending generations queued a second time)."""
    killed = ""
    recovered: dict[str, list[str]] = {"requeued": [], "resent": []}
    last_recover = 0.0
    deadline = time.monotonic() + timeout
    while True:
        statuses = Counter(Generation.objects.values_list("status", flat=True))
        if sum(statuses[s] for s in SETTLED) == len(ids):
            return killed, recovered
        assert time.monotonic() < deadline, f"not settled in time: {statuses}"
        if not killed and statuses[GenerationStatus.SUCCEEDED] >= len(ids) // 4:
            killed = kill_a_worker_mid_call(control, pool)
            pool.start(1)
        if time.monotonic() - last_recover > 3:
            out = StringIO()
            call_command("aigen_recover", "--json", stdout=out)
            done = json.loads(out.getvalue())
            for key, found in recovered.items():
                found += done[key]
            last_recover = time.monotonic()
        time.sleep(0.2)


def storage_check(bucket: Any) -> tuple[set[str], set[str]]:
    """(orphans: objects no row refers to, missing: files rows refer to)."""
    stored = {obj.key for obj in bucket.objects.all()}
    referenced: set[str] = set()
    for model, name in ((Generation, "image"), (Generation, "reference_image"),
                        (TurnPart, "image"), (MediaAsset, "image")):
        referenced.update(n for n in model.objects.values_list(name, flat=True) if n)
    return stored - referenced, referenced - stored


@pytest.mark.timeout(300)
def test_load_and_faults(
    production: dict[str, Any], processes: Callable[..., Any], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], record_property: Callable[[str, Any], None],
    report_figures: Callable[[list[str]], None],
) -> None:
    control, settings = production["control"], production["settings"]
    started = time.time()
    with override_settings(**settings):
        pool = WorkerPool(processes, settings, tmp_path)
        pool.start(WORKERS)
        ids = queue_through_the_api(GENERATIONS)
        killed, recovered = run_until_settled(ids, control, pool, timeout=240)
        # A row turns succeeded before its run drops its receipt: let the runs end first.
        pool.stop()
        generations = {str(g.pk): g for g in Generation.objects.all()}
        orphans, missing = storage_check(production["bucket"])
    run_seconds = time.time() - started
    log = control.log()
    statuses = Counter(g.status for g in generations.values())
    prompts = {g.prompt for g in generations.values()}
    figures = Figures(**summarize(log, statuses, prompts, LIMIT), orphans=orphans,
                      missing=missing, run_seconds=run_seconds)
    lost = generations[killed]
    figures.notes += [
        f"killed worker's generation: queued again by aigen_recover after its run "
        f"deadline: {killed in recovered['requeued']}; then {lost.status} on attempt "
        f"{lost.attempts}",
        f"pending generations aigen_recover queued a second time (duplicate deliveries "
        f"that must not run twice): {len(set(recovered['resent']))}",
    ]
    # A generation may fail when the injected faults use up its attempts or deadline;
    # say which, so a failure of the product would not hide among them.
    figures.notes += [
        f"not succeeded: {g.status} ({g.error_code or g.block_reason}: "
        f"{g.error_message[:160]}) after {g.attempts} run(s); its API requests: "
        f"{[e['outcome'] for e in log if e['prompt'] == g.prompt]}"
        for g in generations.values() if g.status != GenerationStatus.SUCCEEDED
    ]
    report(figures, capsys, record_property, report_figures)

    assert sum(statuses[s] for s in SETTLED) == GENERATIONS
    succeeded = {g.prompt for g in generations.values()
                 if g.status == GenerationStatus.SUCCEEDED}
    assert all(figures.ok_calls[p] == 1 for p in succeeded), figures.ok_calls.most_common(3)
    assert sum(figures.ok_calls.values()) == len(succeeded)
    assert figures.duplicates == 0
    assert figures.rate_limited_share < 0.01
    assert (orphans, missing) == (set(), set())
    assert 0.9 * LIMIT <= figures.calls_per_minute <= LIMIT
    assert killed in recovered["requeued"] and lost.status == GenerationStatus.SUCCEEDED
    assert lost.attempts == 2


def report(figures: Figures, capsys: pytest.CaptureFixture[str],
           record_property: Callable[[str, Any], None],
           report_figures: Callable[[list[str]], None]) -> None:
    """Print the figures now, keep them for the end-of-run summary and the JUnit XML."""
    lines = ["load-and-fault test:", *(f"  {line}" for line in figures.lines())]
    with capsys.disabled():
        sys.stdout.write("\n" + "\n".join(lines) + "\n")
    report_figures(lines)
    for name in ("duplicates", "rate_limited_share", "calls_per_minute",
                 "successes_per_minute", "run_seconds"):
        record_property(name, getattr(figures, name))
    record_property("statuses", dict(figures.statuses))
    record_property("orphans", len(figures.orphans))
