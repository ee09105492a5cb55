"""Benchmarks that need Django: the synchronous service path (B5) and the REST listing
(B6). Each runs in a process of its own on a throwaway SQLite file database:
``python -m tests.benchmarks.django_side sync-path URL`` or ``... listing``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from .peers import API_KEY, MODEL, PROMPT, SEED
from .worker import emit

POSTGRES = "postgres://postgres@127.0.0.1:5432/"


def set_up(workdir: Path, base_url: str = "http://127.0.0.1:9/v1beta",
           database_url: str | None = None, task_backend: str = "immediate") -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="project.settings", DJANGO_DEBUG="0",
        DATABASE_URL=database_url or f"sqlite:///{workdir / 'db.sqlite3'}",
        DJANGO_MEDIA_ROOT=str(workdir / "media"), AIGEN_TASK_BACKEND=task_backend,
        AI_API_KEY=API_KEY, AI_BASE_URL=base_url, AI_MODEL=MODEL, AIGEN_LOG="ERROR",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


class ConnectionCounter:
    """TCP connections this process opens: asyncio's ``create_connection`` is where
    aiohttp and httpx (through anyio) both open theirs."""

    def __init__(self) -> None:
        from asyncio import base_events

        self.count = 0
        original = base_events.BaseEventLoop.create_connection
        counter = self

        async def create_connection(loop: Any, *args: Any, **kwargs: Any) -> Any:
            counter.count += 1
            return await original(loop, *args, **kwargs)

        base_events.BaseEventLoop.create_connection = create_connection  # type: ignore[method-assign]


def per_call(action: Callable[[], Any], calls: int, counter: ConnectionCounter) -> dict[str, Any]:
    opened = counter.count
    started = time.perf_counter()
    for _ in range(calls):
        action()
    wall = time.perf_counter() - started
    return {"ms_per_call": wall / calls * 1000, "connections": counter.count - opened}


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new PostgreSQL database on the local server, dropped afterwards."""
    import psycopg

    name = f"aigen_bench_{os.getpid()}"
    with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES + name
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def sync_path(base_url: str, calls: int, postgres: bool) -> None:
    """The same generation ``calls`` times, sequentially, four ways."""
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="aigen-bench-"))
        database = stack.enter_context(throwaway_postgres()) if postgres else None
        set_up(Path(tmp), base_url, database)
        from asgiref.sync import async_to_sync
        from django.contrib.auth import get_user_model

        from aigen_app.client import GenerationRequest
        from aigen_app.client_factory import get_client
        from aigen_app.models import GenerationStatus
        from aigen_app.services import create_generation

        counter = ConnectionCounter()
        client = get_client()
        request = GenerationRequest(PROMPT, 1024, 1024, seed=SEED)
        owner = get_user_model().objects.create_user("bench")

        async def direct_calls() -> dict[str, Any]:
            await client.generate(request)  # warm, like every path below
            opened, started = counter.count, time.perf_counter()
            for _ in range(calls):
                await client.generate(request)
            wall = time.perf_counter() - started
            return {"ms_per_call": wall / calls * 1000, "connections": counter.count - opened}

        def direct() -> dict[str, Any]:
            return asyncio.run(direct_calls())

        def service() -> None:
            generation = create_generation(PROMPT, owner=owner, width=1024, height=1024,
                                           seed=SEED)
            generation.refresh_from_db()
            if generation.status != GenerationStatus.SUCCEEDED:
                raise RuntimeError(f"generation {generation.status}: {generation.error_message}")

        results = {"direct async": direct()}
        paths: dict[str, Callable[[], Any]] = {
            "async_to_sync": lambda: async_to_sync(client.generate)(request),
            "generate_sync": lambda: client.generate_sync(request),
            "service layer": service,
        }
        for name, path in paths.items():
            path()  # warm: this path's pool, and for the service its storage directories
            results[name] = per_call(path, calls, counter)
        emit(results)


LISTINGS = {"generations": "/api/generations/?page_size=50",
            "conversations": "/api/conversations/?page_size=50"}


def listing(sizes: list[int], requests: int) -> None:
    """A page of 50 of one user's generations, and of their conversations (one per
    generation, so as many), as the REST API lists them."""
    with tempfile.TemporaryDirectory(prefix="aigen-bench-") as tmp:
        set_up(Path(tmp))
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from rest_framework.authtoken.models import Token

        owner = get_user_model().objects.create_user("bench")
        token = Token.objects.create(user=owner)
        # Someone else's rows too, so the owner filter has work to do.
        other = get_user_model().objects.create_user("someone-else")
        add_generations(other, 1000)
        http = Client(headers={"authorization": f"Token {token.key}"})
        results: dict[str, dict[str, Any]] = {name: {} for name in LISTINGS}
        have = 0
        for size in sizes:
            add_generations(owner, size - have)
            have = size
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            for name, url in LISTINGS.items():
                results[name][str(size)] = page_figures(http, url, requests)
        emit(results)


def page_figures(http: Any, url: str, requests: int) -> dict[str, Any]:
    """The median, min and max latency of ``url`` over ``requests`` calls, after one
    that counts its SQL queries."""
    from django.db import connection

    queries = 0

    def count(execute: Any, *args: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(*args)

    with connection.execute_wrapper(count):
        response = http.get(url)
    if response.status_code != 200 or len(response.json()["results"]) != 50:
        raise RuntimeError(f"listing {url} failed: {response.status_code}")
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        http.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return {"ms": statistics.median(timings), "min_ms": min(timings),
            "max_ms": max(timings), "queries": queries}


def add_generations(owner: Any, count: int, batch: int = 5000) -> None:
    """``count`` finished generations, each in its own conversation, as bulk inserts."""
    from django.db import transaction
    from django.utils import timezone

    from aigen_app.models import Conversation, Generation, GenerationStatus

    now = timezone.now()
    for start in range(0, count, batch):
        size = min(batch, count - start)
        with transaction.atomic():
            conversations = Conversation.objects.bulk_create(
                [Conversation(owner=owner, title=f"bench {start + i}") for i in range(size)]
            )
            Generation.objects.bulk_create([
                Generation(
                    owner=owner, conversation=conversation, status=GenerationStatus.SUCCEEDED,
                    prompt=f"{PROMPT} #{start + i}", width=1024, height=1024, model=MODEL,
                    seed=start + i, image=f"aigen/generations/bench/{start + i}.png",
                    mime_type="image/png", image_width=1024, image_height=1024,
                    byte_size=1_000_000, sha256="0" * 64, total_tokens=1290, attempts=1,
                    api_attempts=1, created_at=now - timedelta(seconds=start + i),
                    started_at=now, finished_at=now,
                )
                for i, conversation in enumerate(conversations)
            ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.django_side")
    sub = parser.add_subparsers(dest="mode", required=True)
    sync = sub.add_parser("sync-path")
    sync.add_argument("url")
    sync.add_argument("--calls", type=int, default=50)
    sync.add_argument("--postgres", action="store_true",
                      help="a throwaway database on the local PostgreSQL, not SQLite")
    rest = sub.add_parser("listing")
    rest.add_argument("--sizes", default="10000,100000")
    rest.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)
    if args.mode == "sync-path":
        sync_path(args.url, args.calls, args.postgres)
    else:
        listing([int(s) for s in args.sizes.split(",")], args.requests)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
