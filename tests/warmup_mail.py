"""A send the engine made, as its row and as the message it composed: for the tests and
benchmarks that put warmup mail into a real mailbox (tests/dovecot.py) to be engaged."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from accounts.models import Mailbox
from accounts.transport.sink import SinkServer
from tests.dovecot import Dovecot
from warmup.engine import content
from warmup.models import SendLog, SendStatus


def sent_message(
    sender: Mailbox, recipient: Mailbox, *, day: dt.date, slot_no: int, at: dt.datetime
) -> tuple[SendLog, bytes]:
    """Slot `slot_no` of the sender's `day`, sent at `at`, and its message's bytes."""
    slot = SendLog.objects.create(
        sender=sender,
        recipient=recipient,
        day=day,
        slot_no=slot_no,
        status=SendStatus.SENT,
        attempts=1,
        scheduled_at=at,
        timestamp=at,
        sent_at=at,
    )
    subject, topic = content.subject_for(sender.id, day, slot_no)
    message = content.compose(
        sender=content.Party(sender.email),
        recipient=content.Party(recipient.email),
        subject=subject,
        topic=topic,
        slot_id=slot.id,
        token=content.make_token(slot.id, settings.SECRET_KEY),
        # The default mode, nothing that marks it: engagement knows it by its Message-ID.
        now=at,
    )
    SendLog.objects.filter(id=slot.id).update(
        message_id=message.message_id, thread_id=message.message_id
    )
    slot.message_id = slot.thread_id = message.message_id
    return slot, message.data


def mailbox_on(
    smtp: SinkServer, imap: Dovecot, owner: object, email: str, **fields: object
) -> Mailbox:
    """A warmup mailbox that sends through `smtp` and reads over `imap` (both on
    loopback, no TLS) as `email` with its password there; sending all day (0-24 UTC)."""
    password = imap.users[email]
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "none",
        "smtp_username": email,
        "smtp_password": password,
        "imap_host": "127.0.0.1",
        "imap_port": imap.imap_port,
        "imap_security": "none",
        "imap_username": email,
        "imap_password": password,
        "window_start_hour": 0,
        "window_end_hour": 24,
    }
    return Mailbox.objects.create(owner=owner, email=email, **{**values, **fields})
