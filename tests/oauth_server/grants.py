"""Google's domain-wide delegation on django-oauth-toolkit: the JWT bearer grant (RFC 7523,
`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT`) that a Google service
account uses to get an access token for a Workspace user, without that user's consent.

DOT has no such grant; this is an oauthlib grant type added to the server DOT builds
(settings: OAUTH2_PROVIDER["OAUTH2_SERVER_CLASS"] = MailServer), so /o/token/ answers it with
oauthlib's token generation and DOT's storage: an AccessToken whose user is the
impersonated mailbox (introspection answers its `username`, Dovecot takes it), and, as at
Google, no refresh token.

The assertion is checked as Google documents it
(developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests):
RS256 signed by the service account's key (`kid`, when given, is its private_key_id), `iss`
its client_email, `aud` the token URI, `iat`/`exp` at most an hour apart and not expired,
`scope` space-separated scopes, `sub` the user to act as: a user of the server in a domain
delegated to the account. Refusals are Google's: invalid_grant (HTTP 400) with its
descriptions, unauthorized_client when the domain was not delegated."""

from __future__ import annotations

import json
from typing import Any

import jwt
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase
from oauthlib.openid import Server

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_LIFETIME_S = 3600


class JWTBearerGrant(GrantTypeBase):
    """RFC 7523 section 2.1, a service account's assertion traded for an access token."""

    def create_token_response(self, request: Request, token_handler: Any) -> tuple[Any, str, int]:
        headers = self._get_default_headers()
        try:
            self.validate_token_request(request)
        except errors.OAuth2Error as e:
            headers.update(e.headers)
            return headers, e.json, e.status_code
        token = token_handler.create_token(request, refresh_token=False)
        self.request_validator.save_token(token, request)
        return headers, json.dumps(token), 200

    def validate_token_request(self, request: Request) -> None:
        from django.contrib.auth import get_user_model
        from oauth2_provider.scopes import get_scopes_backend

        from tests.oauth_server.models import ServiceAccount

        assertion = getattr(request, "assertion", None)  # a body parameter oauthlib does not name
        if not assertion:
            raise errors.InvalidRequestError(
                "Missing required parameter: assertion", request=request
            )
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise errors.InvalidGrantError("Invalid JWT.", request=request) from None
        account = (
            ServiceAccount.objects.select_related("application")
            .filter(client_email=unverified.get("iss"))
            .first()
        )
        if account is None:
            raise errors.InvalidGrantError("Invalid grant: account not found", request=request)
        if header.get("alg") != "RS256" or header.get("kid", account.key_id) != account.key_id:
            raise errors.InvalidGrantError("Invalid JWT Signature.", request=request)
        token_uri = _token_uri(request)
        try:
            claims = jwt.decode(
                assertion,
                account.public_key,
                algorithms=["RS256"],
                audience=token_uri,
                issuer=account.client_email,
                options={"require": ["iss", "aud", "iat", "exp", "scope", "sub"]},
            )
        except jwt.InvalidSignatureError:
            raise errors.InvalidGrantError("Invalid JWT Signature.", request=request) from None
        except jwt.InvalidAudienceError:
            raise errors.InvalidGrantError(
                f"Invalid JWT audience: must be {token_uri}.", request=request
            ) from None
        except jwt.ExpiredSignatureError:
            raise errors.InvalidGrantError(
                "Invalid JWT: the assertion expired.", request=request
            ) from None
        except jwt.InvalidTokenError as e:
            raise errors.InvalidGrantError(f"Invalid JWT: {e}.", request=request) from None
        if not 0 < claims["exp"] - claims["iat"] <= MAX_LIFETIME_S:
            raise errors.InvalidGrantError(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
                request=request,
            )
        scopes = str(claims["scope"]).split()
        if not scopes or not set(scopes) <= set(get_scopes_backend().get_all_scopes()):
            raise errors.InvalidScopeError(request=request)
        address = str(claims["sub"])
        user = get_user_model().objects.filter(username=address).first()
        if user is None or not user.is_active:
            raise errors.InvalidGrantError("Invalid email or User ID", request=request)
        if address.rpartition("@")[2].lower() not in account.domains:
            raise errors.UnauthorizedClientError(
                "Client is unauthorized to retrieve access tokens using this method, or "
                "client not authorized for any of the scopes requested.",
                request=request,
            )
        request.client = account.application
        request.client_id = account.application.client_id
        request.user = user
        request.scopes = scopes


def _token_uri(request: Request) -> str:
    """This endpoint's absolute URL, what `aud` must be: DOT hands oauthlib the path and the
    WSGI environ as headers (Host checked against ALLOWED_HOSTS by Django already)."""
    secure = "X_DJANGO_OAUTH_TOOLKIT_SECURE" in request.headers
    host = request.headers.get("HTTP_HOST", "")
    return f"{'https' if secure else 'http'}://{host}{request.uri.split('?', 1)[0]}"


class MailServer(Server):
    """oauthlib's OpenID Connect server (DOT's default with OIDC on) plus the JWT bearer grant
    at the token endpoint."""

    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        self.grant_types[JWT_BEARER] = JWTBearerGrant(request_validator)
