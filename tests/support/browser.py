"""Driving Debian's headless Chromium with Playwright: its arguments and how a page's
images are read (the admin's browser test and the host leg)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Every image of the page: whether it loaded, and its natural width.
IMAGES_LOADED = """selector => Array.from(document.querySelectorAll(selector))
    .map(img => ({src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0,
                  width: img.naturalWidth}))"""


def loaded_images(page: Page, selector: str) -> list[dict[str, Any]]:
    """Scroll each image into view (they load lazily), wait until all have settled,
    then report each one."""
    images = page.locator(selector)
    for index in range(images.count()):
        images.nth(index).scroll_into_view_if_needed()
    page.wait_for_function(
        "selector => Array.from(document.querySelectorAll(selector)).every(i => i.complete)",
        arg=selector,
    )
    result: list[dict[str, Any]] = page.evaluate(IMAGES_LOADED, selector)
    return result
