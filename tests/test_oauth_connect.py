"""Connecting a mailbox by consent refuses, with a clear error and nothing created, every
answer that is not the provider's own for this owner's connection: a replayed, expired,
forged or other owner's state; an ID token for another audience, from another issuer,
expired, or signed by another key; an address another owner connected. Against the real
authorization server (tests/oauth.py) standing in for Google and Microsoft."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client as DjangoClient
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import RSAKey

from accounts import connect, oauth
from accounts.models import ConnectState, Mailbox, MailboxToken
from tests.oauth import AuthorizationServer, Client
from warmup_project.config import OAuthConfig

CALLBACK = "http://testserver/oauth/{provider}/callback"
PASSWORD = "provider-password-1"


@pytest.fixture(scope="module")
def apps(authorization_server: AuthorizationServer) -> dict[str, Client]:
    """The application our settings name, and another one at the same provider."""
    uris = (CALLBACK.format(provider="google"), CALLBACK.format(provider="microsoft"))
    return {
        "ours": authorization_server.add_client("warmup connect tests", redirect_uris=uris),
        "other": authorization_server.add_client("someone else's app", redirect_uris=uris),
    }


@pytest.fixture
def provider(
    authorization_server: AuthorizationServer, apps: dict[str, Client], settings: Any
) -> Iterator[AuthorizationServer]:
    ours = apps["ours"]
    settings.WARMUP = dataclasses.replace(
        settings.WARMUP,
        oauth=OAuthConfig(
            google_client_id=ours.client_id,
            google_client_secret=ours.secret,
            google_discovery_url=authorization_server.discovery_url,
            microsoft_client_id=ours.client_id,
            microsoft_client_secret=ours.secret,
            microsoft_discovery_url=authorization_server.discovery_url,
        ),
    )
    oauth.documents.clear()
    yield authorization_server
    oauth.documents.clear()


_users = iter(range(10**6))


def new_address(server: AuthorizationServer) -> str:
    address = f"user{next(_users)}@connect-{next(_users)}.test"
    server.add_user(address, PASSWORD)
    return address


def consent(
    server: AuthorizationServer, owner: Any, address: str, *, now: dt.datetime | None = None
) -> dict[str, str]:
    """Start a connection for `owner`, consent as `address`: the callback's query."""
    authorize = connect.start(
        owner, "google", CALLBACK.format(provider="google"), now or timezone.now()
    )
    location = server.consent(server.browser(address, PASSWORD), authorize)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def nothing_created() -> tuple[int, int]:
    return Mailbox.objects.count(), MailboxToken.objects.count()


def refused(query: dict[str, str], code: str, *, now: dt.datetime | None = None) -> str:
    before = nothing_created()
    with pytest.raises(connect.ConnectRefused) as caught:
        connect.finish("google", query, now or timezone.now())
    assert caught.value.code == code, caught.value
    assert nothing_created() == before
    return caught.value.message


def test_a_connection_creates_the_mailbox_and_its_replay_is_refused(
    transactional_db: Any, provider: AuthorizationServer, owner: Any
) -> None:
    address = new_address(provider)
    query = consent(provider, owner, address)
    box, return_url = connect.finish("google", query, timezone.now())
    assert return_url == ""  # none of its own: WARMUP_OAUTH_RETURN_URL
    assert (box.owner, box.email, box.auth_method) == (owner, address, "oauth2")
    assert "already finished" in refused(query, "used_state")


def test_another_owners_state_and_a_forged_one_are_refused(
    transactional_db: Any, provider: AuthorizationServer, owner: Any, django_user_model: Any
) -> None:
    mallory = django_user_model.objects.create_user("mallory")
    query = consent(provider, owner, new_address(provider))
    payload = signing.loads(query["state"], salt="warmup.oauth.connect")
    # Whoever holds the signing key could name another owner over this connection: the
    # connection's row still says whose it is.
    swapped = signing.dumps({**payload, "o": mallory.pk}, salt="warmup.oauth.connect")
    assert "started by that owner" in refused({**query, "state": swapped}, "bad_state")
    forged = signing.dumps(payload, key="not-our-key", salt="warmup.oauth.connect")
    assert "not one we issued" in refused({**query, "state": forged}, "bad_state")
    # Started for Google, answered at the Microsoft callback.
    with pytest.raises(connect.ConnectRefused, match="bad_state"):
        connect.finish("microsoft", query, timezone.now())
    # None of these spent the real state.
    assert connect.finish("google", query, timezone.now()).mailbox.owner == owner


def test_an_expired_state_is_refused(
    transactional_db: Any, provider: AuthorizationServer, owner: Any
) -> None:
    started = timezone.now() - connect.CONNECT_TTL - dt.timedelta(seconds=1)
    query = consent(provider, owner, new_address(provider), now=started)
    assert "too long ago" in refused(query, "expired_state")


def test_an_expired_id_token_is_refused(
    transactional_db: Any, provider: AuthorizationServer, owner: Any
) -> None:
    # Eleven hours on (the server's ID tokens live ten), the connection itself fresh.
    later = timezone.now() + dt.timedelta(hours=11)
    query = consent(provider, owner, new_address(provider), now=later - dt.timedelta(minutes=1))
    assert "expired" in refused(query, "invalid_id_token", now=later).lower()


def test_an_id_token_from_another_issuer_is_refused(
    transactional_db: Any, provider: AuthorizationServer, owner: Any
) -> None:
    query = consent(provider, owner, new_address(provider))
    # The discovery document names another issuer than the one that signs the tokens.
    document = provider.discovery()
    oauth.documents._kept[provider.discovery_url] = (
        float("inf"),
        {**document, "issuer": "https://accounts.example.test"},
    )
    assert "iss" in refused(query, "invalid_id_token")


def test_an_address_another_owner_connected_is_refused(
    transactional_db: Any, provider: AuthorizationServer, owner: Any, django_user_model: Any
) -> None:
    address = new_address(provider)
    first, _ = connect.finish("google", consent(provider, owner, address), timezone.now())
    other = django_user_model.objects.create_user("other-owner")
    assert "another owner" in refused(consent(provider, other, address), "address_taken")
    first.refresh_from_db()
    assert first.owner == owner


def test_the_provider_saying_no_is_refused(transactional_db: Any, owner: Any) -> None:
    assert "access_denied" in refused({"error": "access_denied"}, "access_denied")
    assert "lacks code or state" in refused({"code": "x"}, "invalid_request")


# The ID token checks themselves, on real ID tokens of the server.
def id_token_of(server: AuthorizationServer, app: Client, address: str) -> str:
    tokens = server.authorization_code_flow(app, address, PASSWORD, scope="openid email")
    assert tokens.id_token
    return tokens.id_token


def test_an_id_token_for_another_audience_is_refused(
    provider: AuthorizationServer, apps: dict[str, Client]
) -> None:
    address = new_address(provider)
    token = id_token_of(provider, apps["other"], address)
    claims = jwt.decode(token, _server_keys(provider)).claims
    with pytest.raises(oauth.IDTokenInvalid, match="aud"):
        oauth.verify_id_token("google", token, nonce=claims["nonce"], now=timezone.now())
    ours = id_token_of(provider, apps["ours"], address)
    nonce = jwt.decode(ours, _server_keys(provider)).claims["nonce"]
    identity = oauth.verify_id_token("google", ours, nonce=nonce, now=timezone.now())
    assert identity.email == address
    with pytest.raises(oauth.IDTokenInvalid, match="nonce"):
        oauth.verify_id_token("google", ours, nonce="another-nonce", now=timezone.now())


def test_an_id_token_signed_by_another_key_is_refused(
    provider: AuthorizationServer, apps: dict[str, Client]
) -> None:
    token = id_token_of(provider, apps["ours"], new_address(provider))
    decoded = jwt.decode(token, _server_keys(provider))
    # The same header (kid) and claims, signed by a key that is not the server's.
    forged = jwt.encode(decoded.header, decoded.claims, RSAKey.generate_key(2048))
    with pytest.raises(oauth.IDTokenInvalid, match="signature"):
        oauth.verify_id_token("google", forged, nonce=decoded.claims["nonce"], now=timezone.now())


def test_microsofts_tenant_issuer_takes_the_tokens_tid(
    provider: AuthorizationServer, apps: dict[str, Client]
) -> None:
    """Microsoft's multi-tenant document says `…/{tenantid}/v2.0`; the ID token's `tid`
    fills it in. The server's tokens carry no `tid`: refused for naming no tenant."""
    token = id_token_of(provider, apps["ours"], new_address(provider))
    nonce = jwt.decode(token, _server_keys(provider)).claims["nonce"]
    document = provider.discovery()
    oauth.documents._kept[oauth.discovery_url("microsoft")] = (
        float("inf"),
        {**document, "issuer": "https://login.example.test/{tenantid}/v2.0"},
    )
    with pytest.raises(oauth.IDTokenInvalid, match="no tenant"):
        oauth.verify_id_token("microsoft", token, nonce=nonce, now=timezone.now())


def _server_keys(server: AuthorizationServer) -> Any:
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(json.loads(_get(server.discovery()["jwks_uri"])))


def _get(url: str) -> str:
    import requests

    reply = requests.get(url, timeout=10)
    reply.raise_for_status()
    return reply.text


def test_the_callback_sends_the_browser_back_with_the_error(
    transactional_db: Any, provider: AuthorizationServer, owner: Any, settings: Any
) -> None:
    settings.WARMUP = dataclasses.replace(
        settings.WARMUP,
        oauth=dataclasses.replace(settings.WARMUP.oauth, return_url="https://p.test/back?x=1"),
    )
    query = consent(provider, owner, new_address(provider))
    browser = DjangoClient()
    first = browser.get("/oauth/google/callback", query)
    assert first.status_code == 302 and first["Location"].startswith(
        "https://p.test/back?x=1&mailbox="
    )
    again = browser.get("/oauth/google/callback", query)
    assert again["Location"] == "https://p.test/back?x=1&error=used_state"
    assert ConnectState.objects.filter(used_at__isnull=False).count() == 1


def test_microsofts_tenant_issuer_is_filled_from_the_tokens_tid(settings: Any) -> None:
    """The positive side, on ID tokens signed here: a token whose `iss` is its own
    tenant's issuer passes; one whose `iss` names another tenant than its `tid` does not.
    (The discovery document and key set are put where accounts.oauth keeps what it read.)"""
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    discovery = "https://login.example.test/common/v2.0/.well-known/openid-configuration"
    settings.WARMUP = dataclasses.replace(
        settings.WARMUP,
        oauth=OAuthConfig(
            microsoft_client_id="app-id",
            microsoft_client_secret="s",
            microsoft_discovery_url=discovery,
        ),
    )
    oauth.documents._kept[discovery] = (
        float("inf"),
        {
            "issuer": "https://login.example.test/{tenantid}/v2.0",
            "authorization_endpoint": "https://login.example.test/authorize",
            "token_endpoint": "https://login.example.test/token",
            "jwks_uri": "https://login.example.test/keys",
        },
    )
    oauth.documents._kept["https://login.example.test/keys"] = (
        float("inf"),
        {"keys": [key.as_dict(private=False)]},
    )
    now = timezone.now()

    def token(tid: str, issuer_tenant: str) -> str:
        claims = {
            "iss": f"https://login.example.test/{issuer_tenant}/v2.0",
            "tid": tid,
            "aud": "app-id",
            "sub": "s-1",
            "nonce": "n-1",
            "exp": int(now.timestamp()) + 600,
            "iat": int(now.timestamp()),
            "preferred_username": "Ann@Contoso.test",
        }
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)

    identity = oauth.verify_id_token("microsoft", token("t-1", "t-1"), nonce="n-1", now=now)
    assert identity == oauth.Identity(email="ann@contoso.test", subject="s-1")
    with pytest.raises(oauth.IDTokenInvalid, match="iss"):
        oauth.verify_id_token("microsoft", token("t-1", "t-2"), nonce="n-1", now=now)
