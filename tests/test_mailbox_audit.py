"""Every change a person makes to a mailbox's state leaves an AuditEvent, written in the
transaction that makes the change: the API, the admin actions and the admin form alike."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import IntegrityError, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import status as mailbox_status
from accounts.models import Actor, AuditEvent, Mailbox
from tests.test_admin import form_of, mailbox_url, run_action
from tests.test_mailbox_state import DOORS, FAILURES, fail
from tests.test_record import NOW

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("resume", DOORS)
def test_each_door_audits_the_resume(
    resume: Callable[[Mailbox, Any, Client], None],
    make_mailbox: Any,
    owner: Any,
    admin_client: Client,
    admin_user: Any,
) -> None:
    sender, recipient = make_mailbox(smtp_password="smtp-plain-Xq9"), make_mailbox()
    fail(sender, recipient, FAILURES, first_slot=0)
    assert not AuditEvent.objects.exists()  # the engine's stops are not a person's

    resume(sender, owner, admin_client)

    (event,) = AuditEvent.objects.all()
    through_api = resume.__name__.endswith("api")
    assert event.actor == (owner if through_api else admin_user)
    assert event.actor_name == event.actor.get_username()
    assert (event.action, event.target_type, event.target_id) == (
        "mailbox.resume",
        "mailbox",
        str(sender.id),
    )
    assert event.remote_addr == ("127.0.0.1" if through_api else None)
    reason = f"{FAILURES} sends failed in a row; last: 550 5.1.1 no such user"
    assert event.detail == {
        "via": "api" if through_api else "admin",
        "email": sender.email,
        "status": [mailbox_status.ERROR, mailbox_status.ACTIVE],
        "status_reason": [reason, ""],
        "consecutive_failures": [FAILURES, 0],
    }
    assert event.created_at == Mailbox.objects.get(id=sender.id).status_changed_at
    assert "Xq9" not in json.dumps(event.detail)


def test_a_pause_through_the_api_is_audited_once(make_mailbox: Any, owner: Any) -> None:
    box = make_mailbox()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")

    for _ in range(2):
        paused = client.post(f"/api/mailboxes/{box.id}/pause/").json()

    assert (paused["status"], paused["status_reason"]) == ("paused", f"paused by {owner}")
    (event,) = AuditEvent.objects.all()  # the second pause changed nothing
    assert event.action == "mailbox.pause"
    assert event.detail["status"] == ["active", "paused"]


def test_a_status_set_in_the_admin_form_is_audited(admin_client: Client, make_mailbox: Any) -> None:
    box = make_mailbox()

    admin_client.post(mailbox_url("change", box.pk), form_of(box, daily_max=60))
    assert not AuditEvent.objects.exists()  # settings only: no state change
    admin_client.post(mailbox_url("change", box.pk), form_of(box, status="disabled"))

    (event,) = AuditEvent.objects.all()
    assert (event.action, event.detail["via"]) == ("mailbox.disable", "admin")
    assert event.detail["status_reason"] == ["", "set to disabled by admin in admin"]
    # The admin keeps its own history of the form, as of every admin change.
    assert LogEntry.objects.filter(object_id=str(box.pk), action_flag=CHANGE).count() == 2


def test_an_admin_action_audits_each_changed_mailbox_in_a_few_statements(
    admin_client: Client, make_mailbox: Any
) -> None:
    def resume_all(count: int) -> int:
        boxes = [make_mailbox(status=mailbox_status.PAUSED) for _ in range(count)]
        boxes.append(make_mailbox())  # active already: neither changed nor audited
        with CaptureQueriesContext(connection) as queries:
            response = run_action(admin_client, "resume", boxes)
        assert f"Resumed {count} mailboxes." in response.content.decode()
        changed = {str(box.id) for box in boxes[:-1]}
        assert set(AuditEvent.objects.values_list("target_id", flat=True)) == changed
        logged = LogEntry.objects.filter(action_flag=CHANGE).values_list("object_id", flat=True)
        assert set(logged) == changed
        AuditEvent.objects.all().delete()
        LogEntry.objects.all().delete()
        return len(queries)

    assert resume_all(3) == resume_all(30)


@pytest.mark.django_db(transaction=True)
def test_a_change_and_its_audit_are_one_transaction(
    make_mailbox: Any, django_user_model: Any
) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    fail(sender, recipient, FAILURES, first_slot=0)
    # A user the database does not know: the audit row's foreign key fails when the
    # transaction commits, after the UPDATE of the mailbox ran.
    ghost = django_user_model(id=10**9, username="ghost")

    with pytest.raises(IntegrityError):
        sender.resume(Actor(ghost, "api"), NOW)

    sender.refresh_from_db()
    assert (sender.status, sender.consecutive_failures) == (mailbox_status.ERROR, FAILURES)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_resume_waits_for_the_engine_and_resumes_what_it_stopped(
    make_mailbox: Any, owner: Any
) -> None:
    """The engine records in a transaction holding the mailbox row; a resume made
    meanwhile waits for it and then judges the row as the engine left it. Read without the
    lock, the mailbox would look active with no failures (nothing to resume) and be left
    in `error` once the engine commits."""
    box = make_mailbox()
    table = Mailbox._meta.db_table
    held, release = threading.Event(), threading.Event()

    def engine_stops_it() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [box.id])
                cursor.execute(
                    f"UPDATE {table} SET status = 'error', consecutive_failures = %s WHERE id = %s",
                    [FAILURES, box.id],
                )
                held.set()
                release.wait(10)
                cursor.execute("COMMIT")
        finally:
            other.close()

    resumed: list[bool] = []

    def resume() -> None:
        try:
            resumed.append(Mailbox.objects.get(id=box.id).resume(Actor(owner, "api"), NOW))
        finally:
            connection.close()  # this thread's own connection

    engine = threading.Thread(target=engine_stops_it)
    engine.start()
    person = threading.Thread(target=resume)
    try:
        assert held.wait(10)
        person.start()
        assert waiting_for_a_lock(within_s=10)
    finally:
        release.set()
        engine.join()
        if person.is_alive() or person.ident:
            person.join()

    assert resumed == [True]
    box.refresh_from_db()
    assert (box.status, box.consecutive_failures) == (mailbox_status.ACTIVE, 0)
    (event,) = AuditEvent.objects.all()
    assert event.detail["consecutive_failures"] == [FAILURES, 0]


def waiting_for_a_lock(within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def test_a_mailbox_created_paused_in_the_admin_is_audited(admin_client: Client, owner: Any) -> None:
    from tests.test_admin import mailbox_form

    response = admin_client.post(
        mailbox_url("add"),
        mailbox_form(
            owner, status=mailbox_status.PAUSED, smtp_password="s-pw", imap_password="i-pw"
        ),
    )

    assert response.status_code == 302
    box = Mailbox.objects.get(email="new.box@example.test")
    assert box.status == mailbox_status.PAUSED
    assert box.status_reason == "set to paused by admin in admin"
    (event,) = AuditEvent.objects.filter(target_id=str(box.pk))
    assert event.detail["status"] == [mailbox_status.ACTIVE, mailbox_status.PAUSED]
