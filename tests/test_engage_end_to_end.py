"""End to end: the engine sends through a real SMTP server (aiosmtpd), the mail is
delivered into a real Dovecot (LMTP into the inbox; every third message APPENDed to
Junk, as a spam filter would) with the receiver's Authentication-Results on top (Gmail's
pass, or Microsoft's DMARC fail for one sender's mail), engagement reads it over IMAP (a
pool of sessions), placement, the receivers' verdicts and deliverability appear in the
API, and the replies it planned go out through the repliers' own SMTP as threaded
replies."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Mailbox
from accounts.transport.sink import SinkServer
from tests import dovecot
from tests.test_engine_smtp import engine_for
from tests.warmup_mail import mailbox_on
from warmup.engine import content
from warmup.engine.engage import engage_pass
from warmup.engine.planner import plan_cycle
from warmup.models import DailyStat, Placement, SendLog, SendStatus

pytestmark = pytest.mark.skipif(
    not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"
)

DAY_START = dt.datetime(2026, 11, 28, 0, 0, tzinfo=dt.UTC)
LATE = DAY_START + dt.timedelta(hours=23)
DOMAINS = ["alpha.test", "beta.test", "gamma.test", "delta.test"]
GMAIL = (
    "Authentication-Results: mx.google.com;\r\n"
    "       dkim=pass header.i=@{d} header.s=s1 header.b=Ab12;\r\n"
    "       spf=pass (google.com: domain of {a} designates 127.0.0.1 as permitted sender)"
    " smtp.mailfrom={a};\r\n"
    "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from={d}\r\n"
)
MICROSOFT = (
    "Authentication-Results: spf=pass (sender IP is 127.0.0.1)\r\n"
    " smtp.mailfrom={d}; dkim=fail (signature did not verify)\r\n"
    " header.d={d};dmarc=fail action=quarantine\r\n"
    " header.from={d};compauth=fail reason=000\r\n"
)


def test_send_deliver_engage_score_and_reply(transactional_db: Any, django_user_model: Any) -> None:
    owners = [django_user_model.objects.create_user(f"o{n}") for n in range(2)]
    users = {
        f"box{n}@{DOMAINS[n % 4]}": f"pass-{n}-{random.Random(n).randrange(10**9)}"
        for n in range(8)
    }
    with SinkServer(users=users) as smtp, dovecot.Dovecot(users) as imap:
        boxes = [
            mailbox_on(
                smtp, imap, owners[n % 2], email, start_volume=6, daily_max=20, reply_rate=0.5
            )
            for n, email in enumerate(users)
        ]
        plan_cycle(DAY_START, floor=6, margin=dt.timedelta(minutes=15))
        sent = engine_for(LATE, tag_mode="header").run_cycle(plan=False)
        assert sent.outcomes["sent"] == 8 * 6 == len(smtp.received)
        failing = boxes[2].email  # its mail fails DMARC wherever it lands
        for n, got in enumerate(smtp.received):  # the MTA's part
            shape = MICROSOFT if got.mail_from == failing else GMAIL
            data = (
                shape.format(a=got.mail_from, d=got.mail_from.partition("@")[2]).encode() + got.data
            )
            if n % 3 == 2:
                imap.append(got.rcpt_tos[0], "Junk", data)
            else:
                imap.deliver(got.rcpt_tos[0], data)

        stats = engage_pass(
            LATE,
            settings.SECRET_KEY,
            concurrency=4,
            every=dt.timedelta(minutes=15),
            allow_private=True,  # Dovecot on loopback
        )

        assert stats.mailboxes == 8 and not [r.error for r in stats.results if r.error]
        assert (stats.total("placed"), stats.total("spam"), stats.total("filed")) == (48, 16, 48)
        placed = SendLog.objects.filter(in_reply_to__isnull=True)
        assert placed.filter(placement=Placement.INBOX).count() == 32
        assert placed.filter(placement=Placement.SPAM).count() == 16
        # Deliverability as senders: 6 placements each, two thirds in the inbox or so.
        scored = list(Mailbox.objects.exclude(deliverability_score=None))
        assert len(scored) == 8
        owner_box = boxes[0]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owners[0])}")
        shown = client.get(f"/api/mailboxes/{owner_box.id}/").json()
        owner_box.refresh_from_db()
        assert shown["deliverability_score"] == owner_box.deliverability_score is not None
        assert shown["inbox_rate_7d"] == owner_box.inbox_rate_7d
        # The receivers' verdicts, per send and as each sender's pass rate.
        verdicts = placed.values_list("sender__email", "auth_spf", "auth_dkim", "auth_dmarc")
        assert {(e == failing, spf, dkim, dmarc) for e, spf, dkim, dmarc in verdicts} == {
            (True, "pass", "fail", "fail"),
            (False, "pass", "pass", "pass"),
        }
        assert placed.filter(auth_receiver="mx.google.com").count() == 42
        days = DailyStat.objects.filter(mailbox__in=boxes)
        assert sum(d.dmarc_pass for d in days) == 42 and sum(d.dmarc_fail for d in days) == 6
        for box in Mailbox.objects.all():
            assert (box.auth_pass_rate_7d, box.dmarc_flagged) == (
                (0.0, True) if box.email == failing else (1.0, False)
            )
        shown = client.get(f"/api/mailboxes/{boxes[2].id}/").json()  # owners[0] too
        assert (shown["auth_pass_rate_7d"], shown["dmarc_flagged"]) == (0.0, True)

        # The replies engagement planned go out through the repliers' own accounts.
        planned = list(SendLog.objects.filter(in_reply_to__isnull=False))
        assert planned and stats.total("replies") == len(planned)
        before = len(smtp.received)
        replied = engine_for(LATE + dt.timedelta(minutes=58), tag_mode="header").run_cycle(
            plan=False
        )
        assert replied.outcomes["sent"] == len(planned)
        for got in smtp.received[before:]:
            message = got.message
            slot = SendLog.objects.select_related("in_reply_to", "sender").get(
                id=content.slot_id_of(message[content.TOKEN_HEADER], settings.SECRET_KEY)
            )
            original = slot.in_reply_to
            assert got.login == slot.sender.email == got.mail_from  # its own SMTP login
            assert original.sender.email == got.rcpt_tos[0]
            assert message["In-Reply-To"] == original.message_id
            assert original.message_id in message["References"]
            assert message["Subject"].startswith("Re: ")
            assert slot.status == SendStatus.SENT and slot.thread_id == original.message_id
