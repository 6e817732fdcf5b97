"""POST /api/mailboxes/{id}/test: real SMTP logins against aiosmtpd requiring AUTH, an
IMAP server that is not there, an unreadable secret; never a password in the answer."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import tracemalloc
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import connection
from accounts.models import Mailbox
from accounts.transport.sink import SinkServer
from tests import dovecot
from tests.hostile import HostileServer
from tests.test_api_mailboxes import client_for, mailbox_of, user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttle() -> None:
    cache.clear()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pointed_at(box: Mailbox, smtp_port: int, smtp_password: str) -> Mailbox:
    box.smtp_host, box.smtp_port, box.smtp_security = "127.0.0.1", smtp_port, "none"
    box.smtp_username = "alice-smtp"
    box.smtp_password = smtp_password
    box.imap_host, box.imap_port, box.imap_security = "127.0.0.1", closed_port(), "none"
    box.save()
    return box


@pytest.mark.parametrize(
    ("password", "ok", "reply"), [("right-pass", True, "235"), ("wrong-pass", False, "535")]
)
def test_smtp_login_result_with_the_servers_reply(password: str, ok: bool, reply: str) -> None:
    owner = user("alice")
    with SinkServer(users={"alice-smtp": "right-pass"}) as server:
        box = pointed_at(mailbox_of(owner, 1), server.port, password)
        response = client_for(owner).post(f"/api/mailboxes/{box.id}/test/")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    assert body["smtp"]["ok"] is ok
    assert body["smtp"]["reply"].startswith(reply), body
    assert body["imap"]["ok"] is False
    assert "connection failed" in body["imap"]["reply"]
    text = response.content.decode()
    assert password not in text and "s3cret-imap" not in text
    assert server.accepted == 0  # a test sends nothing


def test_an_unreadable_secret_is_reported_not_crashed_on() -> None:
    owner = user("alice")
    box = mailbox_of(owner, 1)
    Mailbox.objects.filter(id=box.id).update(smtp_secret="gAAAAA-not-a-token")
    body = client_for(owner).post(f"/api/mailboxes/{box.id}/test/").json()
    assert body["smtp"]["ok"] is False
    assert f"mailbox {box.id}" in body["smtp"]["reply"]


def test_another_users_mailbox_cannot_be_tested() -> None:
    bob_box = mailbox_of(user("bob"), 1)
    response = client_for(user("alice")).post(f"/api/mailboxes/{bob_box.id}/test/")
    assert response.status_code == 404


@pytest.mark.skipif(not dovecot.available(), reason="needs Dovecot (.ci/run installs it)")
@pytest.mark.parametrize(("password", "ok"), [("imap-right", True), ("imap-wrong", False)])
def test_imap_login_against_a_real_dovecot(password: str, ok: bool) -> None:
    owner = user("alice")
    with (
        SinkServer(users={"alice-smtp": "right-pass"}) as smtp_server,
        dovecot.Dovecot({"alice@imap.test": "imap-right"}) as imap_server,
    ):
        box = pointed_at(mailbox_of(owner, 1), smtp_server.port, "right-pass")
        box.imap_port, box.imap_username = imap_server.imap_port, "alice@imap.test"
        box.imap_password = password
        box.save()
        response = client_for(owner).post(f"/api/mailboxes/{box.id}/test/")
    body = response.json()
    assert body["imap"]["ok"] is ok, body
    assert ("Logged in" if ok else "AUTHENTICATIONFAILED") in body["imap"]["reply"]
    assert password not in response.content.decode()


# --- hostile targets (issue 14) -------------------------------------------------------


@pytest.fixture
def private_refused(settings: Any) -> None:
    settings.WARMUP = dataclasses.replace(settings.WARMUP, allow_private_hosts=False)


def point_both(box: Mailbox, host: str, smtp_port: int, imap_port: int) -> None:
    # Straight to the row, past the doors' validation: an old row, or a name that only
    # resolves badly later.
    Mailbox.objects.filter(id=box.id).update(
        smtp_host=host,
        smtp_port=smtp_port,
        smtp_security="none",
        imap_host=host,
        imap_port=imap_port,
        imap_security="none",
    )


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "localhost",
        "::1",
        "[::1]",
        "169.254.169.254",
        "10.0.0.1",
        "0.0.0.0",  # noqa: S104 (a target refused, not an address bound)
    ],
)
def test_every_private_spelling_is_a_400_and_nothing_is_connected(
    private_refused: None, host: str
) -> None:
    owner = user("alice")
    box = mailbox_of(owner, 1)
    with HostileServer("banner") as smtp_side, HostileServer("banner", protocol="imap") as imap:
        point_both(box, host, smtp_side.port, imap.port)
        response = client_for(owner).post(f"/api/mailboxes/{box.id}/test/")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid"
    assert set(body["fields"]) == {"smtp_host", "imap_host"}
    assert "refused" in body["detail"] or "not a host name" in body["detail"]
    assert b"NATS" not in response.content and b"INFO" not in response.content
    assert smtp_side.connections == imap.connections == 0


def test_another_services_banner_is_named_never_quoted() -> None:
    """In a lab (private hosts allowed) the test reaches the port, and says only that
    what answered is not SMTP or IMAP."""
    owner = user("alice")
    box = mailbox_of(owner, 1)
    with HostileServer("banner") as smtp_side, HostileServer("banner", protocol="imap") as imap:
        point_both(box, "127.0.0.1", smtp_side.port, imap.port)
        response = client_for(owner).post(f"/api/mailboxes/{box.id}/test/")
    assert response.status_code == 200
    body = response.json()
    assert body["smtp"] == {"ok": False, "reply": "the server's reply is not SMTP"}
    assert body["imap"] == {
        "ok": False,
        "reply": "connection failed: the server's reply is not IMAP",
    }
    assert b"NATS" not in response.content and b"version" not in response.content


def test_one_deadline_for_the_whole_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server answering each SMTP line late and an IMAP server trickling a line every
    0.2 s: both logins run at once and the answer comes by the deadline."""
    monkeypatch.setattr(connection, "TIMEOUT_S", 2)
    owner = user("alice")
    box = mailbox_of(owner, 1)
    with (
        HostileServer("slow", delay_s=0.7) as smtp_side,
        HostileServer("slow", protocol="imap", delay_s=0.2) as imap,
    ):
        point_both(box, "127.0.0.1", smtp_side.port, imap.port)
        started = time.monotonic()
        response = client_for(owner).post(f"/api/mailboxes/{box.id}/test/")
        took = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["smtp"]["reply"] == response.json()["imap"]["reply"] == "timed out"
    assert took < 3, took  # not 2 s + 2 s, and not 45 s of trickle


def test_a_flood_costs_the_web_process_a_bounded_amount_of_memory() -> None:
    owner = user("alice")
    box = mailbox_of(owner, 1)
    tracemalloc.start()
    try:
        with (
            HostileServer("flood") as smtp_side,
            HostileServer("flood", protocol="imap") as imap,
        ):
            point_both(box, "127.0.0.1", smtp_side.port, imap.port)
            response = client_for(owner).post(f"/api/mailboxes/{box.id}/test/")
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    assert peak < 5 * 1024 * 1024, peak
    assert response.json()["imap"]["ok"] is False


def test_connection_tests_are_throttled_per_user() -> None:
    owner = user("alice")
    box = mailbox_of(owner, 1)
    with HostileServer("banner") as smtp_side, HostileServer("banner", protocol="imap") as imap:
        point_both(box, "127.0.0.1", smtp_side.port, imap.port)
        client = client_for(owner)
        codes = [client.post(f"/api/mailboxes/{box.id}/test/").status_code for _ in range(11)]
        others = client_for(user("bob")).post(
            f"/api/mailboxes/{mailbox_of(user('carol'), 2).id}/test/"
        )
    assert codes == [200] * 10 + [429]
    assert others.status_code == 404  # bob's own budget is whole; carol's mailbox is hidden


def test_a_process_runs_two_tests_at_once_and_refuses_a_third_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection, "TIMEOUT_S", 1.5)
    box = mailbox_of(user("alice"), 1)
    outcomes: list[str] = []

    def run() -> None:
        started = time.monotonic()
        try:
            connection.try_logins(box, timezone.now())
            outcomes.append("ran")
        except connection.ConnectionTestsBusy:
            outcomes.append(f"busy after {time.monotonic() - started:.2f}s")

    with HostileServer("silent") as smtp_side, HostileServer("silent", protocol="imap") as imap:
        box.smtp_host = box.imap_host = "127.0.0.1"
        box.smtp_port, box.imap_port = smtp_side.port, imap.port
        box.smtp_security = box.imap_security = "none"
        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
            time.sleep(0.1)
        for thread in threads:
            thread.join()
    assert outcomes.count("ran") == 2, outcomes
    (busy,) = [o for o in outcomes if o != "ran"]
    assert busy.startswith("busy") and float(busy.split()[-1].rstrip("s")) < 0.5, outcomes


def test_eight_tests_at_a_silent_server_leave_gunicorn_answering(
    transactional_db: Any, make_mailbox: Any
) -> None:
    """gunicorn as deployed (2 processes × 4 threads): eight connection tests at a silent
    server at once hold at most two threads per process; /healthz keeps answering while
    they wait. (benchmarks/hostile_servers.py measures how fast.)"""
    from django.conf import settings

    from tests.test_deployment import bearer, gunicorn, make_user_with_mailbox, request

    username, password = make_user_with_mailbox(make_mailbox)
    box = Mailbox.objects.get(owner__username=username)
    with (
        HostileServer("silent") as smtp_side,
        HostileServer("silent", protocol="imap") as imap,
        gunicorn(
            overrides={
                "WARMUP_ALLOW_PRIVATE_HOSTS": "true",
                "WARMUP_SECRET_KEYS": ",".join(settings.WARMUP.secret_keys),
            }
        ) as port,
    ):
        point_both(box, "127.0.0.1", smtp_side.port, imap.port)
        auth = bearer(port, username, password)
        answers: list[int] = []

        def test_once() -> None:
            answers.append(request(port, "POST", f"/api/mailboxes/{box.id}/test/", headers=auth)[0])

        callers = [threading.Thread(target=test_once) for _ in range(8)]
        for caller in callers:
            caller.start()
        health: list[int] = []
        while len([a for a in answers if a == 200]) == 0 and len(health) < 200:
            health.append(request(port, "GET", "/healthz")[0])
            time.sleep(0.05)
        for caller in callers:
            caller.join()
    assert sorted(set(answers)) <= [200, 429] and answers.count(200) <= 4, answers
    assert smtp_side.connections == answers.count(200)  # the refused ones reached nothing
    # /healthz answered again and again while the tests held their threads.
    assert len(health) >= 20 and set(health) == {200}, health
