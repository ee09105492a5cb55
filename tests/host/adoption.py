"""The README's adoption snippets, read from README.md itself so that what the host leg
pastes is what a reader pastes.

The section lies between ``<!-- adoption:start -->`` and ``<!-- adoption:end -->``; each
fenced ``python`` block in it is preceded by ``<!-- paste: FILE -->`` naming the file of a
``startproject`` project it is appended to (``settings.py`` or ``urls.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- adoption:start -->"
END = "<!-- adoption:end -->"
PASTE_MARKER = "<!-- paste:"
PASTE = re.compile(r"<!-- paste: (?P<target>[\w.]+) -->\s*```python\n(?P<code>.*?)^```",
                   re.S | re.M)
TARGETS = ("settings.py", "urls.py")


@dataclass(frozen=True)
class Snippet:
    target: str  # the file of the project's package it is appended to
    code: str


def adoption_snippets(readme: str | None = None) -> list[Snippet]:
    """Every snippet of the adoption section, in order. Raises ``ValueError`` when the
    section or a block behind a marker is missing, so the leg cannot pass on nothing."""
    text = README.read_text() if readme is None else readme
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no section between {START} and {END}")
    section = text[start:end]
    snippets = [Snippet(m["target"], m["code"]) for m in PASTE.finditer(section)]
    if len(snippets) != section.count(PASTE_MARKER):
        raise ValueError("a paste marker in README.md is not followed by a python block")
    unknown = {s.target for s in snippets} - set(TARGETS)
    if unknown or {s.target for s in snippets} != set(TARGETS):
        raise ValueError(f"the adoption section must paste into each of {TARGETS}, "
                         f"found {[s.target for s in snippets]}")
    return snippets
