"""Reading admin pages in tests: changelist rows, thread turns, admin URLs."""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse


def admin_url(model: str, view: str = "changelist", *args: Any, **kwargs: Any) -> str:
    return reverse(f"admin:aigen_app_{model}_{view}", args=args or None, kwargs=kwargs or None)


def result_rows(html: str) -> dict[str, str]:
    """Each changelist row's HTML, by the id of the object its first link opens."""
    start = html.find('id="result_list"')
    if start < 0:
        return {}
    table = html[start:html.index("</table>", start)]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        match = re.search(r'href="/admin/aigen_app/\w+/([^/"]+)/change/', row)
        if match:
            rows[match.group(1)] = row
    return rows


def field(html: str, name: str) -> str:
    """The text of one read-only field's value on a change page."""
    match = re.search(rf'<div class="[^"]*field-{name}\b.*?<div class="readonly">(.*?)</div>',
                      html, re.S)
    assert match, f"no field {name}"
    return match.group(1).strip()


def thread_turns(html: str) -> list[tuple[int, str, str]]:
    """The conversation page's turns in document order: (position, role, their HTML)."""
    return [
        (int(position), role, body)
        for position, role, body in re.findall(
            r'<article class="aigen-turn[^"]*" data-position="(\d+)" data-role="(\w+)">'
            r"(.*?)</article>", html, re.S,
        )
    ]


def image_sources(html: str) -> list[str]:
    """The app's images on a page (the admin's own icons left out)."""
    return re.findall(r'<img src="(/admin/aigen_app/[^"]+)"', html)


def staff_client(user: Any, *codenames: str) -> Any:
    """A test client logged in as ``user``, made staff (not superuser) with exactly the
    permissions of ``aigen_app`` named by ``codenames`` ("view_generation"...)."""
    from django.contrib.auth.models import Permission
    from django.test import Client

    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="aigen_app",
                                                        codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


VIEW_ALL = ("view_generation", "view_conversation", "view_mediaasset")
ACT_ALL = (*VIEW_ALL, "add_generation", "change_generation", "delete_generation",
           "delete_conversation", "delete_mediaasset")
