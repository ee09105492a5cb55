"""Who may touch what: signed-in users, and only their own objects."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsOwner(BasePermission):
    """Object access for its owner only.

    The viewsets already filter every queryset by owner, so another user's object is a
    404 before this runs; this is the second lock on the same door.
    """

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        """True when ``obj.owner_id`` is the requesting user's primary key."""
        return bool(request.user and obj.owner_id == request.user.pk)
