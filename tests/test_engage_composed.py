"""The engine's own messages, in every WARMUP_TAG_MODE, found by engagement: the engine
composes and sends through a real SMTP server (aiosmtpd), the mail is delivered into a
real Dovecot (every third message into Junk), beside a user's own mail from the same
sender addresses; engagement places every warmup message, rescues the spam ones, and
leaves the user's mail where it was, unflagged. (tests/test_engage_unmarked.py builds the
messages of each mode by hand; this is the same promise for what the composer writes.)"""

from __future__ import annotations

import datetime as dt
import email
from typing import Any

import pytest
from django.conf import settings

from accounts.transport.sink import SinkServer
from tests import dovecot
from tests.test_engage_unmarked import folders, message
from tests.test_engine_smtp import engine_for
from tests.warmup_mail import mailbox_on
from warmup.engine import content
from warmup.engine.engage import engage_pass
from warmup.engine.planner import plan_cycle
from warmup.models import Placement, SendLog

pytestmark = pytest.mark.skipif(
    not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"
)

DAY_START = dt.datetime(2026, 11, 28, 0, 0, tzinfo=dt.UTC)
LATE = DAY_START + dt.timedelta(hours=23)


@pytest.mark.parametrize("mode", ["none", "header", "body", "subject"])
def test_composed_mail_is_found_in_every_tag_mode(
    transactional_db: Any, django_user_model: Any, mode: str
) -> None:
    owners = [django_user_model.objects.create_user(f"o{n}") for n in range(2)]
    users = {f"box{n}@d{n}.test": f"pass-{n}-{mode}" for n in range(4)}
    with SinkServer(users=users) as smtp, dovecot.Dovecot(users) as imap:
        for n, address in enumerate(users):
            mailbox_on(
                smtp, imap, owners[n % 2], address, start_volume=5, daily_max=20, reply_rate=0.0
            )
        plan_cycle(DAY_START, floor=5, margin=dt.timedelta(minutes=15))
        sent = engine_for(LATE, tag_mode=mode).run_cycle(plan=False)
        assert sent.outcomes["sent"] == 4 * 5 == len(smtp.received)
        users_own = set()
        for n, got in enumerate(smtp.received):
            parsed = email.message_from_bytes(got.data)
            marks = {
                "header": content.TOKEN_HEADER in parsed,
                "body": "Ref wu" in got.data.decode(errors="replace"),
                "subject": "[wu" in parsed["Subject"],
            }
            assert [m for m, there in marks.items() if there] == ([] if mode == "none" else [mode])
            folder = "Junk" if n % 3 == 2 else "INBOX"
            imap.append(got.rcpt_tos[0], folder, got.data)
            # A person's own message from the same sender, in the same folder.
            message_id, data = message(got.mail_from, got.rcpt_tos[0], subject="Lunch?")
            imap.append(got.rcpt_tos[0], folder, data)
            users_own.add(message_id)

        stats = engage_pass(
            LATE,
            settings.SECRET_KEY,
            concurrency=2,
            every=dt.timedelta(minutes=15),
            allow_private=True,
        )

        assert not [r.error for r in stats.results if r.error]
        placed = SendLog.objects.exclude(placement=Placement.NOT_SEEN)
        assert placed.count() == 20 and stats.total("placed") == 20
        assert placed.filter(placement=Placement.SPAM).count() == stats.total("spam") == 6
        for address in users:
            for folder, messages in folders(imap, address).items():
                for message_id, flags in messages.items():
                    if message_id in users_own:
                        assert folder in ("INBOX", "Junk") and not flags, (folder, flags)
                    else:  # ours: filed and marked
                        assert folder.endswith("Warmup") and b"\\Seen" in flags
