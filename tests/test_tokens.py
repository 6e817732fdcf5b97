"""When a token cannot be had: a provider that is down, answers 5xx, or refuses our own
application's credentials defers the mailbox's sends and pauses nothing; only a refused
grant (tests/test_oauth_end_to_end.py) pauses, and only that mailbox. Real HTTP servers on
loopback (a closed port, one answering 503), the real authorization server, the engine
sending through the real SMTP sink."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import json
import random
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from accounts import crypto, oauth, tokens
from accounts import status as mailbox_status
from accounts.models import Mailbox, MailboxToken, TokenTotal
from accounts.transport.sink import SinkServer
from tests.clock import morning_of
from tests.oauth import AuthorizationServer
from tests.test_engine_smtp import engine_for
from warmup.engine.planner import plan_cycle
from warmup.models import SendLog, SendStatus
from warmup_project.config import MailPreset, OAuthConfig

BOB = "bob@other.test"


class _Answer503(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.dumps({"error": "temporarily_unavailable"}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def answering_503() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer503)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/token"


@pytest.fixture
def google(settings: Any, authorization_server: AuthorizationServer) -> Iterator[SinkServer]:
    """Our settings naming a Google application at the real server, the preset servers
    being a sink that takes any token."""
    client = authorization_server.add_client("token tests", redirect_uris=("http://t.test/cb",))
    with SinkServer(users={BOB: "pw-1"}, check_token=lambda user, token: True) as sink:
        settings.WARMUP = dataclasses.replace(
            settings.WARMUP,
            allow_private_hosts=True,
            oauth=OAuthConfig(
                google_client_id=client.client_id,
                google_client_secret=client.secret,
                google_discovery_url=authorization_server.discovery_url,
                presets={
                    "google": MailPreset(("127.0.0.1", sink.port, "none"), ("127.0.0.1", 1, "none"))
                },
            ),
        )
        oauth.documents.clear()
        yield sink
    oauth.documents.clear()


def with_token_endpoint(server: AuthorizationServer, url: str) -> None:
    """The discovery document as read, its token endpoint elsewhere."""
    oauth.documents._kept[server.discovery_url] = (
        float("inf"),
        {**server.discovery(), "token_endpoint": url},
    )


def token_mailbox(owner: Any, email: str, now: dt.datetime) -> Mailbox:
    box = Mailbox(owner=owner, email=email, provider="gmail", auth_method="oauth2")
    box.apply_preset()
    box.window_start_hour, box.window_end_hour = 0, 24
    box.save()
    MailboxToken.objects.create(
        mailbox=box,
        refresh_secret=crypto.encrypt("a-refresh-token-the-server-never-issued"),
        access_secret=crypto.encrypt("an-expired-access-token"),
        expires_at=now - dt.timedelta(minutes=1),
        refresh_after=now - dt.timedelta(minutes=6),
    )
    return box


def password_mailbox(owner: Any, email: str, sink: SinkServer) -> Mailbox:
    return Mailbox.objects.create(
        owner=owner,
        email=email,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_security="none",
        smtp_username=email,
        smtp_password="pw-1",
        imap_host="127.0.0.1",
        imap_username=email,
        imap_password="pw-1",
        window_start_hour=0,
        window_end_hour=24,
    )


@pytest.mark.parametrize("endpoint", ["closed port", "503", "our secret refused"])
def test_no_token_now_defers_the_sends_and_pauses_nothing(
    transactional_db: Any,
    owner: Any,
    google: SinkServer,
    authorization_server: AuthorizationServer,
    answering_503: str,
    settings: Any,
    endpoint: str,
) -> None:
    now = timezone.now()
    box = token_mailbox(owner, "ann@defer.test", now)
    other = password_mailbox(owner, BOB, google)
    if endpoint == "closed port":
        with_token_endpoint(authorization_server, closed_port_url())
    elif endpoint == "503":
        with_token_endpoint(authorization_server, answering_503)
    else:  # the real endpoint, our application's secret wrong: invalid_client
        settings.WARMUP = dataclasses.replace(
            settings.WARMUP,
            oauth=dataclasses.replace(settings.WARMUP.oauth, google_client_secret="wrong"),
        )
    plan_cycle(morning_of(now), floor=3, margin=dt.timedelta(minutes=15))
    SendLog.objects.update(scheduled_at=now - dt.timedelta(minutes=1))

    stats = engine_for(now).run_cycle(plan=False)

    assert stats.outcomes["sent"] == SendLog.objects.filter(sender=other).count(), stats.line()
    assert {m.login for m in google.received} == {other.email}
    waiting = SendLog.objects.filter(sender=box)
    assert {s.status for s in waiting} == {SendStatus.PLANNED}
    assert all(s.scheduled_at == now + dt.timedelta(minutes=5) for s in waiting)
    assert all(s.smtp_error.startswith("no access token: ") for s in waiting)
    box.refresh_from_db()
    assert (box.status, box.status_reason) == (mailbox_status.ACTIVE, "")
    row = MailboxToken.objects.get(pk=box.pk)
    assert row.refresh_failures == 1 and row.last_error
    assert TokenTotal.objects.get(name="failures").total == 1
    assert not TokenTotal.objects.filter(name="refreshes").exists()
    assert "a-refresh-token" not in row.last_error + waiting[0].smtp_error


def test_an_outage_costs_one_call_then_the_provider_is_left_alone_a_minute(
    transactional_db: Any, owner: Any, google: SinkServer, authorization_server: AuthorizationServer
) -> None:
    now = timezone.now()
    first = token_mailbox(owner, "ann@outage.test", now)
    second = token_mailbox(owner, "cat@outage-too.test", now)
    with_token_endpoint(authorization_server, closed_port_url())
    with pytest.raises(tokens.TokenUnavailable, match="ConnectionError"):
        tokens.access_token(first, now)
    with pytest.raises(tokens.TokenUnavailable, match="not asked again until"):
        tokens.access_token(second, now + dt.timedelta(seconds=59))
    assert MailboxToken.objects.get(pk=second.pk).refresh_failures == 0  # not asked
    # A minute on, the provider is asked again (and still down).
    with pytest.raises(tokens.TokenUnavailable, match="ConnectionError"):
        tokens.access_token(second, now + tokens.OUTAGE_PAUSE)
    assert MailboxToken.objects.get(pk=second.pk).refresh_failures == 1


def test_an_unknown_refresh_token_pauses_only_that_mailbox(
    transactional_db: Any, owner: Any, google: SinkServer
) -> None:
    now = timezone.now()
    box = token_mailbox(owner, "ann@refused.test", now)
    other = token_mailbox(owner, "cat@refused-too.test", now)
    with pytest.raises(tokens.TokenRefused, match="invalid_grant"):
        tokens.access_token(box, now)
    box.refresh_from_db()
    other.refresh_from_db()
    assert box.status == mailbox_status.PAUSED
    assert box.status_reason.startswith("reconnect needed: google refused the refresh token")
    assert other.status == mailbox_status.ACTIVE


def test_tokens_are_never_got_inside_a_transaction(
    transactional_db: Any, owner: Any, google: SinkServer
) -> None:
    box = token_mailbox(owner, "ann@atomic.test", timezone.now())
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside a transaction"):
        tokens.access_token(box, timezone.now())


def test_tokens_issued_together_are_refreshed_spread_out() -> None:
    now = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    grant = oauth.Grant("t", now + dt.timedelta(hours=1))
    random.seed(5)
    times = sorted(tokens.refresh_after(grant, now) for _ in range(1000))
    assert times[-1] <= grant.expires_at - tokens.REFRESH_AHEAD
    assert times[0] >= now + dt.timedelta(minutes=30)  # the last half of its life
    assert times[-1] - times[0] >= dt.timedelta(minutes=24)  # 30 to 55 minutes, nearly all
    # Evenly: each fifth of the range holds about a fifth of them.
    fifths = Counter(int((t - times[0]) / (times[-1] - times[0]) * 5 - 1e-9) for t in times)
    assert all(150 <= n <= 250 for n in fifths.values())
    # A short-lived token is kept half its life at most, not refreshed at once.
    short = oauth.Grant("t", now + dt.timedelta(seconds=4))
    assert now < tokens.refresh_after(short, now) <= now + dt.timedelta(seconds=2)
