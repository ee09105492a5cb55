"""Media assets: a preview, the type, the owner, the dimensions and the sha256."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aigen_app import services
from tests.support import png_bytes

from .helpers import admin_url, result_rows

pytestmark = pytest.mark.django_db


def test_list_and_detail_show_preview_type_owner_dimensions_and_sha256(
        admin_client: Client, make_user: Callable[..., Any]) -> None:
    ada = make_user("ada")
    logo = services.add_media_asset(png_bytes(300, 150), owner=ada, asset_type="logo",
                                    display_name="ACME logo")
    image = admin_url("mediaasset", "image", object_id=logo.pk)

    row = result_rows(admin_client.get(admin_url("mediaasset")).content.decode())[str(logo.pk)]
    assert f'<img src="{image}" alt="ACME logo" class="aigen-thumb" width="64" height="32"' in row
    for text in ("ACME logo", ">Logo<", ">ada<", ">300x150<", ">image/png<",
                 f">{logo.sha256[:12]}<"):
        assert text in row, text

    html = admin_client.get(admin_url("mediaasset", "change", logo.pk)).content.decode()
    assert (f'<img src="{image}" alt="ACME logo" class="aigen-preview" '
            'width="300" height="150"') in html
    for text in (logo.sha256, "300x150", "Logo", "ada"):
        assert text in html, text


def test_search_by_name_sha256_and_owner_and_filter_by_type(admin_client: Client,
                                         make_user: Callable[..., Any]) -> None:
    logo = services.add_media_asset(png_bytes(color=(1, 2, 3)), owner=make_user("ada"),
                                    asset_type="logo", display_name="ACME logo")
    face = services.add_media_asset(png_bytes(color=(9, 9, 9)), owner=make_user("bob"),
                                    asset_type="face")

    def found(query: str) -> set[str]:
        html = admin_client.get(admin_url("mediaasset") + f"?q={query}").content.decode()
        return set(result_rows(html))

    assert found("acme") == {str(logo.pk)}
    assert found(face.sha256[:16]) == {str(face.pk)}
    assert found("bob") == {str(face.pk)}
    html = admin_client.get(admin_url("mediaasset") + "?asset_type__exact=face").content.decode()
    assert set(result_rows(html)) == {str(face.pk)}
