"""``manage.py aigen_emulator``: the emulator (Gemini and OpenAI) in the foreground, for the demo,
manual testing and benchmarks that drive it from another process."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aigen_app.emulator import FAULT_KINDS, EmulatorServer
from aigen_app.emulator.state import IMAGE_MIME_TYPES


def port_number(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0..65535")
    return port


def _whole_number(value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{number} must be at least {minimum}")
    return number


def positive_int(value: str) -> int:
    return _whole_number(value, 1)


def non_negative_int(value: str) -> int:
    return _whole_number(value, 0)


def non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number >= 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return number


def fault_rate(value: str) -> tuple[str, float]:
    """``KIND=PROB``, e.g. ``unavailable=0.1``."""
    kind, sep, probability = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{value!r} is not KIND=PROBABILITY")
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown fault kind {kind!r}; choose from {', '.join(sorted(FAULT_KINDS))}"
        )
    try:
        rate = float(probability)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{probability!r} is not a probability") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"probability {rate} is outside 0..1")
    return kind, rate


class Command(BaseCommand):
    help = (
        "Run the bundled emulator (Gemini's generateContent and OpenAI's Images API) until "
        "Ctrl-C. The first line printed is Gemini's API base URL (AI_BASE_URL); OpenAI's "
        "is the same server's /v1 (OPENAI_BASE_URL), named on the next line."
    )
    # It serves HTTP from memory: no database, so no reason to fail on unrelated checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1",
                            help="Interface to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=port_number, default=8765,
                            help="Port to listen on; 0 picks a free one (default 8765).")
        parser.add_argument("--rpm", type=positive_int, default=None,
                            help="Requests-per-minute quota; over it the reply is a real 429.")
        parser.add_argument("--latency", type=non_negative_float, default=0.0,
                            help="Seconds added to every successful reply.")
        parser.add_argument("--fault-rate", type=fault_rate, action="append", default=[],
                            dest="fault_rates", metavar="KIND=PROB",
                            help="Probability of a fault per request; repeatable.")
        parser.add_argument("--seed", type=int, default=None,
                            help="Seed for the fault-rate dice (reproducible runs).")
        parser.add_argument("--api-key", action="append", dest="api_keys", default=None,
                            help="Accept only this key (repeatable); default: any key.")
        parser.add_argument("--image-mime", choices=IMAGE_MIME_TYPES, default="image/png")
        parser.add_argument("--signature-padding", type=non_negative_int, default=0,
                            help="Random bytes added to each thought signature.")

    def handle(self, *args: Any, **options: Any) -> None:
        server = EmulatorServer(
            options["host"], options["port"], rpm=options["rpm"], latency=options["latency"],
            api_keys=options["api_keys"], signature_padding=options["signature_padding"],
            image_mime=options["image_mime"], access_log=options["verbosity"] >= 2,
        )
        try:
            server.set_fault_rates(dict(options["fault_rates"]))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        server.seed(options["seed"])
        if options["verbosity"] >= 2:
            _log_requests_to_stdout()
        # SIGTERM (process managers, tests) takes the same clean path as Ctrl-C. Installed
        # before start() so an early signal cannot skip stop(); main thread only.
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
        try:
            self._serve(server, options)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            if in_main:
                signal.signal(signal.SIGTERM, previous)
        if options["verbosity"] >= 1:
            self.stdout.write("Emulator stopped.")

    def _serve(self, server: EmulatorServer, options: dict[str, Any]) -> None:
        try:
            server.start()
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from exc
        # The first line is machine-read (tests, scripts): the bare base URL, flushed now.
        self.stdout.write(server.base_url)
        self.stdout.flush()
        if options["verbosity"] >= 1:
            self.stdout.write(f"Emulator running: OpenAI base URL {server.openai_base_url}; "
                              f"control API under {server.root_url}/_emulator/. Quit with "
                              "CONTROL-C.")
            self.stdout.flush()
        while True:
            time.sleep(3600)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _log_requests_to_stdout() -> None:
    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler(sys.stdout))
