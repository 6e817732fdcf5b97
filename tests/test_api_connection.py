"""POST /api/mailboxes/{id}/test: real SMTP logins against aiosmtpd requiring AUTH, an
IMAP server that is not there, an unreadable secret; never a password in the answer."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import Mailbox
from tests import dovecot
from tests.test_api_mailboxes import client_for, mailbox_of, user
from warmup.transport.sink import SinkServer

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
