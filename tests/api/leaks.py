"""What no API response may contain: internal details of the server (file system paths,
SQL or database errors, Python tracebacks). ``tests/api/conftest.py`` checks every
response of the API tests with ``assert_no_internal_details``; the schemathesis test
checks every fuzzed response too."""

from __future__ import annotations

import re

INTERNAL_DETAILS = {
    "a file system path": re.compile(
        r"(?<![\w.:/-])/(?:tmp|home|root|usr|var|etc|opt|work|srv|private|Users|app)/"
        r"|\b[A-Za-z]:\\\\"),
    "a traceback": re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d"),
    "SQL or a database error": re.compile(
        r"\b(?:IntegrityError|OperationalError|ProgrammingError|DataError|DatabaseError"
        r"|psycopg2?|sqlite3)\b|constraint failed|violates [\w ]*constraint"
        r"|syntax error at or near|no such (?:table|column)|relation [\w\"]+ does not exist"
        r"|\bDETAIL:", re.IGNORECASE),
    # Upper case, as Django writes it: a prompt may well say "select ... from".
    "SQL text": re.compile(r"\bSELECT\b.{0,200}?\bFROM\b|\bINSERT INTO\b"
                           r"|\bUPDATE\b.{0,80}?\bSET\b"),
    "a Python exception name": re.compile(
        r"\b(?:FileNotFoundError|DoesNotExist|KeyError|AttributeError|TypeError"
        r"|RuntimeError|OSError|ImproperlyConfigured)\b"),
}


def internal_details(body: str) -> list[str]:
    """What ``body`` gives away, by kind (empty when it is clean)."""
    return [f"{kind}: {found.group(0)!r}" for kind, pattern in INTERNAL_DETAILS.items()
            if (found := pattern.search(body))]


def assert_no_internal_details(body: str, where: str = "") -> None:
    found = internal_details(body)
    assert not found, f"{where} leaks {', '.join(found)}:\n{body[:2000]}"
