"""End to end on loopback, nothing of ours mocked: a mailbox connected by its owner's consent
at a real OAuth 2.0 / OpenID Connect server (tests/oauth.py, standing in for Google: its
discovery document, authorize and token endpoints, ID tokens, refresh rotation,
revocation), sending over XOAUTH2 through an SMTP server that introspects every token,
engaged over XOAUTH2 in Dovecot (oauth2 passdb, introspection).

The story: the owner's platform asks our API to connect → the user's browser, logged in at
the provider, consents and lands on our callback → the mailbox exists with the provider's
servers and its tokens encrypted → the engine sends over XOAUTH2 → engagement logs in over
XOAUTH2 and finds the mail → the access token expires → three workers need one at once and
the provider sees one refresh → the refresh token is revoked → that mailbox pauses
"reconnect needed", the other is untouched → connecting again resumes it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts import crypto, oauth, tokens
from accounts import status as mailbox_status
from accounts.models import AUTH_OAUTH2, Mailbox, MailboxToken, TokenTotal
from tests import dovecot
from tests.clock import morning_of
from tests.oauth import AuthorizationServer, database_text
from tests.oauth_smtp import OAuthSMTPServer
from tests.test_engine_smtp import engine_for
from warmup.engine.engage import engage_pass
from warmup.engine.planner import plan_cycle
from warmup.models import SendLog, SendStatus
from warmup_project.config import MailPreset, OAuthConfig

pytestmark = pytest.mark.skipif(
    not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"
)

ANN, ANN_PASSWORD = "ann@acme-e2e.test", "ann-provider-password-1"
BOB, BOB_PASSWORD = "bob@beta-e2e.test", "bob-smtp-password-1"
RETURN_URL = "https://platform.test/mailboxes/connected?from=warmup"
TOKEN_SECONDS = 4  # the provider's access tokens, short enough to watch one expire


@pytest.fixture
def stack(
    authorization_server: AuthorizationServer, live_server: Any, settings: Any
) -> Iterator[dict[str, Any]]:
    """The provider with a registered application (our callback as its redirect URI), the
    SMTP server and Dovecot both checking tokens at it, and our settings pointing at all."""
    authorization_server.add_user(ANN, ANN_PASSWORD)
    callback = f"{live_server.url}/oauth/google/callback"
    client = authorization_server.add_client(
        "warmup e2e", redirect_uris=(callback,), access_token_seconds=TOKEN_SECONDS
    )
    users = {BOB: BOB_PASSWORD}
    with (
        OAuthSMTPServer(authorization_server.introspection, users=users) as smtp,
        dovecot.Dovecot(users, introspection=authorization_server.introspection) as imap,
    ):
        settings.WARMUP = dataclasses.replace(
            settings.WARMUP,
            allow_private_hosts=True,
            oauth=OAuthConfig(
                google_client_id=client.client_id,
                google_client_secret=client.secret,
                google_discovery_url=authorization_server.discovery_url,
                return_url=RETURN_URL,
                presets={
                    "google": MailPreset(
                        ("127.0.0.1", smtp.port, "none"), ("127.0.0.1", imap.imap_port, "none")
                    )
                },
            ),
        )
        oauth.documents.clear()
        yield {"client": client, "smtp": smtp, "imap": imap, "live": live_server.url}
    oauth.documents.clear()


def connect(server: AuthorizationServer, live: str, username: str, password: str) -> str:
    """The platform starts a connection through the API; the user consents in a browser
    logged in at the provider, which follows the redirect to our callback. Returns where
    our callback sent the browser."""
    login = requests.post(
        f"{live}/api/auth/token/", json={"username": "owner", "password": "owner-pw-1"}, timeout=10
    )
    login.raise_for_status()
    started = requests.post(
        f"{live}/api/mailboxes/connect/google/",
        headers={"Authorization": f"Bearer {login.json()['access']}"},
        timeout=10,
    )
    assert started.status_code == 201, started.text
    browser = server.browser(username, password)
    to_callback = server.consent(browser, started.json()["authorize_url"])
    assert to_callback.startswith(f"{live}/oauth/google/callback?")
    landed = browser.get(to_callback, allow_redirects=False, timeout=30)
    assert landed.status_code == 302, landed.text
    return landed.headers["Location"]


def refreshes_counted() -> int:
    return dict(TokenTotal.objects.values_list("name", "total")).get("refreshes", 0)


def stored_tokens(box: Mailbox) -> tuple[str, str]:
    row = MailboxToken.objects.get(pk=box.pk)
    return (
        crypto.decrypt(row.access_secret, what="test"),
        crypto.decrypt(row.refresh_secret, what="test"),
    )


def test_connect_send_engage_expire_revoke_reconnect(
    caplog: pytest.LogCaptureFixture,
    transactional_db: Any,
    django_user_model: Any,
    authorization_server: AuthorizationServer,
    stack: dict[str, Any],
) -> None:
    server, client, smtp, imap = (
        authorization_server,
        stack["client"],
        stack["smtp"],
        stack["imap"],
    )
    caplog.set_level(logging.DEBUG)
    owner = django_user_model.objects.create_user("owner", password="owner-pw-1")

    # Connect.
    back = connect(server, stack["live"], ANN, ANN_PASSWORD)
    assert back.startswith("https://platform.test/mailboxes/connected?from=warmup&mailbox=")
    ann = Mailbox.objects.get(pk=int(parse_qs(urlsplit(back).query)["mailbox"][0]))
    assert (ann.owner, ann.email, ann.auth_method, ann.provider) == (
        owner,
        ANN,
        AUTH_OAUTH2,
        "gmail",
    )
    assert (ann.smtp_host, ann.smtp_port, ann.smtp_security, ann.smtp_username) == (
        "127.0.0.1",
        smtp.port,
        "none",
        ANN,
    )
    assert (ann.imap_port, ann.imap_username, ann.smtp_secret, ann.imap_secret) == (
        imap.imap_port,
        ANN,
        "",
        "",
    )
    access, refresh = stored_tokens(ann)
    assert server.introspection.check(access)["username"] == ANN
    with connection.cursor() as cursor:  # the database holds them encrypted only
        cursor.execute("SELECT row_to_json(t)::text FROM mailbox_tokens t")
        dump = cursor.fetchone()[0]
    assert access not in dump and refresh not in dump and "gAAAA" in dump
    assert server.token_counts(ANN)["refresh_tokens"] == 1

    bob = Mailbox.objects.create(
        owner=owner,
        email=BOB,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_username=BOB,
        smtp_password=BOB_PASSWORD,
        imap_host="127.0.0.1",
        imap_port=imap.imap_port,
        imap_security="none",
        imap_username=BOB,
        imap_password=BOB_PASSWORD,
    )
    Mailbox.objects.update(window_start_hour=0, window_end_hour=24, start_volume=6)

    # The engine sends over XOAUTH2 (the token may expire on the way: it is refreshed).
    # Three slots each are due now, three wait for the end of the story.
    now = timezone.now()
    plan_cycle(morning_of(now), floor=6, margin=dt.timedelta(minutes=15))
    SendLog.objects.filter(slot_no__lt=3).update(scheduled_at=now - dt.timedelta(minutes=1))
    SendLog.objects.filter(slot_no__gte=3).update(scheduled_at=now + dt.timedelta(hours=3))
    stats = engine_for(timezone.now()).run_cycle(plan=False)
    assert stats.outcomes["sent"] == 6, stats.line()
    ann_logins = [t for t in smtp.token_logins if t.user == ANN]
    assert ann_logins and all(t.mechanism == "XOAUTH2" and t.accepted for t in ann_logins)
    assert sorted(m.login for m in smtp.received) == [ANN] * 3 + [BOB] * 3

    # Delivered (the MTA's part), then engagement logs in as ann over XOAUTH2.
    for got in smtp.received:
        imap.deliver(got.rcpt_tos[0], got.data)
    engaged = engage_pass(
        timezone.now(),
        settings.SECRET_KEY,
        concurrency=2,
        every=dt.timedelta(minutes=15),
        allow_private=True,
        mailbox_id=ann.pk,
    )
    (result,) = engaged.results
    assert (result.error, result.inbox) == ("", 3)
    assert "xoauth2" in imap.log().lower() or "oauth2" in imap.log().lower()

    # The access token expires; three workers need one at the same moment.
    before = server.token_counts(ANN, client)
    refreshes_before = refreshes_counted()
    expired_at = MailboxToken.objects.get(pk=ann.pk).expires_at
    time.sleep(max(0.0, (expired_at - timezone.now()).total_seconds()) + 0.5)
    got: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def worker() -> None:
        try:
            box = Mailbox.objects.get(pk=ann.pk)  # connected before the race starts
            start.wait()
            got.append(tokens.access_token(box, timezone.now()))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(got) == 3 and len(set(got)) == 1
    after = server.token_counts(ANN, client)
    assert after["refresh_requests"] == before["refresh_requests"] + 1  # one refresh asked
    assert after["refresh_tokens"] == before["refresh_tokens"] + 1
    assert refreshes_counted() == refreshes_before + 1  # warmup_token_refreshes_total
    assert server.introspection.check(got[0])["active"] is True
    new_access, new_refresh = stored_tokens(ann)
    assert (new_access, new_refresh != refresh) == (got[0], True)  # rotated, saved
    assert server.introspection.check(access)["active"] is False  # the old one expired

    # The refresh token is revoked at the provider (the user removed the app's access).
    server.revoke(client, new_refresh, hint="refresh_token")
    now = timezone.now()
    SendLog.objects.filter(status=SendStatus.PLANNED).update(scheduled_at=now)
    again = engine_for(now).run_cycle(plan=False)
    assert again.outcomes["sent"] == 3, again.line()  # bob's
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert ann.status == mailbox_status.PAUSED
    assert ann.status_reason.startswith("reconnect needed: google refused the refresh token")
    assert new_refresh not in ann.status_reason and new_access not in ann.status_reason
    assert (bob.status, bob.status_reason) == (mailbox_status.ACTIVE, "")
    row = MailboxToken.objects.get(pk=ann.pk)
    assert row.refresh_failures == 1 and "invalid_grant" in row.last_error

    # Connecting again resumes it.
    back = connect(server, stack["live"], ANN, ANN_PASSWORD)
    assert back.endswith(f"mailbox={ann.pk}")
    ann.refresh_from_db()
    assert (ann.status, ann.status_reason) == (mailbox_status.ACTIVE, "")
    assert Mailbox.objects.filter(email=ANN).count() == 1
    fresh, fresh_refresh = stored_tokens(ann)
    assert server.introspection.check(fresh)["active"] is True

    # Not one token or secret in any log line of the whole story (the engine's, the
    # callback's, engagement's, the token refreshes' and Django's own).
    secrets = [access, refresh, new_access, new_refresh, fresh, fresh_refresh, client.secret]
    assert "reconnect needed" in caplog.text or "invalid_grant" in caplog.text
    assert not [s for s in secrets if s in caplog.text]
    dump = database_text()  # nor in the database, any table
    assert not [s for s in secrets if s in dump] and ANN in dump
