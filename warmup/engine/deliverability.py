"""Deliverability of each mailbox as a sender, over the last 7 days of its DailyStat:

- inbox rate = inbox / (inbox + spam), of the placements the recipients saw;
- reply rate = replied / sent;
- score (0-100) = round(80 × inbox rate + 20 × min(reply rate / 0.30, 1)), once at
  least 5 placements were seen (before that: none, not enough data);
- spam flag, for the operator: at least 10 placements and more than 25 % in spam;
- authentication pass rate = DMARC passes / (passes + fails), of the receivers' own
  verdicts (their Authentication-Results, read by engagement; none, temperror and
  permerror are not judgements);
- DMARC flag, for the operator: at least DMARC_FLAG_MIN_JUDGED judged and a pass rate
  below DMARC_FLAG_RATE. Receivers see what a DNS check cannot (a signing relay that
  rewrites the message, a From domain out of alignment with the envelope, a key that
  changed between lookups), so a mailbox can be flagged while its DNS looks right.

The score stays a measure of placement and replies: DMARC failures at receivers show in
it already as spam placements (their consequence), and counting them again would punish
a mailbox twice; the DMARC flag says why.

Kept on the mailbox (API, admin, metrics read it without aggregating): refreshed for the
senders whose placements an engagement pass recorded, and for everyone by maintenance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Sum

from accounts.models import Mailbox
from warmup import sql
from warmup.models import DailyStat

WINDOW_DAYS = 7
MIN_PLACEMENTS = 5
FLAG_MIN_PLACEMENTS = 10
SPAM_FLAG_RATE = 0.25
REPLY_TARGET = 0.30
INBOX_POINTS, REPLY_POINTS = 80, 20
DMARC_FLAG_MIN_JUDGED = 5  # fewer judged sends say too little to flag
DMARC_FLAG_RATE = 0.8  # a pass rate below this flags the mailbox

# What the refresh writes, in the order of the rows it builds.
_FIGURES = (
    "id",
    "inbox_rate_7d",
    "reply_rate_7d",
    "deliverability_score",
    "spam_flagged",
    "auth_pass_rate_7d",
    "dmarc_flagged",
)


def assess(
    sent: int, inbox: int, spam: int, replied: int
) -> tuple[float | None, float | None, int | None, bool]:
    """(inbox rate, reply rate, score, spam flag) of one mailbox's window."""
    placed = inbox + spam
    inbox_rate = inbox / placed if placed else None
    reply_rate = min(replied / sent, 1.0) if sent else None
    score = None
    if placed >= MIN_PLACEMENTS and inbox_rate is not None:
        replies = min((reply_rate or 0.0) / REPLY_TARGET, 1.0)
        score = round(INBOX_POINTS * inbox_rate + REPLY_POINTS * replies)
    flagged = placed >= FLAG_MIN_PLACEMENTS and spam / placed > SPAM_FLAG_RATE
    return inbox_rate, reply_rate, score, flagged


def assess_authentication(passed: int, failed: int) -> tuple[float | None, bool]:
    """(authentication pass rate, DMARC flag) of one mailbox's window of DMARC verdicts."""
    judged = passed + failed
    rate = passed / judged if judged else None
    flagged = judged >= DMARC_FLAG_MIN_JUDGED and rate is not None and rate < DMARC_FLAG_RATE
    return rate, flagged


def update_deliverability(now: dt.datetime, mailbox_ids: Iterable[int] | None = None) -> int:
    """Recompute the figures of `mailbox_ids` (all mailboxes when None); returns how many
    mailboxes were updated."""
    since = now.date() - dt.timedelta(days=WINDOW_DAYS - 1)
    stats = DailyStat.objects.filter(date__gte=since, date__lte=now.date() + dt.timedelta(days=1))
    boxes = Mailbox.objects.all()
    if mailbox_ids is not None:
        ids = list(mailbox_ids)
        stats, boxes = stats.filter(mailbox_id__in=ids), boxes.filter(id__in=ids)
    sums = {
        row["mailbox_id"]: row
        for row in stats.values("mailbox_id")
        .annotate(
            sent=Sum("sent"),
            inbox=Sum("inbox"),
            spam=Sum("spam"),
            replied=Sum("replied"),
            dmarc_pass=Sum("dmarc_pass"),
            dmarc_fail=Sum("dmarc_fail"),
        )
        .order_by()
    }
    rows: list[tuple[object, ...]] = []
    for box_id in boxes.values_list("id", flat=True):
        s = sums.get(box_id)
        if s is None:
            rows.append((box_id, None, None, None, False, None, False))
            continue
        figures = assess(s["sent"], s["inbox"], s["spam"], s["replied"])
        rows.append((box_id, *figures, *assess_authentication(s["dmarc_pass"], s["dmarc_fail"])))
    return sql.update_rows(Mailbox, _FIGURES, rows)
