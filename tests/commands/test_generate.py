"""``manage.py generate``: through the services, against the emulator; bad arguments
answer with one line, a distinct exit code and no row."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from aigen_app.models import Conversation, Generation, GenerationStatus, MediaAsset, Turn
from tests.conftest import Media, png_bytes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(media_storage: Media) -> Media:
    return media_storage


def generate(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("generate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_generate_then_refine_two_files_one_conversation_of_four_turns(
        aigen_emulator: Any, tmp_path: Path) -> None:
    first_png = tmp_path / "first.png"
    out, err = generate("A castle made of bread", "--size", "1280x720",
                        "--output", str(first_png))
    first_id, path = out.strip().splitlines()[-1].split(" ", 1)
    assert Path(path) == first_png.resolve()
    assert Image.open(first_png).size == (1280, 720)
    assert Image.open(first_png).format == "PNG"

    second_png = tmp_path / "second.png"
    out, _ = generate("Now add a moat", "--refine", first_id, "--output", str(second_png))
    second_id = out.strip().split(" ", 1)[0]
    assert Image.open(second_png).size == (1280, 720)

    second = Generation.objects.get(pk=second_id)
    assert str(second.parent_id) == first_id
    assert Conversation.objects.count() == 1
    turns = Turn.objects.filter(conversation=second.conversation).order_by("position")
    assert [t.role for t in turns] == ["user", "model", "user", "model"]
    assert "generating" in err


def test_json_output_describes_the_generation(aigen_emulator: Any, tmp_path: Path) -> None:
    out, _ = generate("A kite", "--size", "640x480", "--seed", "7", "--json",
                      "--output", str(tmp_path / "kite.png"))
    data = json.loads(out)
    assert data["status"] == "succeeded"
    assert data["size"] == "640x480"
    assert data["seed"] == 7
    assert data["attempts"] == 1
    assert data["tokens"]["total"] > 0
    assert Path(data["path"]).is_file()
    assert data["model"] == "gemini-nano-banana-2.1"


def test_reference_and_assets_are_sent_and_recorded(aigen_emulator: Any, tmp_path: Path,
                                                    make_user: Any) -> None:
    make_user("ada")
    reference = tmp_path / "ref.png"
    reference.write_bytes(png_bytes(64, 36))
    logo = tmp_path / "logo.png"
    logo.write_bytes(png_bytes(20, 20, (0, 0, 255)))
    generate("A poster", "--size", "320x180", "--reference", str(reference),
             "--asset", f"{logo}:logo:ACME", "--user", "ada",
             "--output", str(tmp_path / "poster.png"))
    generation = Generation.objects.get()
    assert generation.owner is not None
    assert generation.owner.get_username() == "ada"
    asset = MediaAsset.objects.get()
    assert (asset.asset_type, asset.display_name) == ("logo", "ACME")
    body = aigen_emulator.requests()[-1].body
    texts = [p.get("text", "") for p in body["contents"][-1]["parts"]]
    assert any("ACME" in t for t in texts)


def test_retries_are_reported_on_stderr(aigen_emulator: Any, tmp_path: Path) -> None:
    aigen_emulator.inject("rate_limit", retry_delay="0.2s")
    _, err = generate("A fox", "--size", "64x64", "--output", str(tmp_path / "f.png"))
    assert "retrying" in err
    assert "rate_limited" in err
    assert "wait=0.200s" in err


@pytest.mark.parametrize(
    ("fault", "params", "code", "status"),
    [
        ("block_prompt", {"reason": "SAFETY"}, 3, GenerationStatus.BLOCKED),
        ("daily_quota", {}, 4, GenerationStatus.FAILED),
        ("bad_request", {"message": "nope"}, 1, GenerationStatus.FAILED),
    ],
)
def test_outcomes_have_distinct_exit_codes(aigen_emulator: Any, tmp_path: Path, fault: str,
                                           params: dict[str, Any], code: int,
                                           status: str) -> None:
    aigen_emulator.inject(fault, **params)
    with pytest.raises(CommandError) as info:
        generate("A fox", "--size", "64x64", "--output", str(tmp_path / "f.png"))
    assert info.value.returncode == code
    assert Generation.objects.get().status == status
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--size", "1280by720"],
        ["--size", "0x720"],
        ["--size", "9000x100"],
        ["--reference", "/no/such/file.png"],
        ["--reference", "README.md"],
        ["--asset", "README.md:logo"],
        ["--asset", "{png}:mascot"],
        ["--refine", "not-a-uuid"],
        ["--refine", "00000000-0000-4000-8000-000000000000"],
        ["--user", "nobody"],
        ["--seed", "abc"],
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_no_row(aigen_emulator: Any, tmp_path: Path,
                                                       args: list[str]) -> None:
    image = tmp_path / "ok.png"
    image.write_bytes(png_bytes())
    args = [a.replace("{png}", str(image)) for a in args]
    with pytest.raises(CommandError) as info:
        generate("A fox", *args)
    assert info.value.returncode == 2
    assert "\n" not in str(info.value).strip()
    assert Generation.objects.count() == 0
    assert MediaAsset.objects.count() == 0
    assert aigen_emulator.requests() == []


def test_refining_a_failed_generation_is_a_bad_argument(aigen_emulator: Any,
                                                        tmp_path: Path) -> None:
    aigen_emulator.inject("bad_request")
    with pytest.raises(CommandError):
        generate("A fox", "--size", "64x64")
    failed = Generation.objects.get()
    with pytest.raises(CommandError) as info:
        generate("again", "--refine", str(failed.id))
    assert info.value.returncode == 2
    assert Generation.objects.count() == 1


def test_from_a_fresh_shell_without_a_key_it_uses_the_emulator(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'shell.sqlite3'}"
    env["DJANGO_MEDIA_ROOT"] = str(tmp_path / "media")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)  # noqa: S603
    output = tmp_path / "demo.png"
    result = subprocess.run(  # noqa: S603
        [*manage, "generate", "A lighthouse", "--size", "1280x720", "--output", str(output)],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "using the bundled emulator" in result.stderr
    assert result.stdout.strip().endswith(str(output.resolve()))
    assert Image.open(output).size == (1280, 720)
    # A second shell refines it: another process, another emulator, which must accept
    # the thought signatures the first one issued (the real API does).
    first_id = result.stdout.split()[0]
    refined = tmp_path / "refined.png"
    again = subprocess.run(  # noqa: S603
        [*manage, "generate", "Now at night", "--refine", first_id, "--output", str(refined)],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert Image.open(refined).size == (1280, 720)
    bad = subprocess.run([*manage, "generate", "x", "--size", "12"], env=env,  # noqa: S603
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "size must look like 1280x720" in bad.stderr
