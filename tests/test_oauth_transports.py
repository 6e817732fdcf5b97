"""The transports log in with a real OAuth 2.0 access token: an authorization server of
its own (django-oauth-toolkit, tests/oauth.py) issues it through authorization code + PKCE,
Dovecot's oauth2 passdb and the sink check it by introspection. The engine's SMTP transport
sends over XOAUTH2, engagement's IMAP session opens the mailbox over XOAUTH2, and a revoked
token is a refused login whose message never carries the token."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest

from accounts.transport import imap
from accounts.transport.account import Account
from accounts.transport.smtp import Envelope, Group, Outcome, SmtpTransport, check_login
from tests import dovecot
from tests.oauth import AuthorizationServer, Client
from tests.oauth_smtp import OAuthSMTPServer

ANN, ANN_PASSWORD = "ann@oauth-transport.test", "ann-password-1"
CALLBACK = "http://127.0.0.1:9/oauth/callback"
MESSAGE = b"From: ann@oauth-transport.test\r\nTo: b@b.test\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def client(authorization_server: AuthorizationServer) -> Client:
    authorization_server.add_user(ANN, ANN_PASSWORD)
    return authorization_server.add_client("transport tests", redirect_uris=(CALLBACK,))


@pytest.fixture(scope="module")
def smtp(authorization_server: AuthorizationServer) -> Iterator[OAuthSMTPServer]:
    with OAuthSMTPServer(authorization_server.introspection) as server:
        yield server


@pytest.fixture(scope="module")
def dovecot_server(authorization_server: AuthorizationServer) -> Iterator[dovecot.Dovecot]:
    if not dovecot.available():
        pytest.skip("needs Dovecot (.ci/run installs it)")
    with dovecot.Dovecot({}, introspection=authorization_server.introspection) as server:
        yield server


def token(server: AuthorizationServer, client: Client) -> str:
    return server.authorization_code_flow(
        client, ANN, ANN_PASSWORD, scope="openid email"
    ).access_token


def send(account: Account) -> list[Outcome]:
    transport = SmtpTransport(
        allow_private=True,
        max_concurrent=1,
        stagger_ms=(0, 0),
        rng=random.Random(1),
        connect_timeout=5,
        command_timeout=10,
    )
    envelopes = [Envelope(n, ANN, "b@b.test", MESSAGE) for n in range(2)]
    return [r.outcome for r in asyncio.run(transport.send_batch([Group(account, envelopes)]))]


def test_the_engine_sends_over_xoauth2_and_a_revoked_token_is_refused(
    authorization_server: AuthorizationServer, client: Client, smtp: OAuthSMTPServer
) -> None:
    access = token(authorization_server, client)
    account = Account("127.0.0.1", smtp.port, "none", ANN, "", access_token=access)

    assert send(account) == [Outcome.SENT, Outcome.SENT]
    assert [m.login for m in smtp.received[-2:]] == [ANN, ANN]
    assert smtp.token_logins[-1].mechanism == "XOAUTH2"

    authorization_server.revoke(client, access)
    assert send(account) == [Outcome.AUTH_FAILED, Outcome.AUTH_FAILED]
    check = asyncio.run(check_login(account, allow_private=True))
    assert not check.ok and check.reply.startswith("535") and access not in check.reply


def test_engagement_opens_the_mailbox_over_xoauth2_and_a_revoked_token_is_refused(
    authorization_server: AuthorizationServer, client: Client, dovecot_server: dovecot.Dovecot
) -> None:
    access = token(authorization_server, client)
    account = Account("127.0.0.1", dovecot_server.imap_port, "none", ANN, "", access_token=access)

    session = imap.ImapSession(account, timeout=30, allow_private=True)
    try:
        warmup_folder = session.folders().warmup  # LIST and NAMESPACE: a logged-in session
        selected = session.client.select_folder("INBOX")
    finally:
        session.close()
    assert warmup_folder and b"EXISTS" in selected
    assert imap.check_login(account, allow_private=True).ok

    authorization_server.revoke(client, access)
    with pytest.raises(imap.ImapAuthError, match="IMAP login refused") as refused:
        imap.ImapSession(account, timeout=30, allow_private=True)
    assert access not in str(refused.value)
    check = imap.check_login(account, allow_private=True)
    assert not check.ok and access not in check.reply
