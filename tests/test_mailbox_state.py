"""A mailbox's state through every door: resumed through the API, an admin action or the
admin form after the circuit breaker stopped it, it starts again from zero failures, so
its next 5xx does not put it straight back in `error`.

The mailbox is stopped and judged by the engine's own recording (record_results) on
PostgreSQL; the doors are the real API (JWT) and the real admin (Django's test client)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
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
