"""How long an access token lives: its application's `AccessTokenLifetime` when it has one,
else OAUTH_SERVER_ACCESS_TOKEN_SECONDS. Imported by the settings, so models load late."""

from __future__ import annotations

from typing import Any


def access_token_lifetime(request: Any) -> int:
    from django.conf import settings

    from tests.oauth_server.models import AccessTokenLifetime

    own = AccessTokenLifetime.objects.filter(application=request.client).first()
    return own.seconds if own is not None else settings.DEFAULT_ACCESS_TOKEN_SECONDS
