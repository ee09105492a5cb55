"""The API's viewsets: each action checks access, hands over to a serializer or a
service, and shapes the response. No business rules live here."""

from __future__ import annotations

from typing import Any, TypeVar

import django_filters
from django.db.models import (
    Count,
    Model,
    Prefetch,
    QuerySet,
)
from django.http.response import HttpResponseBase
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.throttling import BaseThrottle

from .. import services
from ..conf import aigen_settings
from ..models import (
    Conversation,
    Generation,
    GenerationAsset,
    MediaAsset,
    Turn,
    TurnPart,
    count_per_conversation,
)
from ..services import rules
from . import filters, schema, strict
from . import serializers as s
from .delivery import image_response
from .exceptions import exception_handler
from .pagination import PagePagination
from .permissions import IsOwner
from .throttling import CreateRateThrottle

M = TypeVar("M", bound=Model)


class OwnedViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The signed-in user's own objects only; creating actions throttled.

    Authentication, permissions, renderers, parsers, pagination, filtering, versioning,
    the error handler and the schema class are set here rather than left to the host's
    ``REST_FRAMEWORK`` setting, so the API behaves as documented in a project that
    configures DRF differently (or not at all); subclass to change them. The host's
    throttles still apply, before the create throttle.
    """

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsOwner]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    parser_classes = [JSONParser]
    # URLs carry no version: a host's URL or namespace versioning would break reverse().
    versioning_class = None
    schema = AutoSchema()
    pagination_class = PagePagination
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    ordering = ["-created_at"]  # then the primary key (filters.OrderingFilter)
    # What the capped page count selects: the owner column, held by the owner indexes,
    # so the count reads no table rows (see pagination.CappedCountPaginator).
    count_by = "owner_id"
    creating_actions: frozenset[str] = frozenset()
    # Serializers of the actions that take input, by action; others use serializer_class.
    input_serializers: dict[str, type[BaseSerializer[Any]]] = {}

    def owned(self, queryset: QuerySet[M]) -> QuerySet[M]:
        """``queryset`` narrowed to the requesting user's rows."""
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return queryset.none()
        return queryset.filter(owner=user)

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return self.input_serializers.get(self.action) or super().get_serializer_class()

    def output(self, instance: Any) -> BaseSerializer[Any]:
        """``instance`` as the API shows it (``serializer_class``), whatever the action."""
        serializer_class: Any = self.serializer_class
        return serializer_class(instance, context=self.get_serializer_context())  # type: ignore[no-any-return]

    def get_exception_handler(self) -> Any:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        params = request.query_params
        wrong = {**strict.unknown_parameters(params, self.query_parameters()),
                 **strict.empty_parameters(params, self.free_text_parameters())}
        if wrong:
            raise ValidationError(wrong)

    def query_parameters(self) -> set[str]:
        """The query parameters this action documents (listings: filters, search,
        ordering, pages); any other is refused."""
        if self.action != "list":
            return set()
        known = {filters.SearchFilter.search_param, filters.OrderingFilter.ordering_param,
                 PagePagination.page_query_param, PagePagination.page_size_query_param}
        filterset = getattr(self, "filterset_class", None)
        return known | set(filterset.base_filters if filterset is not None else ())

    def free_text_parameters(self) -> set[str]:
        """The query parameters where an empty value means "any": the search and the
        text filters."""
        filterset = getattr(self, "filterset_class", None)
        text = {name for name, kind in (filterset.base_filters if filterset else {}).items()
                if isinstance(kind, django_filters.CharFilter)}
        return text | {filters.SearchFilter.search_param}

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = list(super().get_throttles())
        if self.action in self.creating_actions:
            throttles.append(CreateRateThrottle())
        return throttles

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Image endpoints answer image/*; errors there are still JSON whatever the Accept.
        return super().perform_content_negotiation(
            request, force=force or self.action == "image")


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` header, by the services' rule for keys; its
    refusal under the header's name."""
    key = request.headers.get("Idempotency-Key", "").strip()
    try:
        return rules.check_idempotency_key(key)
    except services.InvalidInput as exc:
        raise ValidationError({"Idempotency-Key": exc.messages}) from None


STARTED = {
    201: OpenApiResponse(s.GenerationSerializer, "Finished already (an immediate task "
                         "backend): succeeded, failed or blocked."),
    202: OpenApiResponse(s.GenerationSerializer, "Queued or running: poll Location after "
                         "Retry-After seconds."),
}


class GenerationCreateJSONSerializer(s.GenerationCreateSerializer):
    reference_image = None  # type: ignore[assignment]


class RefineJSONSerializer(s.RefineSerializer):
    reference_image = None  # type: ignore[assignment]


@extend_schema_view(
    list=schema.operation(summary="Your generations, newest first",
                       responses={200: s.GenerationSerializer(many=True),
                                  **schema.errors(*schema.LIST)}),
    retrieve=schema.operation(summary="One of your generations",
                           responses={200: s.GenerationSerializer,
                                      **schema.errors(404, *schema.READ)}),
)
class GenerationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OwnedViewSet):
    serializer_class = s.GenerationSerializer
    # What each action reads: the browsable API's forms show these fields.
    input_serializers: dict[str, type[BaseSerializer[Any]]] = {
        "create": s.GenerationCreateSerializer, "refine": s.RefineSerializer}
    parser_classes = [JSONParser, MultiPartParser]
    filterset_class = filters.GenerationFilter
    search_fields = ["prompt"]
    ordering_fields = ["created_at", "finished_at", "status"]
    creating_actions = frozenset({"create", "refine", "retry"})

    def get_queryset(self) -> QuerySet[Generation]:
        links = GenerationAsset.objects.only("generation_id", "asset_id", "position")
        # Into a plain list (to_attr): prefetching into the related manager clones its
        # queryset once per row, which cost more than the page query itself.
        return self.owned(Generation.objects.all()).prefetch_related(
            Prefetch("asset_links", queryset=links.order_by("position"),
                     to_attr=s.PREFETCHED_ASSET_LINKS))

    @schema.operation(
        summary="Start a generation",
        request={"application/json": GenerationCreateJSONSerializer,
                 "multipart/form-data": s.GenerationCreateSerializer},
        parameters=[schema.IDEMPOTENCY_KEY, schema.LOCATION, schema.RETRY_AFTER],
        responses={**STARTED, **schema.errors(422, *schema.WRITE)},
    )
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        generation = serializer.save(owner=request.user,
                                     idempotency_key=idempotency_key(request))
        return self._started(generation, done=status.HTTP_201_CREATED)

    @schema.operation(
        summary="Refine a succeeded generation: the next turn of its conversation",
        request={"application/json": RefineJSONSerializer,
                 "multipart/form-data": s.RefineSerializer},
        parameters=[schema.IDEMPOTENCY_KEY, schema.LOCATION, schema.RETRY_AFTER],
        responses={**STARTED, **schema.errors(404, 409, 422, *schema.WRITE)},
    )
    @action(detail=True, methods=["post"])
    def refine(self, request: Request, pk: str | None = None) -> Response:
        parent = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        generation = serializer.save(parent=parent, owner=request.user,
                                     idempotency_key=idempotency_key(request))
        return self._started(generation, done=status.HTTP_201_CREATED)

    @schema.operation(
        summary="Run a failed, blocked or canceled generation again", request=None,
        parameters=[schema.LOCATION, schema.RETRY_AFTER],
        responses={200: OpenApiResponse(s.GenerationSerializer, "Finished already."),
                   202: STARTED[202], **schema.errors(404, 409, 401, 403, 406, 429)},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        generation = services.retry_generation(self.get_object())
        return self._started(generation, done=status.HTTP_200_OK)

    @schema.operation(
        summary="Cancel a pending or running generation (canceling twice is harmless)",
        request=None,
        responses={200: s.GenerationSerializer, **schema.errors(404, 409, *schema.READ)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        generation = services.cancel_generation(self.get_object())
        return Response(self.output(self._fresh(generation)).data)

    @schema.operation(summary="The generated image (owner only)", responses=schema.IMAGE_RESPONSES)
    @action(detail=True, methods=["get"])
    def image(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        generation = self.get_object()
        return image_response(request, generation.image, generation.mime_type,
                              generation.sha256)

    def _fresh(self, generation: Generation) -> Generation:
        # The row as it is now (an immediate backend has run the task meanwhile).
        return self.get_queryset().get(pk=generation.pk)

    def _started(self, generation: Generation, *, done: int) -> Response:
        generation = self._fresh(generation)
        data = self.output(generation).data
        headers = {"Location": data["url"]}
        if generation.is_finished:
            return Response(data, status=done, headers=headers)
        headers["Retry-After"] = str(int(aigen_settings.API_RETRY_AFTER))
        return Response(data, status=status.HTTP_202_ACCEPTED, headers=headers)


@extend_schema_view(
    list=schema.operation(summary="Your conversations, newest first",
                       responses={200: s.ConversationSerializer(many=True),
                                  **schema.errors(*schema.LIST)}),
    retrieve=schema.operation(summary="A conversation with its turns in order",
                           responses={200: s.ConversationDetailSerializer,
                                      **schema.errors(404, *schema.READ)}),
)
class ConversationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OwnedViewSet):
    filterset_class = filters.ConversationFilter
    search_fields = ["title"]
    ordering_fields = ["created_at", "updated_at"]

    def get_serializer_class(self) -> type[s.ConversationSerializer]:
        if self.action == "retrieve":
            return s.ConversationDetailSerializer
        return s.ConversationSerializer

    def get_queryset(self) -> QuerySet[Conversation]:
        conversations = self.owned(Conversation.objects.all())
        if self.action == "retrieve":
            turns = Turn.objects.order_by("position").prefetch_related(
                Prefetch("parts", queryset=TurnPart.objects.without_signatures()))
            return conversations.annotate(
                generation_count=count_per_conversation(Generation),
            ).prefetch_related(Prefetch("turns", queryset=turns))
        return conversations

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The page first, then its generations counted by one query on its ids. An
        # annotation costs more than the page: Count() over the join grouped every one of
        # the owner's conversations before the page was cut, and PostgreSQL evaluates a
        # correlated subquery for each row an OFFSET skips as well.
        conversations = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(conversations)
        rows = list(conversations) if page is None else page
        counts = dict(
            Generation.objects.filter(conversation_id__in=[row.pk for row in rows])
            .order_by().values("conversation_id").annotate(total=Count("*"))
            .values_list("conversation_id", "total"))
        for row in rows:
            row.generation_count = counts.get(row.pk, 0)  # type: ignore[attr-defined]
        data = self.get_serializer(rows, many=True).data
        return Response(data) if page is None else self.get_paginated_response(data)

    @schema.operation(summary="An image of a turn (owner only)", responses=schema.IMAGE_RESPONSES,
                   parameters=schema.PART_PARAMETERS)
    @action(detail=True, methods=["get"],
            url_path=r"turns/(?P<position>[0-9]+)/parts/(?P<index>[0-9]+)/image",
            url_name="part-image")
    def image(self, request: Request, pk: str | None = None, position: str = "0",
              index: str = "0") -> HttpResponseBase:
        conversation = self.get_object()
        if max(int(position), int(index)) > schema.MAX_POSITION:
            raise NotFound("This turn has no image part at that index.")
        part = TurnPart.objects.filter(
            turn__conversation=conversation, turn__position=int(position), index=int(index),
        ).only("image", "mime_type", "kind").first()
        if part is None or not part.is_image:
            raise NotFound("This turn has no image part at that index.")
        return image_response(request, part.image, part.mime_type, part.sha256)


@extend_schema_view(
    list=schema.operation(summary="Your media assets, newest first",
                       responses={200: s.MediaAssetSerializer(many=True),
                                  **schema.errors(*schema.LIST)}),
    retrieve=schema.operation(summary="One of your media assets",
                           responses={200: s.MediaAssetSerializer,
                                      **schema.errors(404, *schema.READ)}),
    destroy=schema.operation(summary="Delete a media asset (its file goes too unless a "
                                  "conversation still holds it)",
                          responses={204: None, **schema.errors(404, *schema.READ),
                                     409: schema.ASSET_IN_USE}),
)
class MediaAssetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.DestroyModelMixin, OwnedViewSet):
    serializer_class = s.MediaAssetSerializer
    input_serializers = {"create": s.MediaAssetUploadSerializer}
    parser_classes = [MultiPartParser]
    filterset_class = filters.MediaAssetFilter
    search_fields = ["display_name"]
    ordering_fields = ["created_at", "byte_size"]
    creating_actions = frozenset({"create"})

    def get_queryset(self) -> QuerySet[MediaAsset]:
        return self.owned(MediaAsset.objects.all())

    @schema.operation(
        summary="Upload a media asset",
        request={"multipart/form-data": s.MediaAssetUploadSerializer},
        parameters=[schema.LOCATION],
        responses={201: OpenApiResponse(s.MediaAssetSerializer, "Stored."),
                   200: OpenApiResponse(s.MediaAssetSerializer, "You had uploaded this "
                                        "image already: the existing asset."),
                   **schema.errors(*schema.WRITE)},
    )
    def create(self, request: Request) -> Response:
        upload = s.MediaAssetUploadSerializer(data=request.data,
                                              context=self.get_serializer_context())
        upload.is_valid(raise_exception=True)
        asset = upload.save(owner=request.user)
        data = self.output(asset).data
        code = status.HTTP_201_CREATED if upload.created else status.HTTP_200_OK
        return Response(data, status=code, headers={"Location": data["url"]})

    def perform_destroy(self, instance: MediaAsset) -> None:
        services.delete_media_asset(instance)

    @schema.operation(summary="The asset's image (owner only)", responses=schema.IMAGE_RESPONSES)
    @action(detail=True, methods=["get"])
    def image(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        asset = self.get_object()
        return image_response(request, asset.image, asset.mime_type, asset.sha256)


__all__ = ["ConversationViewSet", "GenerationViewSet", "MediaAssetViewSet"]
