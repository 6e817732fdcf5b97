"""The engine's messages as a receiving server sees them (aiosmtpd on loopback): each in
its sender's language, unmarked by default, and each reply quoting its original word for
word, written again from the slot id, in the thread's language."""

import datetime as dt
import re
import zoneinfo

from accounts.models import Mailbox
from tests.test_engine_smtp import DAY_START, NOON, engine_for, network  # noqa: F401
from warmup.engine import content
from warmup.engine.cycle import CycleStats, load_network
from warmup.engine.planner import plan_cycle
from warmup.models import SendLog, SendStatus

EARLY = NOON - dt.timedelta(hours=6)
LANGUAGES = {"alpha.test": "de", "beta.test": "fr", "gamma.test": "es"}  # others: auto (en)
ATTRIBUTION = {
    "en": r"^On .* wrote:$",
    "de": r"^Am .* schrieb .*:$",
    "fr": r"^Le .* a écrit :$",
    "es": r"^El .* escribió:$",
}


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def test_replies_quote_their_originals_as_sent(network):  # noqa: F811
    server, boxes, _ = network
    for box in boxes:
        Mailbox.objects.filter(id=box.id).update(
            language=LANGUAGES.get(box.email.split("@")[1], "")
        )
        Mailbox.objects.filter(id=box.id).update(display_name=f"Person {box.id}")
    Mailbox.objects.filter(email__endswith="beta.test").update(timezone="Asia/Tokyo")
    plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
    engine_for(EARLY).run_cycle(plan=False)
    sent = {
        got.message["Message-ID"]: got.message
        for got in (g for g in server.received)
        if got.message["In-Reply-To"] is None
    }
    assert len(sent) > 20
    originals = SendLog.objects.filter(status=SendStatus.SENT).select_related("sender")[:12]
    replies = SendLog.objects.bulk_create(
        SendLog(
            sender_id=o.recipient_id,
            day=NOON.date(),
            slot_no=1000 + n,
            recipient_id=o.sender_id,
            in_reply_to_id=o.id,
            thread_id=o.message_id,
            scheduled_at=NOON,
            timestamp=NOON,
        )
        for n, o in enumerate(originals)
    )
    ids = [r.id for r in replies]
    SendLog.objects.filter(id__in=ids).update(
        status=SendStatus.SENDING, worker="test-worker", claimed_at=NOON, attempts=1
    )
    stats = CycleStats()
    engine_for(NOON).send_batch(ids, load_network(NOON), stats)
    assert stats.outcomes["sent"] == len(ids)

    by_original = {o.message_id: o for o in originals}
    answered = [g.message for g in server.received if g.message["In-Reply-To"] in by_original]
    assert len(answered) == len(ids)
    in_tokyo = 0
    for reply in answered:
        original = sent[reply["In-Reply-To"]]
        row = by_original[reply["In-Reply-To"]]
        language = LANGUAGES.get(row.sender.email.split("@")[1], "en")
        # The original: in its sender's language, nothing that marks it.
        assert original["Content-Language"] == (None if language == "en" else language)
        assert content.TOKEN_HEADER not in original and content.TOKEN_HEADER not in reply
        # The reply: the thread's subject and language, threaded, its original quoted.
        assert reply["Subject"] == f"Re: {original['Subject']}"
        assert reply["References"] == reply["In-Reply-To"]
        assert reply["Content-Language"] == original["Content-Language"]
        lines = text_of(reply).split("\n")
        start = next(i for i, x in enumerate(lines) if x.startswith(">"))
        own, line = "\n".join(lines[: start - 1]), lines[start - 1]
        quoted = "\n".join(lines[start:])
        assert re.search(ATTRIBUTION[language], line), line
        # The original's time as the replier's mail client shows it: in its time zone.
        replier = Mailbox.objects.get(id=row.recipient_id)
        shown = row.sent_at.astimezone(zoneinfo.ZoneInfo(replier.timezone))
        assert f"{shown:%H:%M}" in line, (replier.timezone, row.sent_at, line)
        in_tokyo += replier.timezone == "Asia/Tokyo"
        assert f"Person {row.sender_id}" in line
        assert quoted.rstrip("\n") == "\n".join(
            f"> {x}" if x else ">" for x in text_of(original).rstrip("\n").split("\n")
        )
        assert own.strip() not in text_of(original)
    assert in_tokyo  # a replier whose clock is not the original's UTC one
