"""The app as its users get it: the wheel installed into a fresh ``startproject`` host
that follows README.md's "Add it to your project" as written (the snippets are read from
README.md). Run alone with ``pytest -m host`` (or ``pytest tests/host``).

Nothing here leaves loopback: the host's app calls the bundled emulator, started in the
host with ``manage.py aigen_emulator``, and the browser aborts (and the test reports)
any request to another host.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, Route, expect, sync_playwright

from tests.support import png_bytes
from tests.support.browser import CHROMIUM_ARGS, loaded_images

from .project import (
    COMMAND_TIMEOUT,
    DRF_SCHEMA_SETTINGS,
    PASSWORD,
    STAFF,
    Host,
    Site,
    running_server,
)
from .suite import copy_suite

pytestmark = [pytest.mark.host, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = {"127.0.0.1", "localhost"}
POLL_TIMEOUT = 60
STYLESHEET = "/static/aigen_app/admin.css"
SWAGGER_FILES = ("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
                 "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")


def api(site: Site) -> httpx.Client:
    return httpx.Client(base_url=site.url, timeout=120,
                        headers={"Authorization": f"Token {site.token}"})


def finished(client: httpx.Client, created: httpx.Response) -> dict[str, Any]:
    """The generation a create answered with, polled until it is no longer running."""
    assert created.status_code in (201, 202), created.text
    generation: dict[str, Any] = created.json()
    deadline = time.monotonic() + POLL_TIMEOUT
    while generation["status"] in ("pending", "running"):
        assert time.monotonic() < deadline, generation
        time.sleep(0.2)  # the client's poll interval, as a user's would have one
        generation = client.get(f"/api/generations/{generation['id']}/").json()
    return generation


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def test_the_host_imports_the_installed_wheel_not_the_checkout(host: Host) -> None:
    output = host.manage("shell", "-c", "import aigen_app; print(aigen_app.__file__)").stdout
    location = Path(output.strip().splitlines()[-1]).resolve()  # after shell's banner
    assert location.is_relative_to(host.site.resolve()), location
    assert not location.is_relative_to(ROOT), location


def test_host_suite_passes_with_aigen_testing_fixtures(host: Host) -> None:
    """The host's own pytest run, with ``pytest_plugins = ["aigen_app.testing"]``."""
    copy_suite(host)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "tests"], cwd=host.root, env=host.env, capture_output=True, text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout


def test_check_reports_no_errors(host: Host) -> None:
    result = host.manage("check")  # exits non-zero on errors
    assert "ERRORS:" not in result.stdout + result.stderr


def test_collectstatic_copies_the_app_and_swagger_ui_files(host: Host) -> None:
    host.manage("collectstatic", "--noinput", "-v", "0")
    static_root = host.root / "staticfiles"
    for name in ("aigen_app/admin.css", *SWAGGER_FILES):
        assert (static_root / name).is_file(), name


def test_generate_command_writes_an_image_of_the_exact_size(
        host: Host, ai_env: dict[str, str]) -> None:
    host.manage("generate", "A lighthouse at dawn", "--size", "1280x720",
                "--output", "x.png", env=ai_env)
    assert image_size((host.root / "x.png").read_bytes()) == (1280, 720)


def test_generation_through_the_api_has_the_exact_size(site: Site) -> None:
    with api(site) as client:
        created = client.post("/api/generations/", json={
            "prompt": "A poster of a red bicycle", "width": 640, "height": 360})
        generation = finished(client, created)
        assert generation["status"] == "succeeded", generation
        image = client.get(f"/api/generations/{generation['id']}/image/",
                           follow_redirects=True)
    assert image.status_code == 200
    assert image_size(image.content) == (640, 360)


def test_schema_answers_without_rest_framework_setting(site: Site) -> None:
    schema = httpx.get(f"{site.url}/api/schema/", params={"format": "json"}, timeout=60)
    assert schema.status_code == 200, schema.text[:2000]
    assert "/api/generations/" in schema.json()["paths"]


def test_schema_answers_with_drf_own_schema_class(
        host: Host, ai_env: dict[str, str]) -> None:
    with running_server(host, settings=DRF_SCHEMA_SETTINGS, env=ai_env) as url:
        schema = httpx.get(f"{url}/api/schema/", params={"format": "json"}, timeout=60)
    assert schema.status_code == 200, schema.text[:2000]
    assert "/api/generations/" in schema.json()["paths"]


class Traffic:
    """Every request the browser makes: anything off loopback is aborted and recorded,
    as are failed requests and answers >= 400."""

    def __init__(self, context: BrowserContext) -> None:
        self.external: list[str] = []
        self.failed: list[str] = []
        self.stylesheets: list[tuple[str, int]] = []
        context.route("**/*", self._route)
        context.on("requestfailed", lambda request: self.failed.append(
            f"{request.url}: {request.failure}"))
        context.on("response", self._response)

    def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.url}: {response.status}")
        if urlsplit(response.url).path == STYLESHEET:
            self.stylesheets.append((response.url, response.status))


# The page's stylesheets that loaded: their paths, for those with rules.
APPLIED_STYLESHEETS = """() => Array.from(document.styleSheets)
    .filter(sheet => sheet.href && sheet.cssRules.length > 0)
    .map(sheet => new URL(sheet.href).pathname)"""


def assert_page_whole(page: Page, path: str, *, images: bool) -> None:
    """Open ``path``: every image on it loaded (and, with ``images``, some of the app's
    own, which admin views serve from storage), the app's stylesheet applied."""
    response = page.goto(path)
    assert response is not None and response.ok, (path, response and response.status)
    found = loaded_images(page, "#content img")
    assert all(image["ok"] and image["width"] > 0 for image in found), (path, found)
    stored = [image for image in found if not image["src"].startswith("/static/")]
    assert bool(stored) == images, (path, found)
    assert STYLESHEET in page.evaluate(APPLIED_STYLESHEETS), path


@pytest.fixture
def browser_page(chromium: str, site: Site, tmp_path: Path) -> Iterator[tuple[Page, Traffic]]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, args=CHROMIUM_ARGS,
            headless=True, base_url=site.url,
        )
        try:
            traffic = Traffic(context)
            yield context.pages[0] if context.pages else context.new_page(), traffic
        finally:
            context.close()


def test_admin_and_swagger_ui_render_whole_and_offline(
        site: Site, browser_page: tuple[Page, Traffic]) -> None:
    with api(site) as client:
        asset = client.post("/api/assets/", data={"asset_type": "logo"},
                            files={"image": ("logo.png", png_bytes(40, 40), "image/png")})
        assert asset.status_code in (200, 201), asset.text
        first = finished(client, client.post("/api/generations/", json={
            "prompt": "A lighthouse with our logo", "width": 320, "height": 240,
            "media_assets": [asset.json()["id"]]}))
        second = finished(client, client.post(
            f"/api/generations/{first['id']}/refine/", json={"prompt": "Make it stormy"}))
    assert first["status"] == second["status"] == "succeeded", (first, second)

    page, traffic = browser_page
    page.goto("/admin/login/")
    page.fill("#id_username", STAFF)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()

    assert_page_whole(page, "/admin/aigen_app/generation/", images=True)
    assert_page_whole(page, "/admin/aigen_app/conversation/", images=False)
    assert_page_whole(page, "/admin/aigen_app/mediaasset/", images=True)
    assert_page_whole(page, f"/admin/aigen_app/generation/{second['id']}/change/",
                      images=True)
    assert_page_whole(page, f"/admin/aigen_app/conversation/{second['conversation']}/change/",
                      images=True)
    expect(page.locator("article.aigen-turn")).to_have_count(4)

    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() > 5

    assert traffic.external == [], "requests left loopback"
    assert traffic.failed == [], "sub-requests failed"
    assert traffic.stylesheets and all(status in (200, 304)
                                       for _, status in traffic.stylesheets)
