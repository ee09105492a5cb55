"""``manage.py generate --model gpt-image-*``: OpenAI end to end against the emulator,
through the same services and rows as Gemini."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError
from PIL import Image

from aigen_app.models import Generation, GenerationStatus, Turn
from tests.support import Media, png_bytes

from .test_generate import ROOT, generate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(media_storage: Media) -> Media:
    return media_storage


def test_generate_at_exact_pixels_then_refine_twice(aigen_emulator: Any, tmp_path: Path,
                                                    make_user: Any) -> None:
    owner = make_user("ada")
    reference, logo = tmp_path / "ref.png", tmp_path / "logo.png"
    reference.write_bytes(png_bytes(64, 36))
    logo.write_bytes(png_bytes(20, 20, (0, 0, 200)))
    out, _ = generate("A lighthouse with the word AIGEN", "--model", "gpt-image-2",
                      "--size", "1280x720", "--user", "ada", "--reference", str(reference),
                      "--asset", f"{logo}:logo:ACME", "--output", str(tmp_path / "1.png"))
    ids = [out.split()[0]]
    for number, prompt in ((2, "Now at night"), (3, "Add a moon")):
        out, _ = generate(prompt, "--refine", ids[-1], "--output",
                          str(tmp_path / f"{number}.png"))
        ids.append(out.split()[0])
    for number in (1, 2, 3):
        assert Image.open(tmp_path / f"{number}.png").size == (1280, 720)
    entries = aigen_emulator.requests()
    assert [(e.provider, e.image_size, e.status) for e in entries] == [
        ("openai", "1280x720", 200)] * 3
    # The reference and the asset travel with every turn; refinements lead with the
    # latest image.
    assert [e.body["images"] for e in entries] == [2, 3, 3]
    assert "Input image 1: the current image" in entries[2].prompt
    generations = [Generation.objects.get(pk=pk) for pk in ids]
    assert [g.request_id for g in generations] == [e.response_id for e in entries]
    assert all(g.total_tokens > 0 and g.seed is None for g in generations)
    identifiers = {e.body["safety_identifier"] for e in entries}
    assert len(identifiers) == 1 and str(owner.pk) not in identifiers
    turns = Turn.objects.filter(conversation=generations[-1].conversation)
    assert turns.count() == 6


def test_a_standard_size_model_is_fitted_to_exact_pixels(aigen_emulator: Any,
                                                         tmp_path: Path) -> None:
    generate("A kite", "--model", "gpt-image-1.5", "--size", "1280x720",
             "--output", str(tmp_path / "kite.png"))
    assert Image.open(tmp_path / "kite.png").size == (1280, 720)
    assert aigen_emulator.requests()[0].image_size == "1536x1024"


def test_a_block_is_recorded_with_the_request_id(aigen_emulator: Any, tmp_path: Path) -> None:
    aigen_emulator.inject("block_prompt", reason="violence")
    with pytest.raises(CommandError) as info:
        generate("A fox", "--model", "gpt-image-2", "--output", str(tmp_path / "f.png"))
    assert info.value.returncode != 0
    generation = Generation.objects.get()
    assert (generation.status, generation.block_reason) == (GenerationStatus.BLOCKED,
                                                            "violence")
    assert generation.request_id == aigen_emulator.requests()[0].response_id


@pytest.mark.parametrize(("first", "then"), [("gpt-image-2", "gemini-nano-banana-2.1"),
                                             ("gemini-nano-banana-2.1", "gpt-image-2")])
def test_refining_with_another_providers_model_is_refused(
        aigen_emulator: Any, tmp_path: Path, first: str, then: str) -> None:
    out, _ = generate("A fox", "--model", first, "--output", str(tmp_path / "f.png"))
    with pytest.raises(CommandError) as info:
        generate("Now red", "--refine", out.split()[0], "--model", then)
    assert info.value.returncode == 2
    assert "Refine with a model of the same provider" in str(info.value)
    assert Generation.objects.count() == 1


def test_a_seed_is_refused_for_openai(aigen_emulator: Any) -> None:
    with pytest.raises(CommandError) as info:
        generate("A fox", "--model", "gpt-image-2", "--seed", "7")
    assert info.value.returncode == 2
    assert "takes no seed" in str(info.value)
    assert not Generation.objects.exists()


def test_an_id_no_provider_serves_is_refused_naming_the_providers(aigen_emulator: Any) -> None:
    with pytest.raises(CommandError) as info:
        generate("A fox", "--model", "imagen-4")
    assert info.value.returncode == 2
    assert "Gemini ids start with 'gemini-'" in str(info.value)
    assert aigen_emulator.requests() == []


@pytest.mark.processes
def test_from_a_fresh_shell_without_an_openai_key_it_uses_the_emulator(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'shell.sqlite3'}",
               DJANGO_MEDIA_ROOT=str(tmp_path / "media"), AI_MODEL="gpt-image-2")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)  # noqa: S603
    output = tmp_path / "demo.png"
    result = subprocess.run(  # noqa: S603
        [*manage, "generate", "A lighthouse", "--size", "1280x720", "--output", str(output)],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "no OpenAI API key set (OPENAI_API_KEY): using the bundled emulator" in result.stderr
    assert Image.open(output).size == (1280, 720)


def test_image_options_are_sent_and_recorded(aigen_emulator: Any, tmp_path: Path) -> None:
    out, _ = generate("A kite", "--model", "gpt-image-1.5", "--quality", "high",
                      "--background", "transparent", "--output-format", "webp",
                      "--moderation", "low", "--output", str(tmp_path / "kite.webp"))
    generation = Generation.objects.get(pk=out.split()[0])
    assert generation.options == {"quality": "high", "output_format": "webp",
                                  "background": "transparent", "moderation": "low"}
    sent = aigen_emulator.requests()[0].body
    assert {name: sent[name] for name in generation.options} == generation.options
    assert generation.mime_type == "image/webp"
    # A refinement is an edit: it takes input_fidelity, and inherits no option.
    generate("Bigger", "--refine", str(generation.pk), "--input-fidelity", "high",
             "--output", str(tmp_path / "bigger.webp"))
    assert aigen_emulator.requests()[1].body["input_fidelity"] == "high"
    assert "quality" not in aigen_emulator.requests()[1].body


@pytest.mark.parametrize(("args", "words"), [
    (["--model", "gpt-image-2", "--background", "transparent"], "background"),
    (["--model", "gpt-image-2", "--quality", "max"], "quality"),
    (["--model", "gpt-image-1.5", "--input-fidelity", "high"], "input_fidelity option applies"),
    (["--quality", "high"], "OpenAI image options"),  # the default model is Gemini's
])
def test_an_option_the_model_does_not_take_is_a_bad_argument(
        aigen_emulator: Any, args: list[str], words: str) -> None:
    with pytest.raises(CommandError) as info:
        generate("A fox", *args)
    assert info.value.returncode == 2
    assert words in str(info.value)
    assert not Generation.objects.exists()
    assert aigen_emulator.requests() == []
