"""CSV downloads of the admin: the usage table and a selection of generations.

Cells a spreadsheet would run as a formula (a prompt starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are prefixed with ``'``, as OWASP's CSV-injection
advice says: prompts are user input and the file is opened by staff.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


class _Echo:
    """A file-like object whose ``write`` returns the line, for a streaming writer."""

    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: Sequence[str],
                 rows: Iterable[Sequence[Any]]) -> StreamingHttpResponse:
    """Stream ``rows`` under ``header`` as a CSV download (memory stays flat however
    many rows)."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
