"""Everything that takes a password or a refresh token: the JWT endpoints and the admin's
login page. Kept apart from warmup_project.api, which DRF's settings import while DRF
itself is loading.

One throttle counts the attempts of a client address at all three doors together (scope
"auth", REST_FRAMEWORK's DEFAULT_THROTTLE_RATES), in the database cache every process
shares: whichever gunicorn process answers, the 21st attempt in a minute is refused.

JWTs die with the password (SIMPLE_JWT's CHECK_REVOKE_TOKEN: every token carries a digest
of the user's password hash, and access tokens are checked against it at each request);
a refresh token works once (rotated, and blacklisted as it is used). simplejwt keeps each
refresh token it issues (OutstandingToken) to blacklist it by its jti; the column that
would hold the token itself holds its SHA-256 digest: a database dump holds no login."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from django.contrib import admin
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from warmup_project.api import client_address

# The first key of the advisory locks the throttle takes ("logi" in ASCII). PostgreSQL's
# two-key lock space is apart from the one-key space the engine's locks use.
THROTTLE_LOCK_SPACE = 0x6C6F6769


def token_digest(token: str) -> str:
    """What the outstanding-token table keeps of a refresh token."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def keep_only_a_digest(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_save of OutstandingToken: the token becomes its digest. simplejwt only writes
    that column (blacklisting goes by jti), so nothing is lost."""
    if not instance.token.startswith("sha256:"):
        instance.token = token_digest(instance.token)


class LoginThrottle(SimpleRateThrottle):
    """Attempts per client address (warmup_project.api.client_address: NUM_PROXIES
    decides where it comes from), signed in or not."""

    scope = "auth"

    def get_cache_key(self, request: Any, view: Any) -> str:
        # Not a valid address (a proxy misconfigured?): all such clients share one budget.
        return self.cache_format % {"scope": self.scope, "ident": client_address(request) or "?"}

    def allow_request(self, request: Any, view: Any) -> bool:
        # DRF reads the client's recent attempts and writes them back with one more. Two
        # processes answering the same client at once would both read 19 and both let a
        # guess through; a lock on the client's key, held until this transaction commits,
        # makes them take turns.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                    [THROTTLE_LOCK_SPACE, self.get_cache_key(request, view)],
                )
            return super().allow_request(request, view)


class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh with what it leaves out: the token's user must exist, be active
    and still have the password the token was issued under (the checks JWTAuthentication
    makes of every access token), else a 401 — simplejwt's own raises DoesNotExist (a 500)
    for a deleted user and ignores a changed password. A refresh token works once."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, type, blacklist
        JWTAuthentication().get_user(refresh)
        # One use: the blacklist row is unique per token, so of two requests racing with
        # the same token only the one that creates it gets new tokens.
        _blacklisted, first_use = refresh.blacklist()  # type: ignore[misc]
        if not first_use:
            raise InvalidToken(_("Token is blacklisted"))
        access = refresh.access_token
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        return {"access": str(access), "refresh": str(refresh)}


class _Throttled:
    throttle_classes = [LoginThrottle]


class TokenView(_Throttled, TokenObtainPairView):
    """A pair of tokens for a username and password; throttled against guessing."""


class RefreshView(_Throttled, TokenRefreshView):
    """A new access token and a new refresh token for a refresh token, which is then
    spent."""

    serializer_class = RefreshSerializer


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin's login page. Each POST (a password tried) counts against the client's
    budget, shared with the token endpoints; past it, a 429 page says when to come back."""
    if request.method == "POST":
        throttle = LoginThrottle()
        if not throttle.allow_request(request, None):
            wait = math.ceil(throttle.wait() or throttle.duration)
            context = {
                **admin.site.each_context(request),
                "title": "Too many login attempts",
                "wait": wait,
            }
            response = TemplateResponse(request, "admin/login_throttled.html", context, status=429)
            response["Retry-After"] = str(wait)
            return response
    return admin.site.login(request, extra_context)
