"""``manage.py generate``: through the services, against the emulator; bad arguments
answer with one line, a distinct exit code and no row."""

from __future__ import annotations

import io
import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from aigen_app.models import Conversation, Generation, GenerationStatus, MediaAsset, Turn
from tests.support import Media, png_bytes, stored_files

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
        ["--reference", "{gif}"],
        ["--reference", "{bmp}"],
        ["--reference", "{truncated}"],
        ["--asset", "{truncated}:logo"],
        ["--asset", "{gif}"],
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_no_row(aigen_emulator: Any, tmp_path: Path,
                                                       media_storage: Media,
                                                       args: list[str]) -> None:
    args = [a.format(**image_files(tmp_path)) for a in args]
    with pytest.raises(CommandError) as info:
        generate("A fox", *args)
    assert info.value.returncode == 2
    assert "\n" not in str(info.value).strip()
    assert Generation.objects.count() == 0
    assert MediaAsset.objects.count() == 0
    assert stored_files(media_storage) == []
    assert aigen_emulator.requests() == []


def image_files(folder: Path) -> dict[str, str]:
    """Paths of a good PNG and of images the API refuses: GIF, BMP, a half JPEG (noise,
    so that the half still holds the whole header and Image.verify() passes it)."""
    noise = Image.frombytes("RGB", (128, 128), random.Random(1).randbytes(128 * 128 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    files = {"png": png_bytes(), "gif": png_bytes(fmt="GIF"), "bmp": png_bytes(fmt="BMP"),
             "truncated": jpeg[: len(jpeg) // 2]}
    paths = {}
    for name, data in files.items():
        path = folder / f"{name}.img"
        path.write_bytes(data)
        paths[name] = str(path)
    return paths


@pytest.mark.parametrize(
    ("kind", "message"),
    [("gif", "The file is a GIF image"), ("bmp", "The file is a BMP image"),
     ("truncated", "The image is truncated.")],
)
def test_images_the_api_refuses_are_argument_errors_with_the_apis_message(
        aigen_emulator: Any, tmp_path: Path, kind: str, message: str) -> None:
    """The same checks as POST /api/assets/, at parse time: one line, exit 2."""
    path = image_files(tmp_path)[kind]
    with pytest.raises(CommandError) as info:
        generate("A fox", "--reference", path)
    assert info.value.returncode == 2
    assert str(info.value).startswith(f"argument --reference: {path}: {message}")
    assert "\n" not in str(info.value)


def refused(*args: str) -> tuple[str, CommandError]:
    """Run a request the services refuse; return its stderr and the error."""
    err = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("generate", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue(), info.value


@pytest.mark.parametrize(
    "args",
    [
        ["   "],
        ["A fox", "--model", "gemini-2.5-flash-image", *["--asset", "{png}"] * 4],
        ["A fox", "--model", "gemini-2.5-flash-image", "--asset", "{png}", "--grounding"],
        ["A fox", "--model", "gemini-2.5-flash-image", "--reference", "{png}",
         "--asset", "{png}", "--grounding"],
    ],
    ids=["empty-prompt", "too-many-images", "grounding-unsupported", "reference-and-grounding"],
)
def test_refused_requests_print_one_line_and_leave_no_row_and_no_file(
        aigen_emulator: Any, tmp_path: Path, media_storage: Media, make_user: Any,
        args: list[str]) -> None:
    """Refused by the services after the assets were stored: the transaction takes rows
    and files back, and nothing (emulator banner, progress) was printed before."""
    make_user("ada")
    # A different image each time: four assets, four files, before the refusal.
    images = iter(range(4))

    def image() -> str:
        index = next(images)
        path = tmp_path / f"{index}.png"
        path.write_bytes(png_bytes(color=(index, index, index)))
        return str(path)

    args = [image() if a == "{png}" else a for a in args]
    err, error = refused(*args, "--user", "ada", "--emulator")
    assert error.returncode == 2
    assert "\n" not in str(error)
    assert err == ""
    assert Generation.objects.count() == 0
    assert MediaAsset.objects.count() == 0
    assert stored_files(media_storage) == []
    assert aigen_emulator.requests() == []


def test_refining_a_failed_generation_is_a_bad_argument(aigen_emulator: Any, tmp_path: Path,
                                                        media_storage: Media) -> None:
    aigen_emulator.inject("bad_request")
    with pytest.raises(CommandError):
        generate("A fox", "--size", "64x64")
    failed = Generation.objects.get()
    before = stored_files(media_storage)
    logo = tmp_path / "logo.png"
    logo.write_bytes(png_bytes())
    err, error = refused("again", "--refine", str(failed.id), "--asset", str(logo),
                         "--emulator")
    assert error.returncode == 2
    assert str(error) == "Only a succeeded generation can be refined; this one is failed."
    assert err == ""
    assert Generation.objects.count() == 1
    assert MediaAsset.objects.count() == 0
    assert stored_files(media_storage) == before


@pytest.mark.processes
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


@pytest.mark.processes
def test_a_refused_request_from_a_shell_prints_one_line(tmp_path: Path) -> None:
    """No emulator banner, no progress: the refusal is the only line, nothing stored."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("AI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "DATABASE_URL")}
    database = tmp_path / "shell.sqlite3"
    env["DATABASE_URL"] = f"sqlite:///{database}"
    media = tmp_path / "media"
    env["DJANGO_MEDIA_ROOT"] = str(media)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)  # noqa: S603
    assets = []
    for index in range(4):
        path = tmp_path / f"{index}.png"
        path.write_bytes(png_bytes(color=(index, 0, 0)))
        assets += ["--asset", str(path)]
    result = subprocess.run(  # noqa: S603
        [*manage, "generate", "x", "--model", "gemini-2.5-flash-image", *assets],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "accepts at most 3 input images" in result.stderr
    assert result.stdout == ""
    assert not media.exists() or stored_files(media) == []
    with sqlite3.connect(database) as db:
        counts = [db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
                  for table in ("aigen_app_generation", "aigen_app_mediaasset")]
    assert counts == [0, 0]


def test_a_model_missing_from_the_catalog_is_sent_as_given(aigen_emulator: Any,
                                                           tmp_path: Path) -> None:
    """Kept on purpose (``catalog.get_model_spec``): an id the catalog does not know may
    be a new release, so the API, not the app, decides; here the API does not know it."""
    with pytest.raises(CommandError) as info:
        generate("A fox", "--model", "gemini-9-image", "--size", "64x64",
                 "--output", str(tmp_path / "f.png"))
    assert info.value.returncode == 1
    assert Generation.objects.get().model == "gemini-9-image"
    assert [r.model for r in aigen_emulator.requests()] == ["gemini-9-image"]
