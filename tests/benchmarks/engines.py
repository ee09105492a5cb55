"""B8: generations through worker processes on PostgreSQL, per engine.

``python -m tests.benchmarks.engines ENGINE --generations N --latency S --workers W``
creates N generations on a throwaway PostgreSQL database (the emulator answering
after S seconds), then starts W worker processes of ENGINE and waits until every
generation is settled, sampling each worker's RSS (VmHWM: its peak) and the database
connections the workers hold (``pg_stat_activity`` by application name). Prints one
JSON line: wall time from the workers' start, peak RSS per worker, peak connections,
paid calls per generation, and how the generations ended.

- ``procrastinate``: ``manage.py procrastinate worker --concurrency C`` (async runs);
- ``db_worker``: ``manage.py aigen_worker`` (django-tasks-db, one run at a time).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .django_side import set_up, throwaway_postgres
from .emulator import ROOT, EmulatorProcess
from .worker import emit

APPLICATION_NAME = "aigen-b8-worker"
BACKENDS = {"procrastinate": "procrastinate", "db_worker": "database"}


def worker_argv(engine: str, number: int, concurrency: int) -> list[str]:
    if engine == "procrastinate":
        return ["manage.py", "procrastinate", "worker", "--name", f"b8-{number}",
                "--concurrency", str(concurrency), "--shutdown-graceful-timeout", "30"]
    return ["manage.py", "aigen_worker", "--no-reload", "--no-startup-delay",
            "--interval", "0.1", "--worker-id", f"b8-{number}"]


def peak_rss_mb(pid: int) -> float:
    """VmHWM of ``pid`` (its peak RSS so far), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(engine: str, generations: int, latency: float, workers: int,
        concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix="aigen-b8-") as tmp, \
            throwaway_postgres() as database, \
            EmulatorProcess(latency=latency) as emulator:
        set_up(Path(tmp), emulator.base_url, database, task_backend=BACKENDS[engine])
        from django.contrib.auth import get_user_model
        from django.db import connection

        from aigen_app.models import Generation, GenerationStatus
        from aigen_app.services import create_generation

        owner = get_user_model().objects.create_user(username="b8", password="x")
        for number in range(generations):
            create_generation(f"B8 poster {number}", owner=owner, width=64, height=64)
        env = {**os.environ, "DATABASE_URL": f"{database}?application_name={APPLICATION_NAME}"}
        started = time.perf_counter()
        processes = [
            subprocess.Popen([sys.executable, *worker_argv(engine, number, concurrency)],  # noqa: S603
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            for number in range(workers)]
        peak_rss = [0.0] * workers
        peak_connections = 0
        open_states = (GenerationStatus.PENDING, GenerationStatus.RUNNING)
        try:
            while Generation.objects.filter(status__in=open_states).exists():
                assert all(p.poll() is None for p in processes), "a worker exited"
                peak_rss = [max(peak, peak_rss_mb(p.pid)) for peak, p in
                            zip(peak_rss, processes, strict=True)]
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE application_name = %s", [APPLICATION_NAME])
                    peak_connections = max(peak_connections, cursor.fetchone()[0])
                time.sleep(0.5)  # a sampling interval
            wall = time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(60)
        statuses = Counter(Generation.objects.values_list("status", flat=True))
        paid = sum(1 for entry in emulator.log() if entry.get("outcome") == "ok")
    emit({"engine": engine, "generations": generations, "latency": latency,
          "workers": workers, "concurrency": concurrency, "wall_s": wall,
          "per_minute": generations / wall * 60, "peak_rss_mb": peak_rss,
          "peak_connections": peak_connections, "paid_per_generation": paid / generations,
          "statuses": dict(statuses)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.engines",
                                     description=__doc__)
    parser.add_argument("engine", choices=sorted(BACKENDS))
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=512)
    args = parser.parse_args(argv)
    run(args.engine, args.generations, args.latency, args.workers, args.concurrency)


if __name__ == "__main__":
    main()
