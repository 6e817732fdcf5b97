"""A mailbox's state through every door: resumed through the API, an admin action or the
admin form after the circuit breaker stopped it, it starts again from zero failures, so
its next 5xx does not put it straight back in `error`.

The mailbox is stopped and judged by the engine's own recording (record_results) on
PostgreSQL; the doors are the real API (JWT) and the real admin (Django's test client)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import status as mailbox_status
from accounts.models import Mailbox
from accounts.transport.smtp import Outcome
from tests.test_admin import form_of, mailbox_url, run_action
from tests.test_record import NOW, claimed, outcome
from warmup.engine.record import record_results

pytestmark = pytest.mark.django_db

FAILURES = 10  # the circuit breaker's count: ten hard failures in a row stop a mailbox


def fail(sender: Mailbox, recipient: Mailbox, count: int, first_slot: int) -> None:
    """`count` sends of `sender` refused with a 5xx, recorded as the engine records them."""
    sends = [
        outcome(slot, recipient, Outcome.FAILED, 550, "550 5.1.1 no such user")
        for slot in claimed(sender, count, first=first_slot)
    ]
    record_results(NOW, sends, random.Random(1))


def resume_through_the_api(box: Mailbox, owner: Any, admin_client: Client) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    response = client.post(f"/api/mailboxes/{box.id}/resume/")
    assert response.status_code == 200, response.content


def resume_through_the_admin_action(box: Mailbox, owner: Any, admin_client: Client) -> None:
    response = run_action(admin_client, "resume", [box])
    assert "Resumed 1 mailbox." in response.content.decode()


def resume_through_the_admin_form(box: Mailbox, owner: Any, admin_client: Client) -> None:
    response = admin_client.post(mailbox_url("change", box.pk), form_of(box, status="active"))
    assert response.status_code == 302, response.context["adminform"].form.errors


DOORS = [
    resume_through_the_api,
    resume_through_the_admin_action,
    resume_through_the_admin_form,
]


@pytest.mark.parametrize("resume", DOORS)
def test_resumed_after_ten_failures_its_next_5xx_does_not_stop_it(
    resume: Callable[[Mailbox, Any, Client], None],
    make_mailbox: Any,
    owner: Any,
    admin_client: Client,
) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    fail(sender, recipient, FAILURES, first_slot=0)
    sender.refresh_from_db()
    assert (sender.status, sender.consecutive_failures) == (mailbox_status.ERROR, FAILURES)

    resume(sender, owner, admin_client)

    assert Mailbox.objects.get(id=sender.id).status == mailbox_status.ACTIVE
    fail(sender, recipient, 1, first_slot=FAILURES)
    sender.refresh_from_db()
    assert sender.status == mailbox_status.ACTIVE, sender.status_reason
    assert (sender.consecutive_failures, sender.status_reason) == (1, "")


@pytest.mark.parametrize("resume", DOORS)
def test_resuming_lifts_an_engagement_pause(
    resume: Callable[[Mailbox, Any, Client], None],
    make_mailbox: Any,
    owner: Any,
    admin_client: Client,
) -> None:
    box = make_mailbox(status=mailbox_status.PAUSED, status_reason="paused by someone")
    Mailbox.objects.filter(id=box.id).update(engagement_paused_reason="IMAP login refused")

    resume(box, owner, admin_client)

    box.refresh_from_db()
    assert (box.status, box.engagement_paused_reason) == (mailbox_status.ACTIVE, "")


# The engine's side: a person's pause stands, and an edit never undoes a stop.


def test_the_engine_counts_failures_but_keeps_a_persons_pause(make_mailbox: Any) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    Mailbox.objects.filter(id=sender.id).update(
        status=mailbox_status.PAUSED, status_reason="paused by alice"
    )

    fail(sender, recipient, FAILURES, first_slot=0)

    sender.refresh_from_db()
    assert (sender.status, sender.status_reason) == (mailbox_status.PAUSED, "paused by alice")
    assert sender.consecutive_failures == FAILURES


def test_the_engine_stops_only_active_mailboxes_with_an_error(make_mailbox: Any) -> None:
    active = make_mailbox()
    paused = make_mailbox(status=mailbox_status.PAUSED, status_reason="paused by alice")

    stopped = Mailbox.objects.filter(id__in=[active.id, paused.id]).stop_with_error(
        "SMTP password unreadable", NOW
    )

    assert stopped == 1
    active.refresh_from_db()
    paused.refresh_from_db()
    assert (active.status, active.status_reason, active.status_changed_at) == (
        mailbox_status.ERROR,
        "SMTP password unreadable",
        NOW,
    )
    assert (paused.status, paused.status_reason) == (mailbox_status.PAUSED, "paused by alice")


def test_saving_settings_never_undoes_a_stop_made_meanwhile(make_mailbox: Any) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    edited = Mailbox.objects.get(id=sender.id)  # loaded by a form, active
    fail(sender, recipient, FAILURES, first_slot=0)  # the engine stops it meanwhile

    edited.daily_max = 60
    edited.save_settings()

    sender.refresh_from_db()
    assert sender.daily_max == 60
    assert (sender.status, sender.consecutive_failures) == (mailbox_status.ERROR, FAILURES)


def test_a_new_imap_password_through_the_api_lifts_the_engagement_pause(
    make_mailbox: Any, owner: Any
) -> None:
    box = make_mailbox()
    box.pause_engagement("IMAP login refused")
    assert Mailbox.objects.get(id=box.id).engagement_paused_reason == "IMAP login refused"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")

    client.patch(f"/api/mailboxes/{box.id}/", {"daily_max": 40}, format="json")
    assert Mailbox.objects.get(id=box.id).engagement_paused_reason == "IMAP login refused"
    client.patch(f"/api/mailboxes/{box.id}/", {"imap_password": "a-new-one"}, format="json")

    box.refresh_from_db()
    assert (box.engagement_paused_reason, box.imap_password) == ("", "a-new-one")


@pytest.mark.django_db(transaction=True)
def test_recording_locks_a_batchs_mailboxes_in_id_order_as_a_person_does(
    make_mailbox: Any,
) -> None:
    """A person's bulk change locks mailboxes in id order. Recording must too, over the
    whole batch: if it held a later mailbox (one whose sends went through after failures)
    while it waited for an earlier one (a failure to judge), a person's change holding
    the earlier and reaching for the later would deadlock with it."""
    recipient = make_mailbox()
    earlier, later = make_mailbox(), make_mailbox()  # ids in this order
    Mailbox.objects.filter(id=later.id).update(consecutive_failures=3)
    sends = [
        outcome(claimed(later, 1)[0], recipient, Outcome.SENT, 250, "250 ok"),
        outcome(claimed(earlier, 1)[0], recipient, Outcome.FAILED, 550, "550 5.1.1 no"),
    ]
    errors: list[BaseException] = []

    def record() -> None:
        try:
            record_results(NOW, sends, random.Random(1))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    recording = threading.Thread(target=record)
    with transaction.atomic():  # a person's change, holding the earlier mailbox
        Mailbox.objects.select_for_update().get(id=earlier.id)
        recording.start()
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_on_a_lock(), "recording never reached the held mailbox"
        # The person's change goes on to the later mailbox: free, because recording
        # takes the batch's mailboxes in id order and waits at the earlier one.
        Mailbox.objects.select_for_update(nowait=True).get(id=later.id)
    recording.join(10)
    assert not recording.is_alive() and not errors, errors
    assert Mailbox.objects.get(id=later.id).consecutive_failures == 0
    assert Mailbox.objects.get(id=earlier.id).consecutive_failures == 1


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        # Inside a transaction the statistics views keep their first snapshot: clear it.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0
