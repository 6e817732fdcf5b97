"""The OAuth 2.0 providers mailboxes log in through (Google, Microsoft): where their
endpoints are (OpenID Connect discovery), the grants we ask them for, and the ID tokens
they answer with. HTTP goes through authlib (the grants) and joserfc (JWTs); nothing here
touches the database: accounts.tokens keeps what comes back, accounts.connect runs the
consent flow.

Every failure is one of two kinds, and the message never holds a token or a secret:
- `GrantRefused`: the provider said no for good (`invalid_grant`: a revoked or expired
  refresh token, a changed password; `unauthorized_client`: a domain not delegated).
  Asking again cannot help: the mailbox must be connected again.
- `ProviderUnavailable`: no answer, a 5xx, a page that is not JSON, or an error that is
  ours to fix (`invalid_client`: the application's secret). Try later; pause nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

# What each provider's consent asks for (issue "OAuth 2.0"): mail over IMAP and SMTP,
# offline access (a refresh token), and the ID token's address.
CONSENT_SCOPES = {
    "google": "openid email https://mail.google.com/",
    "microsoft": (
        "openid email offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
        "https://outlook.office.com/SMTP.Send"
    ),
}
# Extra parameters of the authorization request: Google gives a refresh token only with
# these (and again on a reconnect only with prompt=consent).
CONSENT_PARAMS = {"google": {"access_type": "offline", "prompt": "consent"}, "microsoft": {}}
DELEGATED_SCOPE = "https://mail.google.com/"
APP_ONLY_SCOPE = "https://outlook.office365.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

HTTP_TIMEOUT_S = 10
DOCUMENT_TTL_S = 3600  # discovery documents and key sets are read again after an hour
ASSERTION_LIFETIME_S = 3600  # Google's most
# Errors that say the grant (a refresh token, a delegation) is gone for good. Anything
# else a provider answers is treated as "try later" (ProviderUnavailable).
REFUSALS = frozenset({"invalid_grant", "unauthorized_client", "access_denied", "invalid_scope"})


class ProviderError(Exception):
    """The message names the provider and the reason, never a token or a secret."""


class GrantRefused(ProviderError):
    pass


class ProviderUnavailable(ProviderError):
    pass


class IDTokenInvalid(ProviderError):
    pass


@dataclass(frozen=True)
class Grant:
    """What a token endpoint gave: an access token, when it expires, and (consent grants)
    a refresh token, the scope and the ID token."""

    access_token: str = field(repr=False)
    expires_at: dt.datetime
    refresh_token: str = field(default="", repr=False)
    scope: str = ""
    id_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Endpoints:
    """A provider's OpenID Connect discovery document, the parts we use."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class _Documents:
    """JSON documents (discovery, key sets) by URL, kept DOCUMENT_TTL_S; shared by the
    threads of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, url: str, what: str, *, fresh: bool = False) -> dict[str, Any]:
        with self._lock:
            kept = self._kept.get(url)
        if kept is not None and not fresh and time.monotonic() - kept[0] < DOCUMENT_TTL_S:
            return kept[1]
        try:
            reply = requests.get(url, timeout=HTTP_TIMEOUT_S)
            reply.raise_for_status()
            document = reply.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(f"cannot read the {what} at {url}: {_reason(exc)}") from None
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"the {what} at {url} is not a JSON object")
        with self._lock:
            self._kept[url] = (time.monotonic(), document)
        return document

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


documents = _Documents()


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def discovery_url(provider: str, tenant: str = "") -> str:
    """Where `provider`'s discovery document is: WARMUP_GOOGLE_DISCOVERY_URL or
    WARMUP_MICROSOFT_DISCOVERY_URL, whose `{tenant}` is `tenant` (an app-only
    credential's own) or WARMUP_MICROSOFT_TENANT."""
    oauth = settings.WARMUP.oauth
    return oauth.discovery_url(provider).replace("{tenant}", tenant or oauth.microsoft_tenant)


def endpoints(provider: str, tenant: str = "") -> Endpoints:
    url = discovery_url(provider, tenant)
    document = documents.get(url, f"{provider} discovery document")
    try:
        return Endpoints(
            issuer=str(document["issuer"]),
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
        )
    except KeyError as exc:
        raise ProviderUnavailable(
            f"the {provider} discovery document at {url} lacks {exc}"
        ) from None


# The grants.
def _session(client_id: str = "", secret: str = "", **kwargs: Any) -> OAuth2Session:
    return OAuth2Session(
        client_id or None,
        secret or None,
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        default_timeout=HTTP_TIMEOUT_S,
        **kwargs,
    )


def _token_call(provider: str, what: str, call: Any, now: dt.datetime) -> Grant:
    """Runs one token request and reads its answer as a Grant, or raises one of the two
    kinds of ProviderError."""
    try:
        token = call()
    except OAuthError as exc:
        detail = f"{exc.error}" + (f" ({exc.description})" if exc.description else "")
        if exc.error in REFUSALS:
            raise GrantRefused(f"{provider} refused the {what}: {detail[:300]}") from None
        raise ProviderUnavailable(f"{provider} token endpoint: {detail[:300]}") from None
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"{provider} token endpoint: {_reason(exc)}") from None
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderUnavailable(f"{provider} token endpoint answered without an access token")
    try:
        lifetime = int(token.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600
    return Grant(
        access_token=access,
        expires_at=now + dt.timedelta(seconds=max(lifetime, 0)),
        refresh_token=str(token.get("refresh_token") or ""),
        scope=str(token.get("scope") or ""),
        id_token=str(token.get("id_token") or ""),
    )


def _raise_on_server_error(reply: requests.Response) -> requests.Response:
    # authlib reads any reply as the token's JSON; a 5xx is the provider's trouble, not
    # a refusal, whatever its body says.
    if reply.status_code >= 500:
        raise ProviderUnavailable(f"token endpoint answered HTTP {reply.status_code}")
    return reply


def _hooked(session: OAuth2Session) -> OAuth2Session:
    session.register_compliance_hook("access_token_response", _raise_on_server_error)
    session.register_compliance_hook("refresh_token_response", _raise_on_server_error)
    return session


def consent_client(provider: str) -> tuple[str, str]:
    client_id, secret = settings.WARMUP.oauth.client(provider)
    if not client_id:
        raise ProviderUnavailable(
            f"no {provider} application is configured (WARMUP_{provider.upper()}_CLIENT_ID)"
        )
    return client_id, secret


def authorization_url(
    provider: str, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
) -> str:
    client_id, secret = consent_client(provider)
    session = _session(
        client_id,
        secret,
        scope=CONSENT_SCOPES[provider],
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    url, _ = session.create_authorization_url(
        endpoints(provider).authorization_endpoint,
        state=state,
        nonce=nonce,
        code_verifier=code_verifier,
        **CONSENT_PARAMS[provider],
    )
    return str(url)


def exchange_code(
    provider: str, *, code: str, redirect_uri: str, code_verifier: str, now: dt.datetime
) -> Grant:
    client_id, secret = consent_client(provider)
    session = _hooked(_session(client_id, secret, redirect_uri=redirect_uri))
    token_url = endpoints(provider).token_endpoint
    return _token_call(
        provider,
        "authorization code",
        lambda: session.fetch_token(token_url, code=code, code_verifier=code_verifier),
        now,
    )


def refresh(provider: str, refresh_token: str, now: dt.datetime) -> Grant:
    client_id, secret = consent_client(provider)
    session = _hooked(_session(client_id, secret))
    token_url = endpoints(provider).token_endpoint
    return _token_call(
        provider,
        "refresh token",
        lambda: session.refresh_token(token_url, refresh_token=refresh_token),
        now,
    )


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a Google service account's JSON key that sign an assertion."""

    client_email: str
    private_key: str = field(repr=False)
    private_key_id: str = ""
    token_uri: str = ""

    @classmethod
    def from_json(cls, text: str) -> ServiceAccount:
        """Raises ValueError naming what is wrong (never quoting the key)."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("not JSON: paste the service account's key file as it is") from None
        if not isinstance(data, dict) or data.get("type") != "service_account":
            raise ValueError('not a service account key ("type": "service_account")')
        missing = [k for k in ("client_email", "private_key") if not data.get(k)]
        if missing:
            raise ValueError(f"the key lacks {', '.join(missing)}")
        try:
            RSAKey.import_key(data["private_key"])
        except (JoseError, ValueError, TypeError):
            raise ValueError("its private_key is not an RSA key in PEM") from None
        return cls(
            client_email=str(data["client_email"]),
            private_key=str(data["private_key"]),
            private_key_id=str(data.get("private_key_id") or ""),
            token_uri=str(data.get("token_uri") or ""),
        )


def delegated_grant(account: ServiceAccount, subject: str, now: dt.datetime) -> Grant:
    """Domain-wide delegation: a JWT bearer grant (RFC 7523) signed by the service
    account, acting as `subject` (the mailbox's address). Google issues no refresh token
    for it: a new assertion gets the next access token."""
    token_url = endpoints("google").token_endpoint
    issued = int(now.timestamp())
    header = {"alg": "RS256", "typ": "JWT"}
    if account.private_key_id:
        header["kid"] = account.private_key_id
    assertion = jwt.encode(
        header,
        {
            "iss": account.client_email,
            "sub": subject,
            "scope": DELEGATED_SCOPE,
            "aud": token_url,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME_S,
        },
        RSAKey.import_key(account.private_key),
    )
    session = _hooked(_session())
    return _token_call(
        "google",
        f"delegation for {subject}",
        lambda: session.fetch_token(token_url, grant_type=JWT_BEARER, assertion=assertion),
        now,
    )


def app_grant(client_id: str, secret: str, tenant: str, now: dt.datetime) -> Grant:
    """Microsoft 365 app-only: client credentials of the tenant's application."""
    session = _hooked(_session(client_id, secret, scope=APP_ONLY_SCOPE))
    token_url = endpoints("microsoft", tenant).token_endpoint
    return _token_call(
        "microsoft",
        "application's credentials",
        lambda: session.fetch_token(token_url, grant_type="client_credentials"),
        now,
    )


# ID tokens.
@dataclass(frozen=True)
class Identity:
    """Who consented, as the ID token says: the address, and the provider's id for them."""

    email: str
    subject: str


def verify_id_token(
    provider: str, id_token: str, *, nonce: str, now: dt.datetime, leeway_s: int = 60
) -> Identity:
    """The ID token's signature (the provider's JWKS), issuer, audience (our client id),
    nonce and expiry, all checked; raises IDTokenInvalid saying which failed.

    Microsoft's multi-tenant issuer is `https://login.microsoftonline.com/{tenantid}/v2.0`:
    the token's own `tid` fills it in, so a token from any tenant passes and one whose
    issuer names another tenant than its `tid` does not."""
    client_id, _ = consent_client(provider)
    found = endpoints(provider)
    try:
        token = _decode(id_token, found.jwks_uri)
    except JoseError as exc:
        raise IDTokenInvalid(f"the ID token's signature does not verify: {exc.error}") from None
    claims = token.claims
    issuer = found.issuer
    if "{tenantid}" in issuer:
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or not tenant:
            raise IDTokenInvalid("the ID token names no tenant (tid)")
        issuer = issuer.replace("{tenantid}", tenant)
    registry = jwt.JWTClaimsRegistry(
        now=int(now.timestamp()),
        leeway=leeway_s,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise IDTokenInvalid(
            f"the ID token is not valid: {exc.error} {exc.description or ''}".strip()
        ) from None
    email = claims.get("email") or claims.get("preferred_username")
    if not isinstance(email, str) or "@" not in email:
        raise IDTokenInvalid("the ID token carries no address (email)")
    if provider == "google" and claims.get("email_verified") is False:
        raise IDTokenInvalid("the address in the ID token is not verified")
    return Identity(email=email.strip().lower(), subject=str(claims["sub"]))


def _decode(id_token: str, jwks_uri: str) -> jwt.Token:
    keys = KeySet.import_key_set(documents.get(jwks_uri, "key set"))  # type: ignore[arg-type]
    try:
        return jwt.decode(id_token, keys, algorithms=["RS256"])
    except JoseError:
        # A key rotated in since we read the set: read it once more.
        keys = KeySet.import_key_set(documents.get(jwks_uri, "key set", fresh=True))  # type: ignore[arg-type]
        return jwt.decode(id_token, keys, algorithms=["RS256"])
