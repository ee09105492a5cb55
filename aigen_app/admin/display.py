"""HTML snippets the admin pages share: image tags sized from stored columns, status
badges, links to other admin pages. Nothing here touches storage."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import GenerationStatus

THUMBNAIL_BOX = 64
PREVIEW_BOX = 768
THREAD_BOX = 320


def fit(width: int | None, height: int | None, box: int) -> tuple[int, int] | None:
    """``width`` x ``height`` scaled down (never up) to fit a ``box`` square; None when
    the dimensions are unknown."""
    if not width or not height:
        return None
    scale = min(box / width, box / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def image_tag(url: str, width: int | None, height: int | None, *, box: int, alt: str,
              css_class: str = "aigen-thumb", link: bool = True,
              href: str | None = None) -> SafeString:
    """An ``<img>`` for ``url`` with its size known before it loads (no layout shift),
    optionally linking to the full image (``href``, by default ``url`` itself)."""
    size = fit(width, height, box)
    if size is None:
        img = format_html('<img src="{}" alt="{}" class="{}" style="max-width:{}px;'
                          'max-height:{}px" loading="lazy" decoding="async">',
                          url, alt, css_class, box, box)
    else:
        img = format_html('<img src="{}" alt="{}" class="{}" width="{}" height="{}" '
                          'loading="lazy" decoding="async">',
                          url, alt, css_class, size[0], size[1])
    if not link:
        return img
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', href or url, img)


def status_badge(status: str) -> SafeString:
    label = GenerationStatus(status).label if status in GenerationStatus.values else status
    return format_html('<span class="aigen-status aigen-status--{}">{}</span>', status, label)


def admin_url(obj: models.Model, site: str, action: str = "change") -> str:
    """The URL of ``obj``'s admin page on the admin site named ``site``."""
    opts = obj._meta
    return reverse(f"{site}:{opts.app_label}_{opts.model_name}_{action}", args=[obj.pk])


def admin_link(obj: models.Model, text: Any, site: str) -> SafeString:
    """A link to ``obj``'s change page on the admin site named ``site``."""
    url = admin_url(obj, site)
    return format_html('<a href="{}">{}</a>', url, text)


def excerpt(text: str, length: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
