"""``manage.py aigen_recover``: settle generations whose run was lost.

Safe to run at any time and repeatedly; meant for a schedule (cron every few minutes).
"""

from __future__ import annotations

import json
import math
from argparse import ArgumentParser, ArgumentTypeError
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...services import find_missing_files, recover_generations, sweep_orphan_files


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(number) or number < 0:
        raise ArgumentTypeError("must be zero or more seconds")
    return number


def months(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a number of months") from None
    if number < 1:
        raise ArgumentTypeError("must be one month or more")
    return number


class Command(BaseCommand):
    help = (
        "Finish from their kept result, queue again, or fail with a reason, generations "
        "stuck 'running' past their deadline (AIGEN['GENERATION_DEADLINE']), re-send "
        "'pending' ones nobody ran, and optionally delete orphaned files."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--pending-after", type=seconds, default=None, metavar="SECONDS",
            help="Re-send pending generations queued longer ago than this "
                 "(default: AIGEN['GENERATION_DEADLINE']).",
        )
        parser.add_argument(
            "--sweep-files", type=seconds, nargs="?", const=3600.0, default=None,
            metavar="SECONDS",
            help="Also delete files that no row refers to and that are older than SECONDS "
                 "(default 3600), e.g. left by a caller's rolled-back transaction, and "
                 "report rows that name files storage no longer has.",
        )
        parser.add_argument(
            "--mark-missing", action="store_true",
            help="With --sweep-files, mark succeeded generations whose image is missing "
                 "as failed (error code file_missing).",
        )
        parser.add_argument(
            "--sweep-months", type=months, default=None, metavar="MONTHS",
            help="With --sweep-files, only look at the date folders of the last MONTHS "
                 "months (default: every folder).",
        )
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="Print what was done as JSON.")

    def handle(self, *args: Any, pending_after: float | None, sweep_files: float | None,
               sweep_months: int | None, mark_missing: bool, as_json: bool,
               **options: Any) -> None:
        if mark_missing and sweep_files is None:
            raise CommandError("--mark-missing needs --sweep-files")
        report = recover_generations(pending_after=pending_after)
        swept = [] if sweep_files is None else sweep_orphan_files(older_than=sweep_files,
                                                                  months=sweep_months)
        missing = [] if sweep_files is None else find_missing_files(mark=mark_missing)
        if as_json:
            self.stdout.write(json.dumps({**asdict(report), "deleted_files": swept,
                                          "possible_double_charges":
                                              report.possible_double_charges,
                                          "missing_files": [asdict(m) for m in missing]}))
            return
        for label, items in (("finished from its kept result", report.finished),
                             ("queued again", report.requeued), ("failed", report.failed),
                             ("re-sent", report.resent),
                             ("reclaimed task row", report.reclaimed),
                             ("deleted file", swept), ("missing file", missing)):
            # The next run of a lost run may pay the API a second time: say so per row.
            doubt = " (a possible double charge)" if items is report.requeued else ""
            for item in items:
                self.stdout.write(f"{label}: {item}{doubt}")
        self.stdout.write(
            f"{len(report.finished)} finished from kept results, "
            f"{len(report.requeued)} queued again (possible double charges), "
            f"{len(report.failed)} failed, "
            f"{len(report.resent)} re-sent, {report.waiting} pending left in the queue, "
            f"{len(report.reclaimed)} task rows of dead workers reclaimed"
            + (f", {len(swept)} orphaned files deleted, {len(missing)} rows name missing "
               f"files ({sum(m.marked for m in missing)} marked)."
               if sweep_files is not None else ".")
        )
