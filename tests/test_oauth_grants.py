"""The two grants by which a provider lets an application into mailboxes without their
users' consent, on the real test stack (tests/oauth.py, tests/dovecot.py, tests/oauth_smtp.py):

- Google's domain-wide delegation: a service account signs a JWT (RFC 7523) naming the user
  to act as (`sub`), and the token endpoint trades it for that user's access token
  (tests/oauth_server/grants.py). The assertions here are signed for real (PyJWT), with the
  service account's key or another one; every claim Google checks is broken once.
- Microsoft 365 app-only: a client-credentials token, good for the mailboxes granted to its
  application (tests/oauth_server/views.py). The SMTP server holds the login to them;
  Dovecot 2.3 cannot, and takes the token for any mailbox (tests/dovecot.py: OAUTH_APP_ARGS),
  which a test here pins down so that the day it changes is seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import imapclient
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from imapclient.exceptions import LoginError

from tests import dovecot
from tests.oauth import AuthorizationServer, Client
from tests.oauth_smtp import OAuthSMTPServer

GMAIL = "https://mail.google.com/"
APP_ONLY = "https://outlook.office365.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PASSWORD = "never-used-password-1"  # the users' own; no grant here asks for it

CEO = "ceo@delegated.test"  # in the delegated domain
GHOST = "ghost@delegated.test"  # in the domain, no such user
OUTSIDER = "outsider@elsewhere.test"  # a user, in a domain not delegated
SHARED = "shared@contoso.test"  # granted to the Microsoft 365 application
PRIVATE = "private@contoso.test"  # in the same tenant, not granted


@pytest.fixture(scope="module")
def server(authorization_server: AuthorizationServer) -> AuthorizationServer:
    for user in (CEO, OUTSIDER, SHARED, PRIVATE):
        authorization_server.add_user(user, PASSWORD)
    return authorization_server


@pytest.fixture(scope="module")
def service_account(server: AuthorizationServer) -> dict[str, Any]:
    return server.add_service_account("warmup-delegation", ["delegated.test"])


@pytest.fixture(scope="module")
def app(server: AuthorizationServer) -> Client:
    """A Microsoft 365 application (its service principal) granted the shared mailbox."""
    client = server.add_client("m365 app-only", grant="client-credentials")
    server.grant_mailbox(client, SHARED)
    return client


@pytest.fixture(scope="module")
def imap(server: AuthorizationServer) -> Iterator[dovecot.Dovecot]:
    if not dovecot.available():
        pytest.skip("needs Dovecot (.ci/run installs it)")
    with dovecot.Dovecot({}, introspection=server.introspection) as imap:
        yield imap


@pytest.fixture(scope="module")
def smtp(server: AuthorizationServer) -> Iterator[OAuthSMTPServer]:
    with OAuthSMTPServer(server.introspection) as smtp:
        yield smtp


def assertion(key: dict[str, Any], *, signing_key: Any = None, **claims: Any) -> str:
    """A service account's JWT as Google's client libraries make it; `claims` override
    (None drops one), `signing_key` replaces the account's private key."""
    now = int(time.time())
    body = {
        "iss": key["client_email"],
        "scope": GMAIL,
        "aud": key["token_uri"],
        "iat": now,
        "exp": now + 3600,
        "sub": CEO,
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(
        body,
        signing_key or key["private_key"],
        algorithm="RS256",
        headers={"kid": key["private_key_id"]},
    )


def exchange(server: AuthorizationServer, signed: str) -> requests.Response:
    return requests.post(
        server.token_url, data={"grant_type": JWT_BEARER, "assertion": signed}, timeout=10
    )


def imap_login(imap: dovecot.Dovecot, user: str, token: str) -> bool:
    client = imapclient.IMAPClient("127.0.0.1", port=imap.imap_port, ssl=False, timeout=30)
    try:
        try:
            client.oauth2_login(user, token)
        except LoginError:
            return False
        assert b"EXISTS" in client.select_folder("INBOX")  # a session on the mailbox
        return True
    finally:
        client.logout()


def smtp_login(smtp: OAuthSMTPServer, user: str, token: str) -> bool:
    async def attempt() -> bool:
        conn = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.port, timeout=30)
        await conn.connect()
        try:
            try:
                await conn.auth_xoauth2(user, token)
            except aiosmtplib.SMTPAuthenticationError as refused:
                assert refused.code == 535
                return False
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = user, CEO, "no consent asked"
            message.set_content("sent over XOAUTH2")
            await conn.send_message(message)
            return True
        finally:
            await conn.quit()

    return asyncio.run(attempt())


def test_the_json_key_is_googles(server: AuthorizationServer, service_account: dict) -> None:
    key = service_account
    assert key["type"] == "service_account"
    assert key["token_uri"] == server.token_url
    assert key["client_email"].endswith(".iam.gserviceaccount.com")
    assert key["client_id"].isdigit() and key["private_key_id"]
    private = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)


def test_a_delegated_assertion_gets_the_users_token(
    server: AuthorizationServer,
    service_account: dict,
    imap: dovecot.Dovecot,
    smtp: OAuthSMTPServer,
) -> None:
    reply = exchange(server, assertion(service_account))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 3600
    assert "refresh_token" not in body  # Google issues none for this grant
    token = body["access_token"]
    seen = server.introspection.check(token)
    assert seen["active"] is True
    assert seen["username"] == CEO
    assert seen["client_id"] == service_account["client_id"]
    assert seen["scope"] == GMAIL

    assert imap_login(imap, CEO, token)
    assert smtp_login(smtp, CEO, token)
    assert smtp.received[-1].login == CEO
    # The token is the impersonated user's, not a key to the domain.
    assert not imap_login(imap, OUTSIDER, token)
    assert not smtp_login(smtp, OUTSIDER, token)


def refusal(reply: requests.Response) -> tuple[int, str, str]:
    body = reply.json()
    assert "access_token" not in body
    return reply.status_code, body["error"], body.get("error_description", "")


def test_an_assertion_signed_by_another_key_is_refused(
    server: AuthorizationServer, service_account: dict
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    status, error, description = refusal(
        exchange(server, assertion(service_account, signing_key=other))
    )
    assert (status, error) == (400, "invalid_grant")
    assert "Signature" in description


def test_an_assertion_for_another_audience_is_refused(
    server: AuthorizationServer, service_account: dict
) -> None:
    for aud in ("https://oauth2.googleapis.com/token", server.url + "/o/token"):
        status, error, description = refusal(exchange(server, assertion(service_account, aud=aud)))
        assert (status, error) == (400, "invalid_grant"), aud
        assert "audience" in description


def test_an_expired_assertion_is_refused(
    server: AuthorizationServer, service_account: dict
) -> None:
    now = int(time.time())
    status, error, description = refusal(
        exchange(server, assertion(service_account, iat=now - 3700, exp=now - 100))
    )
    assert (status, error) == (400, "invalid_grant")
    assert "expired" in description


def test_an_assertion_living_over_an_hour_is_refused(
    server: AuthorizationServer, service_account: dict
) -> None:
    now = int(time.time())
    status, error, description = refusal(
        exchange(server, assertion(service_account, iat=now, exp=now + 3601))
    )
    assert (status, error) == (400, "invalid_grant")
    assert "short-lived" in description
    # An hour to the second is Google's limit, and is taken.
    assert exchange(server, assertion(service_account, iat=now, exp=now + 3600)).ok


def test_an_assertion_for_no_such_user_is_refused(
    server: AuthorizationServer, service_account: dict
) -> None:
    status, error, description = refusal(exchange(server, assertion(service_account, sub=GHOST)))
    assert (status, error, description) == (400, "invalid_grant", "Invalid email or User ID")
    status, error, _ = refusal(exchange(server, assertion(service_account, sub=None)))
    assert (status, error) == (400, "invalid_grant")


def test_an_assertion_outside_the_delegated_domains_is_refused(
    server: AuthorizationServer, service_account: dict
) -> None:
    status, error, _ = refusal(exchange(server, assertion(service_account, sub=OUTSIDER)))
    assert (status, error) == (400, "unauthorized_client")
    # The same user, once a second account is delegated the domain: the check is per account.
    other = server.add_service_account("elsewhere-delegation", ["elsewhere.test"])
    reply = exchange(server, assertion(other, sub=OUTSIDER))
    assert reply.status_code == 200
    assert server.introspection.check(reply.json()["access_token"])["username"] == OUTSIDER


def test_an_assertion_from_an_unknown_issuer_is_refused(
    server: AuthorizationServer, service_account: dict
) -> None:
    forged = {**service_account, "client_email": "intruder@evil.iam.gserviceaccount.com"}
    status, error, _ = refusal(exchange(server, assertion(forged)))
    assert (status, error) == (400, "invalid_grant")


def test_an_assertion_for_an_unknown_scope_is_refused(
    server: AuthorizationServer, service_account: dict
) -> None:
    status, error, _ = refusal(
        exchange(server, assertion(service_account, scope=GMAIL + " https://evil.test/all"))
    )
    assert (status, error) == (400, "invalid_scope")


def test_a_key_of_one_account_signs_for_no_other(
    server: AuthorizationServer, service_account: dict
) -> None:
    """The kid and the signature are checked against the issuer's own key."""
    other = server.add_service_account("third-delegation", ["delegated.test"])
    mixed = assertion(service_account, signing_key=other["private_key"])
    status, error, _ = refusal(exchange(server, mixed))
    assert (status, error) == (400, "invalid_grant")


def app_token(server: AuthorizationServer, app: Client) -> str:
    tokens = server.client_credentials(app, APP_ONLY)
    assert tokens.refresh_token is None
    return tokens.access_token


def test_an_app_only_token_names_its_granted_mailboxes(
    server: AuthorizationServer, app: Client
) -> None:
    seen = server.introspection.check(app_token(server, app))
    assert seen["active"] is True and "username" not in seen
    assert seen["mailboxes"] == SHARED
    ungranted = server.add_client("m365 app with no mailbox", grant="client-credentials")
    assert server.introspection.check(app_token(server, ungranted))["mailboxes"] == ""


def test_an_app_only_token_logs_in_to_a_granted_mailbox(
    server: AuthorizationServer, app: Client, imap: dovecot.Dovecot, smtp: OAuthSMTPServer
) -> None:
    token = app_token(server, app)
    assert imap_login(imap, SHARED, token)
    assert smtp_login(smtp, SHARED, token)
    assert smtp.received[-1].login == SHARED


def test_smtp_refuses_an_app_only_token_for_a_mailbox_not_granted(
    server: AuthorizationServer, app: Client, smtp: OAuthSMTPServer
) -> None:
    token = app_token(server, app)
    assert not smtp_login(smtp, PRIVATE, token)
    server.grant_mailbox(app, PRIVATE)  # Add-MailboxPermission, then the same token works
    try:
        assert smtp_login(smtp, PRIVATE, token)
    finally:
        server.revoke_mailbox(app, PRIVATE)
    assert not smtp_login(smtp, PRIVATE, token)


def test_dovecot_takes_an_app_only_token_for_any_mailbox(
    server: AuthorizationServer, app: Client, imap: dovecot.Dovecot
) -> None:
    """Dovecot 2.3 cannot check the grant (tests/dovecot.py: OAUTH_APP_ARGS): a live app-only
    token opens a mailbox not granted to its application. What it does check: the token is
    live and has the app-only scope."""
    token = app_token(server, app)
    assert imap_login(imap, PRIVATE, token)  # the known gap
    narrow = server.client_credentials(app, "https://outlook.office.com/SMTP.Send")
    assert not imap_login(imap, SHARED, narrow.access_token)
    server.revoke(app, token)
    assert not imap_login(imap, SHARED, token)


def test_dovecot_refuses_as_an_authentication_failure(
    server: AuthorizationServer, app: Client, imap: dovecot.Dovecot
) -> None:
    """The app-only passdb goes first, and changes no refusal into a temporary failure
    ([UNAVAILABLE], which a client retries): a user's token for another mailbox, a revoked
    app-only token, one without the app-only scope are plain authentication failures."""
    client = server.add_client("another user app", redirect_uris=("http://127.0.0.1:9/cb",))
    ceo = server.authorization_code_flow(client, CEO, PASSWORD).access_token
    narrow = server.client_credentials(app, "https://outlook.office.com/SMTP.Send").access_token
    revoked = app_token(server, app)
    server.revoke(app, revoked)
    for user, token in ((SHARED, ceo), (SHARED, narrow), (SHARED, revoked), (CEO, "forged")):
        conn = imapclient.IMAPClient("127.0.0.1", port=imap.imap_port, ssl=False, timeout=30)
        try:
            with pytest.raises(LoginError, match=r"\[AUTHENTICATIONFAILED\]"):
                conn.oauth2_login(user, token)
        finally:
            conn.logout()


def test_the_app_only_scope_does_not_open_other_users_mailboxes_by_user_token(
    server: AuthorizationServer, imap: dovecot.Dovecot, smtp: OAuthSMTPServer
) -> None:
    """A user's token never goes through the app-only door, even with the app-only scope."""
    client = server.add_client("user app", redirect_uris=("http://127.0.0.1:9/cb",))
    tokens = server.authorization_code_flow(client, CEO, PASSWORD, scope="openid " + APP_ONLY)
    assert imap_login(imap, CEO, tokens.access_token)
    assert not imap_login(imap, SHARED, tokens.access_token)
    assert not smtp_login(smtp, SHARED, tokens.access_token)
