"""The receivers' verdicts through engagement, against a real Dovecot: warmup messages
carry the Authentication-Results their receiving server added on top (Gmail's,
Microsoft's, rspamd's, OpenDMARC's, ARC only, malformed, none), engagement reads them in
its FETCH and records each send's verdicts once, its sender's DMARC counters once, and
the senders' pass rate and DMARC flag, which the mailbox API shows, read-only."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Mailbox
from accounts.transport import imap
from tests import dovecot
from tests.test_engage import TODAY, imap_box, run, sent
from warmup.engine.deliverability import (
    DMARC_FLAG_MIN_JUDGED,
    DMARC_FLAG_RATE,
    assess_authentication,
)
from warmup.models import DailyStat, Placement, SendLog

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"),
]

# What each receiver prepends, as its MTA would, for a message From `{d}`.
GMAIL_PASS = (
    "Authentication-Results: mx.google.com;\r\n"
    "       dkim=pass header.i=@{d} header.s=s2026 header.b=AbCdEf12;\r\n"
    "       spf=pass (google.com: domain of box@{d} designates 203.0.113.5 as permitted"
    " sender) smtp.mailfrom=box@{d};\r\n"
    "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from={d}\r\n"
)
MICROSOFT_FAIL = (
    "Authentication-Results: spf=fail (sender IP is 198.51.100.7)\r\n"
    " smtp.mailfrom={d}; dkim=fail (signature did not verify)\r\n"
    " header.d={d};dmarc=fail action=quarantine\r\n"
    " header.from={d};compauth=fail reason=000\r\n"
)
RSPAMD_PASS = (
    "Authentication-Results: mx.rspamd.test;\r\n"
    "\tdkim=pass header.d={d} header.s=dkim header.b=Ab12;\r\n"
    '\tspf=pass (mx.rspamd.test: domain of "box@{d}" designates 203.0.113.5 as permitted'
    ' sender) smtp.mailfrom="box@{d}";\r\n'
    "\tdmarc=pass (policy=none) header.from={d}\r\n"
)
OPENDMARC_FAIL = (
    "Authentication-Results: mx.rspamd.test; dmarc=fail (p=reject dis=none) header.from={d}\r\n"
    "Authentication-Results: mx.rspamd.test; spf=softfail smtp.mailfrom={d}\r\n"
)
OUTLOOK_UNJUDGED = (
    "Authentication-Results: spf=temperror (sender IP is 203.0.113.5)\r\n"
    " smtp.mailfrom={d}; dkim=none (message not signed)\r\n"
    " header.d=none;dmarc=none action=none header.from={d};\r\n"
)
ARC_ONLY_PASS = (
    "ARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=pass (sender ip is\r\n"
    " 203.0.113.5) smtp.rcpttodomain=inbox.test smtp.mailfrom={d};\r\n"
    " dmarc=bestguesspass action=none header.from={d}; dkim=none (message not signed);\r\n"
    " arc=none\r\n"
)
MALFORMED = "Authentication-Results: ;;; ((not a header\r\n"
# What a sender might carry in its own message (a forgery, or its relay's header): below
# the receiver's, so never believed.
FORGED = "Authentication-Results: mx.google.com; spf=pass; dkim=pass; dmarc=pass\r\n"


def received(data: bytes, on_top: str, sender: Mailbox) -> bytes:
    domain = sender.email.partition("@")[2]
    return on_top.format(d=domain).encode() + data


def test_verdicts_counters_rates_and_flags(
    make_mailbox: Any, owner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imap, "FETCH_CHUNK", 4)  # the inbox's messages over several FETCHes
    reader_email = "reader@inbox.test"
    with dovecot.Dovecot({reader_email: "reader-pass"}) as server:
        reader = imap_box(make_mailbox, server, reader_email, reply_rate=0.0)
        good = make_mailbox(email="good@good.test")
        bad = make_mailbox(email="bad@bad.test")
        mixed = make_mailbox(email="mixed@mixed.test")
        few = make_mailbox(email="few@few.test")
        quiet = make_mailbox(email="quiet@quiet.test")
        plan: list[tuple[Mailbox, str, str]] = []  # (sender, header on top, folder)
        plan += [(good, GMAIL_PASS, "Junk" if n < 2 else "INBOX") for n in range(6)]
        plan += [(good, ARC_ONLY_PASS, "INBOX")]
        plan += [(bad, MICROSOFT_FAIL, "INBOX") for _ in range(6)]
        plan += [(mixed, RSPAMD_PASS, "INBOX") for _ in range(4)]
        plan += [(mixed, OPENDMARC_FAIL, "INBOX")]
        plan += [(few, MICROSOFT_FAIL, "INBOX") for _ in range(DMARC_FLAG_MIN_JUDGED - 1)]
        plan += [(quiet, OUTLOOK_UNJUDGED, "INBOX"), (quiet, MALFORMED, "INBOX")]
        plan += [(quiet, "", "INBOX")]  # no header at all
        slots: dict[str, list[SendLog]] = {}
        counter: dict[int, int] = {}
        copy_later = b""
        for sender, on_top, folder in plan:
            slot_no = counter[sender.id] = counter.get(sender.id, -1) + 1
            slot, data = sent(sender, reader, slot_no)
            if sender is bad:  # its own message carries a forged pass, below
                data = FORGED.encode() + data
            slots.setdefault(sender.email, []).append(slot)
            message = received(data, on_top, sender)
            if folder == "Junk":
                server.append(reader_email, "Junk", message)
            else:
                server.deliver(reader_email, message)
            if sender is bad and not copy_later:
                copy_later = received(data, GMAIL_PASS, sender)

        (done,) = run(mailbox_id=reader.id).results

        assert done.error == "" and done.placed == len(plan)
        # Every send but the malformed one's and the bare one's got verdicts.
        assert done.judged == len(plan) - 2

        def stored(email: str) -> list[tuple[str, str, str, str]]:
            return [
                (s.auth_spf, s.auth_dkim, s.auth_dmarc, s.auth_receiver)
                for s in SendLog.objects.filter(id__in=[x.id for x in slots[email]]).order_by("id")
            ]

        gmail = ("pass", "pass", "pass", "mx.google.com")
        assert stored(good.email) == [gmail] * 6 + [
            ("pass", "none", "bestguesspass", "mx.microsoft.com")
        ]
        assert SendLog.objects.filter(id=slots[good.email][0].id, placement=Placement.SPAM).exists()
        assert stored(bad.email) == [("fail", "fail", "fail", "")] * 6  # never the forgery
        assert stored(mixed.email) == [("pass", "pass", "pass", "mx.rspamd.test")] * 4 + [
            ("softfail", "", "fail", "mx.rspamd.test")
        ]
        assert stored(quiet.email) == [("temperror", "none", "none", ""), ("",) * 4, ("",) * 4]

        def day(box: Mailbox) -> tuple[int, int]:
            row = DailyStat.objects.filter(mailbox=box, date=TODAY).first()
            return (row.dmarc_pass, row.dmarc_fail) if row else (0, 0)

        assert day(good) == (7, 0)  # bestguesspass counts as a pass
        assert day(bad) == (0, 6)
        assert day(mixed) == (4, 1)
        assert day(few) == (0, DMARC_FLAG_MIN_JUDGED - 1)
        assert day(quiet) == (0, 0)  # none and temperror are no judgement
        assert day(reader) == (0, 0)

        def figures(box: Mailbox) -> tuple[float | None, bool]:
            box.refresh_from_db()
            return box.auth_pass_rate_7d, box.dmarc_flagged

        assert figures(good) == (1.0, False)
        assert figures(bad) == (0.0, True)
        assert DMARC_FLAG_RATE <= 4 / 5 and figures(mixed) == (0.8, False)  # on the line
        assert figures(few) == (0.0, False)  # too few judged to flag
        assert figures(quiet) == (None, False)
        # The selector Gmail saw signing good's own domain is kept for its DKIM check.
        from warmup.models import ReputationTarget

        kept = ReputationTarget.objects.get(name=good.domain).dkim_selectors
        assert "s2026" in kept

        # A copy of a message already judged, with another verdict on top: the first
        # reading stands and its sender's day is not counted twice.
        server.deliver(reader_email, copy_later)
        (again,) = run(mailbox_id=reader.id).results
        assert again.error == "" and again.inbox == 1 and again.judged == 0
        assert stored(bad.email) == [("fail", "fail", "fail", "")] * 6
        assert day(bad) == (0, 6) and figures(bad) == (0.0, True)


def test_the_api_shows_the_figures_read_only(make_mailbox: Any, owner: Any) -> None:
    box = make_mailbox(email="shown@shown.test")
    Mailbox.objects.filter(id=box.id).update(auth_pass_rate_7d=0.25, dmarc_flagged=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    shown = client.get(f"/api/mailboxes/{box.id}/").json()
    assert (shown["auth_pass_rate_7d"], shown["dmarc_flagged"]) == (0.25, True)
    changed = client.patch(
        f"/api/mailboxes/{box.id}/",
        {"auth_pass_rate_7d": 1.0, "dmarc_flagged": False, "reply_rate": 0.2},
        format="json",
    )
    assert changed.status_code == 200
    box.refresh_from_db()
    assert (box.auth_pass_rate_7d, box.dmarc_flagged, box.reply_rate) == (0.25, True, 0.2)


@pytest.mark.parametrize(
    ("passed", "failed", "expected"),
    [
        (0, 0, (None, False)),
        (3, 0, (1.0, False)),
        (0, DMARC_FLAG_MIN_JUDGED - 1, (0.0, False)),
        (0, DMARC_FLAG_MIN_JUDGED, (0.0, True)),
        (4, 1, (0.8, False)),
        (7, 3, (0.7, True)),
        (79, 21, (0.79, True)),
    ],
)
def test_assess_authentication(passed: int, failed: int, expected: tuple[Any, bool]) -> None:
    assert assess_authentication(passed, failed) == expected
