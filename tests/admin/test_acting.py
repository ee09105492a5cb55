"""Acting in the admin: starting a generation for a user, retry / cancel buttons,
deleting generations, conversations and assets, and erasing a user's content. All
through the services (quota, idempotency, files), each leaving a log entry; staff
without the permissions see no buttons and get 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from aigen_app import services
from aigen_app.models import Conversation, Generation, GenerationStatus, MediaAsset
from tests.support import Media, aigen_settings_for, png_bytes, stored_files

from .helpers import ACT_ALL, VIEW_ALL, admin_url, staff_client

pytestmark = pytest.mark.django_db


def notes(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def logged(flag: int, pk: Any) -> list[str]:
    return list(LogEntry.objects.filter(action_flag=flag, object_id=str(pk))
                .values_list("user__username", flat=True))


def start_form(owner: str, prompt: str, **extra: Any) -> dict[str, Any]:
    return {"owner": owner, "prompt": prompt, "width": 96, "height": 64, "model": "",
            "seed": "", "media_assets": "", **extra}


def test_staff_start_a_generation_for_a_user_through_the_services(
        make_user: Callable[..., Any], aigen_emulator: Any, immediate_tasks: None,
        django_capture_on_commit_callbacks: Any) -> None:
    ada = make_user("ada")
    client = staff_client(make_user("mod"), *ACT_ALL)
    logo = services.add_media_asset(png_bytes(40, 40), owner=ada)
    page = client.get(admin_url("generation", "add")).content.decode()
    assert 'name="ignore_daily_limit"' not in page  # superusers only
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]

    form = start_form("ada", "A lighthouse", idempotency_key=key, media_assets=str(logo.pk),
                      reference_image=SimpleUploadedFile("ref.png", png_bytes(30, 20)))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(admin_url("generation", "add"), form)

    generation = Generation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == admin_url("generation", "change", generation.pk)
    assert generation.owner == ada and generation.status == GenerationStatus.SUCCEEDED
    assert generation.reference_image and list(generation.media_assets.all()) == [logo]
    assert logged(ADDITION, generation.pk) == ["mod"]
    # Submitting the same form again (a double click) starts nothing new.
    form["reference_image"] = SimpleUploadedFile("ref.png", png_bytes(30, 20))
    client.post(admin_url("generation", "add"), form)
    assert Generation.objects.count() == 1


def test_the_start_form_reports_what_the_services_refuse(
        make_user: Callable[..., Any], aigen_emulator: Any, queued_tasks: Any) -> None:
    make_user("ada")
    client = staff_client(make_user("mod"), *ACT_ALL)
    html = client.post(admin_url("generation", "add"),
                       start_form("nobody", "A fox")).content.decode()
    assert "No user named &#x27;nobody&#x27;." in html
    html = client.post(admin_url("generation", "add"),
                       start_form("ada", "A fox", width=99999)).content.decode()
    assert "width must be between 1 and" in html
    assert not Generation.objects.exists()


def test_the_daily_limit_holds_unless_a_superuser_overrides_it(
        make_user: Callable[..., Any], aigen_emulator: Any, queued_tasks: Any,
        admin_client: Client) -> None:
    ada = make_user("ada")
    staff = staff_client(make_user("mod"), *ACT_ALL)
    with override_settings(AIGEN=aigen_settings_for(aigen_emulator, USER_DAILY_LIMIT=1)):
        services.create_generation("Her own", owner=ada)
        html = staff.post(admin_url("generation", "add"), start_form(
            "ada", "One more", ignore_daily_limit="on")).content.decode()
        assert "Daily generation limit reached: 1 of 1" in html
        html = admin_client.post(admin_url("generation", "add"),
                                 start_form("ada", "One more")).content.decode()
        assert "Daily generation limit reached" in html
        assert 'name="ignore_daily_limit"' in html
        response = admin_client.post(admin_url("generation", "add"), start_form(
            "ada", "One more", ignore_daily_limit="on"))
    assert response.status_code == 302
    assert Generation.objects.filter(owner=ada).count() == 2


def test_retry_and_cancel_buttons_act_through_the_services_and_are_logged(
        make_user: Callable[..., Any], make_generation: Callable[..., Generation],
        make_pending: Callable[..., Generation]) -> None:
    client = staff_client(make_user("mod"), *ACT_ALL)
    failed = make_generation("A fox", fault="bad_request")
    pending = make_pending("A hen")

    assert 'name="_retry"' in client.get(admin_url("generation", "change", failed.pk)
                                         ).content.decode()
    assert 'name="_cancel"' in client.get(admin_url("generation", "change", pending.pk)
                                          ).content.decode()
    client.post(admin_url("generation", "retry", failed.pk))
    response = client.post(admin_url("generation", "cancel", pending.pk))

    assert response["Location"] == admin_url("generation", "change", pending.pk)
    failed.refresh_from_db()
    pending.refresh_from_db()
    assert failed.status == GenerationStatus.PENDING
    assert pending.status == GenerationStatus.CANCELED
    assert logged(CHANGE, failed.pk) == logged(CHANGE, pending.pk) == ["mod"]
    # Refused by the service: reported, not logged.
    done = make_generation("A cat")
    response = client.post(admin_url("generation", "cancel", done.pk))
    assert any("Only a pending or running generation" in note for note in notes(response))
    assert logged(CHANGE, done.pk) == []


def test_deleting_a_generation_goes_through_the_service(
        make_user: Callable[..., Any], make_generation: Callable[..., Generation],
        media_storage: Media, django_capture_on_commit_callbacks: Any) -> None:
    client = staff_client(make_user("mod"), *ACT_ALL)
    first = make_generation("A fox")
    first_files = stored_files(media_storage)
    second = make_generation("In the snow", refine=first)

    # Its refinement protects it (Django says so before the service would refuse).
    response = client.post(admin_url("generation", "delete", first.pk), {"post": "yes"})
    assert b"protected related objects" in response.content
    assert Generation.objects.filter(pk=first.pk).exists()
    assert logged(DELETION, first.pk) == []

    with django_capture_on_commit_callbacks(execute=True):
        client.post(admin_url("generation", "delete", second.pk), {"post": "yes"})
    assert not Generation.objects.filter(pk=second.pk).exists()
    assert stored_files(media_storage) == first_files
    assert logged(DELETION, second.pk) == ["mod"]


def test_a_selection_with_refinements_is_deleted_newest_first(
        make_user: Callable[..., Any], make_generation: Callable[..., Generation]) -> None:
    client = staff_client(make_user("mod"), *ACT_ALL)
    first = make_generation("A fox")
    second = make_generation("In the snow", refine=first)
    third = make_generation("At night", refine=second)
    selected = [str(g.pk) for g in (first, second, third)]

    response = client.post(admin_url("generation"), {
        "action": "delete_selected", "_selected_action": selected, "post": "yes"})

    assert "Deleted 3 generations." in notes(response)
    assert not Generation.objects.exists()
    assert [logged(DELETION, g.pk) for g in (first, second, third)] == [["mod"]] * 3


def test_deleting_conversations_with_the_list_action_removes_their_files(
        make_user: Callable[..., Any], make_generation: Callable[..., Generation],
        media_storage: Media, django_capture_on_commit_callbacks: Any) -> None:
    client = staff_client(make_user("mod"), *ACT_ALL)
    kept = make_generation("A hen")
    kept_files = stored_files(media_storage)
    first = make_generation("A fox")
    make_generation("In the snow", refine=first)
    selected = {"action": "delete_selected", "_selected_action": [str(first.conversation_id)]}

    confirm = client.post(admin_url("conversation"), selected)
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(admin_url("conversation"), {**selected, "post": "yes"})

    assert "Deleted 1 conversation." in notes(response)
    assert list(Generation.objects.all()) == [kept]
    assert stored_files(media_storage) == kept_files
    assert logged(DELETION, first.conversation_id) == ["mod"]


def test_an_asset_in_use_is_not_deleted_and_not_logged(
        make_user: Callable[..., Any], make_pending: Callable[..., Generation]) -> None:
    ada = make_user("ada")
    client = staff_client(make_user("mod"), *ACT_ALL)
    asset = services.add_media_asset(png_bytes(), owner=ada)
    make_pending("A poster", owner=ada, media_assets=[asset])

    response = client.post(admin_url("mediaasset", "delete", asset.pk), {"post": "yes"})

    assert any("used by generations that have not finished" in n for n in notes(response))
    assert MediaAsset.objects.filter(pk=asset.pk).exists()
    assert logged(DELETION, asset.pk) == []


def test_erasing_a_users_content(
        make_user: Callable[..., Any], make_generation: Callable[..., Generation],
        media_storage: Media, django_capture_on_commit_callbacks: Any) -> None:
    ada, bob = make_user("ada"), make_user("bob")
    client = staff_client(make_user("mod"), *ACT_ALL)
    make_generation("A cat", owner=bob)
    their_files = stored_files(media_storage)
    logo = services.add_media_asset(png_bytes(), owner=ada)
    first = make_generation("A fox", owner=ada, media_assets=[logo])
    make_generation("In the snow", refine=first)
    thread = client.get(admin_url("conversation", "change", first.conversation_id))
    assert admin_url("conversation", "erase", user_id=ada.pk) in thread.content.decode()

    page = client.get(admin_url("conversation", "erase", user_id=ada.pk)).content.decode()
    assert "1 conversation with 2 generations" in page and "1 media asset." in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(admin_url("conversation", "erase", user_id=ada.pk))

    assert ("Erased ada's content: 1 conversations, 2 generations and 1 media assets."
            in notes(response))
    assert not Conversation.objects.filter(owner=ada).exists()
    assert not MediaAsset.objects.exists()
    assert stored_files(media_storage) == their_files
    assert logged(DELETION, first.conversation_id) == logged(DELETION, logo.pk) == ["mod"]
    assert client.get(admin_url("conversation", "erase", user_id="nobody")).status_code == 404


def test_staff_without_the_permissions_see_no_buttons_and_get_403(
        make_user: Callable[..., Any], make_generation: Callable[..., Generation],
        make_pending: Callable[..., Generation]) -> None:
    ada = make_user("ada")
    client = staff_client(make_user("viewer"), *VIEW_ALL)
    failed = make_generation("A fox", owner=ada, fault="bad_request")
    done = make_generation("A hen", owner=ada)
    pending = make_pending("A cat", owner=ada)
    asset = services.add_media_asset(png_bytes(), owner=ada)

    pages = "".join(client.get(url).content.decode() for url in (
        admin_url("generation"), admin_url("generation", "change", failed.pk),
        admin_url("generation", "change", pending.pk),
        admin_url("conversation", "change", done.conversation_id),
        admin_url("conversation"), admin_url("mediaasset", "change", asset.pk),
    ))
    for button in ('name="_retry"', 'name="_cancel"', "deletelink", "aigen-erase",
                   "addlink", 'id="refine-form"', "delete_selected", "retry_generations"):
        assert button not in pages, button

    forbidden = [
        ("get", admin_url("generation", "add")),
        ("post", admin_url("generation", "add")),
        ("post", admin_url("generation", "retry", failed.pk)),
        ("post", admin_url("generation", "cancel", pending.pk)),
        ("post", admin_url("generation", "delete", done.pk)),
        ("post", admin_url("conversation", "delete", done.conversation_id)),
        ("post", admin_url("mediaasset", "delete", asset.pk)),
        ("get", admin_url("conversation", "erase", user_id=ada.pk)),
        ("post", admin_url("conversation", "erase", user_id=ada.pk)),
        ("post", admin_url("conversation", "change", done.conversation_id)),
    ]
    for method, url in forbidden:
        assert getattr(client, method)(url, {"post": "yes"}).status_code == 403, url
    assert Generation.objects.count() == 3 and MediaAsset.objects.count() == 1
    assert not LogEntry.objects.exists()
