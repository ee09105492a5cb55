"""Reading README.md's adoption section: the host leg cannot pass on a section it failed
to find."""

from __future__ import annotations

import pytest

from .adoption import END, START, adoption_snippets

BLOCK = "<!-- paste: {target} -->\n```python\n{code}\n```\n"


def section(*blocks: str) -> str:
    return f"intro\n{START}\n{''.join(blocks)}{END}\nrest"


def test_readme_pastes_into_settings_and_urls() -> None:
    snippets = adoption_snippets()
    assert [snippet.target for snippet in snippets] == ["settings.py", "urls.py"]
    assert "aigen_app" in snippets[0].code
    assert 'include("aigen_app.api.urls")' in snippets[1].code


def test_each_block_is_read_whole() -> None:
    readme = section(BLOCK.format(target="settings.py", code="A = 1\n\nB = 2"),
                     BLOCK.format(target="urls.py", code="C = 3"))
    assert [(s.target, s.code) for s in adoption_snippets(readme)] == [
        ("settings.py", "A = 1\n\nB = 2\n"), ("urls.py", "C = 3\n")]


@pytest.mark.parametrize("readme", [
    "no section at all",
    section(BLOCK.format(target="settings.py", code="A = 1")),  # no urls.py block
    section(BLOCK.format(target="settings.py", code="A = 1"),
            "<!-- paste: urls.py -->\n```bash\nC=3\n```\n"),  # marker before a non-python block
    section(BLOCK.format(target="settings.py", code="A = 1"),
            BLOCK.format(target="wsgi.py", code="C = 3")),
])
def test_a_missing_or_unreadable_section_is_an_error(readme: str) -> None:
    with pytest.raises(ValueError):
        adoption_snippets(readme)
