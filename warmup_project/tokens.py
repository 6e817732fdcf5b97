"""JWT endpoints (simplejwt), throttled against password guessing. Kept apart from
warmup_project.api, which DRF's settings import while DRF itself is loading."""

from __future__ import annotations

from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView


class _Throttled:
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class TokenView(_Throttled, TokenObtainPairView):
    """A pair of tokens for a username and password; throttled against guessing."""


class RefreshView(_Throttled, TokenRefreshView):
    """A new access token for a refresh token."""
