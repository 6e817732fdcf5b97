"""Staff power comes with permissions: who may act on every owner's objects.

A staff account is a login to the admin, not a licence: what it may do there is what its
Django model permissions say (superusers hold them all), and the API follows the same
rule. Without the permission for an act, a staff account acts on its own objects only,
as any owner does, and gets a 403 from staff-only views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def staff_may(user: Any, permission: str) -> bool:
    """Whether `user` is active staff holding `permission` ("app_label.codename")."""
    return bool(user.is_active and user.is_staff and user.has_perm(permission))


class StaffMay(BasePermission):
    """For views that are staff-only: the permission the view's `staff_permissions`
    names for the request's method (HEAD and OPTIONS as GET); a method it does not name
    is refused."""

    def has_permission(self, request: Request, view: Any) -> bool:
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        permission = view.staff_permissions.get(method)
        return permission is not None and staff_may(request.user, permission)


def signed_in(user: User | AnonymousUser) -> User:
    """The user of a request that authentication let through (the admin, API views that
    need a login), as the user model: an anonymous one there is a wiring mistake, refused
    with a 403 rather than written as an owner or an actor."""
    if not user.is_authenticated:
        raise PermissionDenied
    return user
