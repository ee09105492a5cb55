"""The admin in a real browser: Debian's headless Chromium driven by Playwright.

A staff user logs in, sees every thumbnail of the generation list actually load, opens
a conversation, finds its turns in order, refines it through the form and sees the new
generation. Screenshots land in .screenshots/ or $AIGEN_SCREENSHOTS (paths printed).

Playwright's sync API keeps an asyncio loop running in this thread while a browser is
open, and Django refuses ORM calls from a thread with a running loop
(SynchronousOnlyOperation). So every ORM call here happens before Playwright starts or
after it stops; the server side runs in pytest-django's live-server thread, which has no
loop. No DJANGO_ALLOW_ASYNC_UNSAFE needed.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect, sync_playwright

from aigen_app import services
from aigen_app.models import Generation, GenerationStatus
from tests.support import Media, png_bytes, stored_files
from tests.support.browser import CHROMIUM_ARGS, loaded_images

from .helpers import ACT_ALL, admin_url, staff_client

PASSWORD = "correct-horse-battery"  # a throwaway test account

ROOT = Path(__file__).resolve().parents[2]

def screenshot(page: Page, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
# The test body gets the suite's 120 s; installing Chromium (the session fixture, first
# run on a fresh machine) is bounded by its own apt-get timeout instead.
@pytest.mark.timeout(120, func_only=True)
def test_staff_browse_thumbnails_thread_and_refine_in_chromium(
        chromium: str, live_server: Any, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any], tmp_path: Path) -> None:
    get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
    ada = make_user("ada")
    logo = services.add_media_asset(png_bytes(40, 40, (20, 90, 200)), owner=ada,
                                    asset_type="logo", display_name="ACME logo")
    first = make_generation("A red lighthouse at dusk", owner=ada, width=320, height=240)
    second = make_generation("Make the sky stormy", refine=first)
    make_generation("A poster with our logo", owner=ada, media_assets=[logo],
                    width=240, height=320)
    make_generation("Something forbidden", fault="block_prompt")
    thumbnails = Generation.objects.filter(status=GenerationStatus.SUCCEEDED).count()
    # Kept after the run (tmp_path is not) for people and CI artifacts to look at.
    shots = Path(os.environ.get("AIGEN_SCREENSHOTS") or ROOT / ".screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a new, empty user data dir
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1440, "height": 900},
        )
        page = browser.new_page()
        page.set_default_timeout(20_000)
        try:
            browse(page, live_server.url, thumbnails, shots, str(first.conversation_id))
        finally:
            browser.close()

    refined = Generation.objects.get(prompt="Add a small wooden boat")
    assert refined.parent_id == second.pk
    assert refined.status == GenerationStatus.SUCCEEDED


def browse(page: Page, server: str, thumbnails: int, shots: Path,
           conversation_id: str) -> None:
    # Log in through the admin's login page.
    page.goto(f"{server}/admin/login/?next={admin_url('generation')}")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#result_list")).to_be_visible()

    # Every thumbnail of the generation list loaded.
    images = loaded_images(page, "#result_list img.aigen-thumb")
    screenshot(page, shots, "1-generation-list")
    assert len(images) == thumbnails
    assert all(image["ok"] and image["width"] > 0 for image in images), images
    expect(page.locator("#result_list .aigen-status--blocked")).to_have_count(1)

    # The conversation, from the conversation list: its turns in order.
    page.goto(f"{server}{admin_url('conversation')}")
    page.click(f"a[href='{admin_url('conversation', 'change', conversation_id)}']")
    turns = page.locator("article.aigen-turn")
    expect(turns).to_have_count(4)
    roles = [turns.nth(i).get_attribute("data-role") for i in range(4)]
    positions = [turns.nth(i).get_attribute("data-position") for i in range(4)]
    assert roles == ["user", "model", "user", "model"]
    assert positions == ["0", "1", "2", "3"]
    expect(turns.nth(0)).to_contain_text("A red lighthouse at dusk")
    expect(turns.nth(2)).to_contain_text("Make the sky stormy")
    expect(turns.nth(1)).to_contain_text("thought signature held")
    thread_images = loaded_images(page, "article.aigen-turn img")
    assert len(thread_images) == 2
    assert all(image["ok"] for image in thread_images), thread_images
    screenshot(page, shots, "2-conversation-thread")

    # Refine through the form; the page after the redirect shows the new generation.
    page.fill("#id_prompt", "Add a small wooden boat")
    page.click("input[name=_refine]")
    expect(page.locator(".messagelist .success")).to_contain_text("(succeeded)")
    expect(turns).to_have_count(6)
    expect(turns.nth(4)).to_contain_text("Add a small wooden boat")
    assert turns.nth(5).get_attribute("data-role") == "model"
    new_images = loaded_images(page, "article.aigen-turn img")
    assert len(new_images) == 3 and all(image["ok"] for image in new_images), new_images
    screenshot(page, shots, "3-after-refine")

    # And the new generation's own page, with its large preview.
    turns.nth(5).locator("details summary").click()  # ids are behind the toggle
    turns.nth(5).locator(".aigen-turn-generation a").click()
    expect(page.locator(".field-prompt")).to_contain_text("Add a small wooden boat")
    [preview] = loaded_images(page, "img.aigen-preview")
    assert preview["ok"], preview
    screenshot(page, shots, "4-new-generation")


# Whether an element's content fits its box (nothing clipped or scrolled sideways).
FITS = """selector => { const e = document.querySelector(selector);
    return {scroll: e.scrollWidth, client: e.clientWidth,
            page: document.documentElement.scrollWidth, window: window.innerWidth}; }"""
DARK_BACKGROUND = """() => getComputedStyle(document.body).backgroundColor
    .match(/\\d+/g).slice(0, 3).map(Number).every(channel => channel < 80)"""


def assert_fits(page: Page, selector: str) -> None:
    box = page.evaluate(FITS, selector)
    assert box["scroll"] <= box["client"] and box["page"] <= box["window"], (selector, box)


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(150, func_only=True)
def test_a_staff_member_without_superuser_rights_acts_in_chromium(
        chromium: str, live_server: Any, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any], media_storage: Media, tmp_path: Path) -> None:
    """Must show: as staff with model permissions but no superuser rights, find a failed
    generation and read why, start one for a user, refine it, delete its conversation
    (its files are gone), and download the usage CSV (its figures are the page's). At
    1280 px, light and dark."""
    mod = make_user("mod")
    mod.set_password(PASSWORD)
    mod.save()
    staff_client(mod, *ACT_ALL)
    ada = make_user("ada")
    failed = make_generation("A fox in a henhouse", owner=ada, fault="bad_request")
    make_generation("A quiet harbour", owner=ada, width=160, height=96)
    assert failed.status == GenerationStatus.FAILED and failed.error_message
    files_before = stored_files(media_storage)
    shots = Path(os.environ.get("AIGEN_SCREENSHOTS") or ROOT / ".screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1280, "height": 800}, accept_downloads=True,
        )
        page = browser.new_page()
        page.set_default_timeout(20_000)
        try:
            figures = act(page, live_server.url, shots, failed)
        finally:
            browser.close()

    assert not Generation.objects.filter(prompt__in=["A lighthouse on a cliff",
                                                     "Add a small wooden boat"]).exists()
    assert stored_files(media_storage) == files_before  # the deleted conversation's files
    assert figures["csv"] == figures["page"] and figures["page"]


def act(page: Page, server: str, shots: Path, failed: Generation) -> dict[str, Any]:
    page.goto(f"{server}/admin/login/?next={admin_url('generation')}")
    page.fill("#id_username", "mod")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#result_list")).to_be_visible()
    screenshot(page, shots, "5-changelist-1280")
    assert_fits(page, "#changelist .results")

    # A failed generation, found by its error code, and why it failed.
    page.click(f"#changelist-filter a[href='?error_code={failed.error_code}']")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".aigen-reason")).to_contain_text(failed.error_code)
    rows.first.locator(".field-prompt_excerpt a").click()
    expect(page.locator(".field-why")).to_contain_text(failed.error_message[:40])
    screenshot(page, shots, "6-failed-generation-why")

    # Start a generation for ada; it runs at once (immediate tasks) and succeeds.
    page.goto(f"{server}{admin_url('generation')}")
    page.click("a.addlink")
    page.fill("#id_owner", "ada")
    page.fill("#id_prompt", "A lighthouse on a cliff")
    page.fill("#id_width", "160")
    page.fill("#id_height", "96")
    assert page.locator("#id_ignore_daily_limit").count() == 0  # superusers only
    page.click("input[name=_start]")
    expect(page.locator(".messagelist .success")).to_contain_text("started for ada (succeeded)")

    # Its conversation, refined through the thread's form.
    page.locator(".field-conversation_link a").click()
    page.fill("#id_prompt", "Add a small wooden boat")
    page.click("input[name=_refine]")
    expect(page.locator(".messagelist .success")).to_contain_text("(succeeded)")
    turns = page.locator("article.aigen-turn")
    expect(turns).to_have_count(4)
    expect(turns.nth(0)).to_contain_text("ada asked")
    expect(turns.nth(3)).to_contain_text("Model answered")
    details = turns.nth(3).locator("details.aigen-turn-details")
    expect(details.locator("dl")).to_be_hidden()
    details.locator("summary").click()
    expect(details.locator("dl")).to_be_visible()
    thumbnails = loaded_images(page, "article.aigen-turn img")
    assert len(thumbnails) == 2 and all(image["ok"] for image in thumbnails), thumbnails
    assert all("/thumbnail/" in image["src"] for image in thumbnails)
    screenshot(page, shots, "7-thread-1280")
    assert_fits(page, "#content")
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(DARK_BACKGROUND)
    screenshot(page, shots, "8-thread-dark")
    assert_fits(page, "#content")
    page.emulate_media(color_scheme="light")

    # Delete the conversation (Django's confirmation, then the service).
    page.click("a.aigen-delete")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist .success")).to_be_visible()

    # The usage page and its CSV.
    page.goto(f"{server}{admin_url('generation')}")
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(DARK_BACKGROUND)
    screenshot(page, shots, "9-changelist-dark")
    assert_fits(page, "#changelist .results")
    page.emulate_media(color_scheme="light")
    page.click("a.aigen-usage-link")
    table = page.locator("#aigen-usage tbody tr.aigen-usage-row")
    expect(table).to_have_count(1)
    shown = [[cell.strip() for cell in table.nth(i).locator("td").all_inner_texts()]
             for i in range(table.count())]
    screenshot(page, shots, "10-usage")
    with page.expect_download() as download:
        page.click("a.aigen-csv")
    text = Path(download.value.path()).read_text()
    lines = list(csv.reader(io.StringIO(text)))[1:]
    from_csv = [[line[0], line[1], *line[2:8], "~" + line[8]] for line in lines]
    return {"page": shown, "csv": from_csv}
