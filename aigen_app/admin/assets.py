"""Media assets in the admin: what each uploaded image is, whose, and how large; deleted
through ``services.delete_media_asset``, as the API deletes them."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template.defaultfilters import filesizeformat
from django.urls import URLPattern, path
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .. import services
from ..image_responses import stored_image
from ..models import MediaAsset
from . import display
from .base import ReadOnlyAdmin
from .deletion import ServiceDeletion


@admin.register(MediaAsset)
class MediaAssetAdmin(ServiceDeletion[MediaAsset], ReadOnlyAdmin[MediaAsset]):
    list_display = ["thumbnail", "__str__", "asset_type", "owner", "dimensions", "mime_type",
                    "size", "short_sha256", "created_at"]
    list_display_links = ["thumbnail", "__str__"]
    list_filter = ["asset_type", "mime_type", "created_at"]
    search_fields = ["display_name", "sha256", "id", "owner__username"]
    list_select_related = ["owner"]
    actions = ["delete_selected"]
    fields = ["preview", "display_name", "asset_type", "owner", "dimensions", "mime_type",
              "size", "sha256", "id", "created_at"]

    def delete_object(self, obj: MediaAsset) -> None:
        services.delete_media_asset(obj)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_image"
        return [
            path("<path:object_id>/image/", self.admin_site.admin_view(self.image_view),
                 name=name),
            *super().get_urls(),
        ]

    def image_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        asset = self.viewable(request, object_id)
        return stored_image(request, asset.image.name or "", asset.mime_type, asset.sha256)

    @admin.display(description=_("Image"))
    def thumbnail(self, obj: MediaAsset) -> SafeString:
        return display.image_tag(self.image_url(obj), obj.width, obj.height,
                                 box=display.THUMBNAIL_BOX, alt=str(obj), link=False)

    @admin.display(description=_("Image"))
    def preview(self, obj: MediaAsset) -> SafeString:
        return display.image_tag(self.image_url(obj), obj.width, obj.height,
                                 box=display.PREVIEW_BOX, alt=str(obj),
                                 css_class="aigen-preview")

    @admin.display(description=_("Dimensions"))
    def dimensions(self, obj: MediaAsset) -> str:
        return f"{obj.width}x{obj.height}"

    @admin.display(description=_("Size"), ordering="byte_size")
    def size(self, obj: MediaAsset) -> str:
        return filesizeformat(obj.byte_size)

    @admin.display(description="sha256", ordering="sha256")
    def short_sha256(self, obj: MediaAsset) -> str:
        return obj.sha256[:12]
