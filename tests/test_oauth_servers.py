"""The OAuth test stack is real and can say no: tokens from the authorization server
(tests/oauth.py, django-oauth-toolkit in its own process and database), obtained by
authorization code + PKCE, log in to Dovecot (IMAP AUTHENTICATE XOAUTH2, OAUTHBEARER) and to
the SMTP server of tests/oauth_smtp.py (AUTH XOAUTH2, OAUTHBEARER) with the standard
library's clients; a wrong token, another user's, an expired one and a revoked one are
refused by both, since both ask the introspection endpoint at every login."""

from __future__ import annotations

import imaplib
import smtplib
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests import dovecot
from tests.oauth import AuthorizationServer, Client, OAuthError, oauthbearer, pkce_pair, xoauth2
from tests.oauth_smtp import OAuthSMTPServer

ALICE, ALICE_PASSWORD = "alice@oauth.test", "alice-password-1"
BOB, BOB_PASSWORD = "bob@oauth.test", "bob-password-1"
PAT, PAT_PASSWORD = "pat@password.test", "pat-password-1"  # a password mailbox beside them
CALLBACK = "http://127.0.0.1:9/oauth/callback"
SHORT_LIFE_S = 2

needs_dovecot = pytest.mark.skipif(
    not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def server(authorization_server: AuthorizationServer) -> AuthorizationServer:
    authorization_server.add_user(ALICE, ALICE_PASSWORD)
    authorization_server.add_user(BOB, BOB_PASSWORD)
    return authorization_server


@pytest.fixture(scope="module")
def client(server: AuthorizationServer) -> Client:
    return server.add_client("mail client", redirect_uris=(CALLBACK,))


@pytest.fixture(scope="module")
def imap(server: AuthorizationServer) -> Iterator[dovecot.Dovecot]:
    if not dovecot.available():
        pytest.skip("needs Dovecot (.ci/run installs it)")
    with dovecot.Dovecot({PAT: PAT_PASSWORD}, introspection=server.introspection) as imap:
        yield imap


@pytest.fixture(scope="module")
def smtp(server: AuthorizationServer) -> Iterator[OAuthSMTPServer]:
    with OAuthSMTPServer(server.introspection, users={PAT: PAT_PASSWORD}) as smtp:
        yield smtp


def _sasl(initial: str, mechanism: str) -> Callable[..., bytes]:
    """A client's side of XOAUTH2/OAUTHBEARER: the initial response, then to a server's
    error challenge the answer that ends the exchange (empty; ^A for OAUTHBEARER)."""
    sent = []

    def respond(challenge: bytes | None = None) -> bytes:
        if not sent:
            sent.append(True)
            return initial.encode()
        return b"\x01" if mechanism == "OAUTHBEARER" else b""

    return respond


def imap_login(server: dovecot.Dovecot, mechanism: str, user: str, token: str) -> bool:
    conn = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    try:
        initial = (
            xoauth2(user, token)
            if mechanism == "XOAUTH2"
            else oauthbearer(user, token, "127.0.0.1", server.imap_port)
        )
        try:
            conn.authenticate(mechanism, _sasl(initial, mechanism))
        except imaplib.IMAP4.error:
            return False
        status, _ = conn.select("INBOX")  # a real session on the user's own mailbox
        assert status == "OK"
        return True
    finally:
        conn.logout()


def smtp_login(server: OAuthSMTPServer, mechanism: str, user: str, token: str) -> bool:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as conn:
        conn.ehlo()  # SMTP.auth() does not, and takes the "503 send EHLO first" for a yes
        initial = (
            xoauth2(user, token)
            if mechanism == "XOAUTH2"
            else oauthbearer(user, token, "127.0.0.1", server.port)
        )
        respond = _sasl(initial, mechanism)
        try:
            conn.auth(mechanism, lambda challenge=None: respond(challenge).decode())
        except smtplib.SMTPAuthenticationError as refused:
            assert refused.smtp_code == 535
            return False
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = user, PAT, "over a token"
        message.set_content("sent after AUTH " + mechanism)
        conn.send_message(message)
        return True


LOGINS = ["imap XOAUTH2", "imap OAUTHBEARER", "smtp XOAUTH2", "smtp OAUTHBEARER"]


@pytest.fixture
def login(request: pytest.FixtureRequest) -> Callable[[str, str, str], bool]:
    """`login(kind, user, token)` for a kind of LOGINS, against the module's servers."""

    def attempt(kind: str, user: str, token: str) -> bool:
        protocol, mechanism = kind.split()
        if protocol == "imap":
            return imap_login(request.getfixturevalue("imap"), mechanism, user, token)
        return smtp_login(request.getfixturevalue("smtp"), mechanism, user, token)

    return attempt


def test_discovery_lists_the_endpoints(server: AuthorizationServer) -> None:
    document = server.discovery()
    assert document["issuer"] == f"{server.url}/o"
    assert document["authorization_endpoint"] == server.authorize_url
    assert document["token_endpoint"] == server.token_url
    assert "S256" in document["code_challenge_methods_supported"]
    keys = requests.get(document["jwks_uri"], timeout=10).json()["keys"]
    assert [key["kty"] for key in keys] == ["RSA"]  # made at start, signs the ID tokens
    metadata = server.metadata()  # RFC 8414: the same server, and what OIDC's leaves out
    assert metadata["issuer"] == document["issuer"]
    assert metadata["revocation_endpoint"] == server.revoke_url
    assert metadata["introspection_endpoint"] == server.introspection.url


def test_the_server_requires_pkce(server: AuthorizationServer, client: Client) -> None:
    request = server.authorization_request(
        client, scope="openid email", state="s1", nonce="n1", code_challenge=""
    )
    request = request.replace("&code_challenge=&code_challenge_method=S256", "")
    callback = server.consent(server.browser(ALICE, ALICE_PASSWORD), request)
    answer = parse_qs(urlsplit(callback).query)
    assert answer["error"] == ["invalid_request"]
    assert "code" not in answer


def test_a_code_needs_its_verifier(server: AuthorizationServer, client: Client) -> None:
    _, challenge = pkce_pair()
    callback = server.consent(
        server.browser(ALICE, ALICE_PASSWORD),
        server.authorization_request(
            client, scope="openid", state="s2", nonce="n2", code_challenge=challenge
        ),
    )
    code = parse_qs(urlsplit(callback).query)["code"][0]
    other_verifier, _ = pkce_pair()
    reply = requests.post(
        server.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": other_verifier,
        },
        auth=client.auth,
        timeout=10,
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_grant"


def test_tokens_carry_the_user_and_refresh_rotates(
    server: AuthorizationServer, client: Client
) -> None:
    before = server.token_counts(ALICE)
    tokens = server.authorization_code_flow(client, ALICE, ALICE_PASSWORD)
    assert tokens.id_token and tokens.refresh_token
    seen = server.introspection.check(tokens.access_token)
    assert seen["active"] is True and seen["username"] == ALICE

    renewed = server.refresh(client, tokens.refresh_token)
    assert renewed.refresh_token not in (None, tokens.refresh_token)
    assert server.introspection.check(renewed.access_token)["active"] is True
    with pytest.raises(OAuthError, match="invalid_grant"):
        server.refresh(client, tokens.refresh_token)  # spent by the rotation
    after = server.token_counts(ALICE)
    assert after["refresh_tokens"] - before["refresh_tokens"] == 2  # the code's, the refresh's
    assert after["revoked_refresh_tokens"] - before["revoked_refresh_tokens"] == 1


def test_a_wrong_password_gets_no_session(server: AuthorizationServer) -> None:
    with pytest.raises(OAuthError, match="login refused"):
        server.browser(ALICE, "not-her-password")


@pytest.mark.parametrize("kind", LOGINS)
def test_a_live_token_logs_in(
    kind: str, server: AuthorizationServer, client: Client, login: Any, smtp: OAuthSMTPServer
) -> None:
    tokens = server.authorization_code_flow(client, ALICE, ALICE_PASSWORD)
    assert login(kind, ALICE, tokens.access_token)
    if kind.startswith("smtp"):
        assert smtp.received[-1].login == ALICE
        assert smtp.received[-1].message["Subject"] == "over a token"


@pytest.mark.parametrize("kind", LOGINS)
def test_a_wrong_or_borrowed_token_is_refused(
    kind: str, server: AuthorizationServer, client: Client, login: Any
) -> None:
    bobs = server.authorization_code_flow(client, BOB, BOB_PASSWORD).access_token
    assert not login(kind, ALICE, "no-such-token")
    assert not login(kind, ALICE, bobs)  # live, but issued to another user
    assert not login(kind, ALICE, ALICE_PASSWORD)  # a password is no token
    assert login(kind, BOB, bobs)


def test_an_expired_token_is_refused(server: AuthorizationServer, login: Any) -> None:
    short = server.add_client(
        "short-lived tokens", redirect_uris=(CALLBACK,), access_token_seconds=SHORT_LIFE_S
    )
    tokens = server.authorization_code_flow(short, ALICE, ALICE_PASSWORD)
    assert tokens.expires_in == SHORT_LIFE_S
    issued = time.monotonic()
    assert login("imap XOAUTH2", ALICE, tokens.access_token)
    assert login("smtp XOAUTH2", ALICE, tokens.access_token)
    assert time.monotonic() - issued < SHORT_LIFE_S, "too slow to see the token live"

    time.sleep(SHORT_LIFE_S + 0.5 - (time.monotonic() - issued))
    for kind in LOGINS:
        assert not login(kind, ALICE, tokens.access_token), kind
    # A refresh is how a client carries on.
    renewed = server.refresh(short, tokens.refresh_token or "")
    assert login("smtp XOAUTH2", ALICE, renewed.access_token)


def test_a_revoked_token_is_refused(
    server: AuthorizationServer, client: Client, login: Any
) -> None:
    tokens = server.authorization_code_flow(client, ALICE, ALICE_PASSWORD)
    for kind in LOGINS:
        assert login(kind, ALICE, tokens.access_token), kind
    server.revoke(client, tokens.access_token)
    for kind in LOGINS:
        assert not login(kind, ALICE, tokens.access_token), kind


def test_a_revoked_refresh_token_ends_the_grant(
    server: AuthorizationServer, client: Client, login: Any
) -> None:
    """What "reconnect needed" will look like: no refresh, and the access token is gone."""
    tokens = server.authorization_code_flow(client, ALICE, ALICE_PASSWORD)
    server.revoke(client, tokens.refresh_token or "", hint="refresh_token")
    with pytest.raises(OAuthError, match="invalid_grant"):
        server.refresh(client, tokens.refresh_token or "")
    assert not login("imap XOAUTH2", ALICE, tokens.access_token)
    assert not login("smtp XOAUTH2", ALICE, tokens.access_token)


@needs_dovecot
def test_passwords_still_log_in_beside_tokens(imap: dovecot.Dovecot, smtp: OAuthSMTPServer) -> None:
    conn = imaplib.IMAP4("127.0.0.1", imap.imap_port, timeout=30)
    try:
        assert conn.login(PAT, PAT_PASSWORD)[0] == "OK"
    finally:
        conn.logout()
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=30) as conn_smtp:
        assert conn_smtp.login(PAT, PAT_PASSWORD)[0] == 235


def test_every_token_login_is_asked_of_the_server(
    server: AuthorizationServer, client: Client, smtp: OAuthSMTPServer
) -> None:
    before = len(smtp.token_logins)
    tokens = server.authorization_code_flow(client, BOB, BOB_PASSWORD)
    assert smtp_login(smtp, "XOAUTH2", BOB, tokens.access_token)
    assert not smtp_login(smtp, "OAUTHBEARER", BOB, "forged")
    assert [(x.mechanism, x.user, x.accepted) for x in smtp.token_logins[before:]] == [
        ("XOAUTH2", BOB, True),
        ("OAUTHBEARER", BOB, False),
    ]
