"""Engagement: what a receiving mailbox does with warmup mail, over IMAP.

For each warmup-enabled mailbox whose engagement is not paused, at most once an
interval: log in; find warmup messages in the spam folder and the inbox by the
Message-ID recorded when they were sent (nothing in the message marks it: the sends to
this mailbox of the last RECEIVED_WINDOW are searched for by their senders' addresses and
date, a few SEARCH commands whatever their number, and only the found messages' headers
are fetched and matched); mail sent with an `X-Warmup-Token` header is still recognised
by its signed token. Record where each landed (placement, on the original send and its
sender's day) and what the receiving server said of it (its Authentication-Results: SPF,
DKIM and DMARC verdicts on the send, DMARC passes and failures on its sender's day);
rescue the spam ones to the inbox; mark them \\Seen and \\Flagged; plan replies (to
a share of new messages, the mailbox's reply_rate, and to replies while their thread is
shorter than its drawn length: warmup.engine.threads) as ordinary slots of the mailbox's
own day, after a human delay inside its window, so they go out through its own SMTP under
every budget and cap; file them into a Warmup folder. Then leave nothing behind: the
mailbox's own Sent-folder copies of its warmup sends are filed into the Warmup folder
too, and warmup mail that has been in the Warmup folder longer than
WARMUP_MAIL_RETENTION_DAYS is deleted (each switchable per mailbox). A message that is
neither a recorded send nor signed by us — a user's own — is never flagged, moved or
deleted. A login the server refuses pauses the mailbox's engagement with the reason.

Idempotent: a placement and a verdict are recorded at their first sighting only, a send
gets at most one reply (its reply_planned, set by a conditional update), and filed
messages are not seen again. A header that cannot be read gives no verdict; it never
stops the mailbox's engagement.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q

from accounts import crypto, tokens
from accounts.models import Mailbox, email_domain
from accounts.transport.account import Account
from accounts.transport.imap import (
    MATCH_HEADERS,
    Folders,
    Found,
    ImapAuthError,
    ImapError,
    ImapHostRefused,
    ImapSession,
)
from warmup import sql
from warmup.engine import content, pacing, threads
from warmup.engine.deliverability import update_deliverability
from warmup.engine.planner import plan_cap_of
from warmup.engine.record import add_to_days
from warmup.models import DailyStat, Placement, SendLog, SendStatus
from warmup.reputation import verdicts
from warmup.reputation.state import note_dkim_selectors

log = logging.getLogger("warmup.engage")

INBOX = "INBOX"
MAILBOX_TIME_BOX_S = 45  # one mailbox's whole IMAP session, every command included
# A send is looked for in its recipient's inbox and spam folder for this long after it
# was sent (SINCE one day earlier: IMAP dates are the server's, of any time zone). Mail
# normally arrives in minutes; a week covers a mailbox whose engagement was paused.
RECEIVED_WINDOW = dt.timedelta(days=7)
# A send already placed is still looked for this long, in case its filing failed.
FILING_RETRY = dt.timedelta(days=1)
# A mailbox's own sends whose Sent-folder copy is looked for (engagement runs every
# WARMUP_CRON_INTERVAL_MINUTES, so a copy is usually filed within the hour).
SENT_COPY_WINDOW = dt.timedelta(days=3)
# Old warmup mail deleted per pass at most (the oldest first): a long backlog is worked
# off over a few passes, each inside the time box, and a STORE's UID set stays short.
RETENTION_BATCH = 1000
# Mail seen while its recipient's window is closed (or on a day it does not send) is
# filed at once, and answered by a later pass inside a window: one as late as a Friday
# evening's mail answered on Monday morning.
REPLY_LOOKBACK = dt.timedelta(days=3)


@dataclass
class Engaged:
    """What one mailbox's engagement did."""

    mailbox_id: int
    inbox: int = 0  # warmup messages found in the inbox
    spam: int = 0  # found in the spam folder, and rescued
    placed: int = 0  # placements recorded (first sightings)
    judged: int = 0  # receivers' verdicts recorded (first readings)
    replies: int = 0  # replies planned
    filed: int = 0  # moved into the Warmup folder
    sent_filed: int = 0  # the mailbox's own Sent-folder copies moved into the Warmup folder
    deleted: int = 0  # warmup mail past WARMUP_MAIL_RETENTION_DAYS deleted from it
    fallback_moves: int = 0  # moves done as COPY + \Deleted + EXPUNGE
    imap_commands: Counter[str] = field(default_factory=Counter)  # sent, by name
    senders: set[int] = field(default_factory=set)  # whose placements changed
    error: str = ""
    paused: bool = False


@dataclass
class PassStats:
    mailboxes: int = 0
    results: list[Engaged] = field(default_factory=list)
    duration_s: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.results)

    def line(self) -> str:
        errors = sum(1 for r in self.results if r.error)
        paused = sum(1 for r in self.results if r.paused)
        return (
            f"{self.mailboxes} mailboxes: found {self.total('inbox')} in inbox, "
            f"{self.total('spam')} in spam (rescued); placed {self.total('placed')}, "
            f"verdicts {self.total('judged')}, "
            f"replies {self.total('replies')}, filed {self.total('filed')}, "
            f"sent copies filed {self.total('sent_filed')}, "
            f"old mail deleted {self.total('deleted')}; "
            f"{errors} errors, {paused} paused; {self.duration_s:.1f}s"
        )


def wants_reply(slot_id: int, reply_rate: float) -> bool:
    """Whether a new message gets a reply: a draw fixed by the send, so every pass agrees."""
    return random.Random(f"reply:{slot_id}").random() < reply_rate


def answers(
    slot_id: int, turn: int, thread_id: str, reply_rate: float, turns: Sequence[tuple[int, int]]
) -> bool:
    """Whether the receiver of a thread's turn `turn` (send `slot_id`) answers it. A new
    message: its reply rate decides (wants_reply). A reply: the thread's length, drawn once
    per thread, decides, as long as the receiver replies at all (a reply rate above 0)."""
    if turn == 1:
        return wants_reply(slot_id, reply_rate)
    return reply_rate > 0 and turn < threads.thread_length(thread_id, turns)


def claim_for_engagement(now: dt.datetime, every: dt.timedelta, limit: int | None) -> list[int]:
    """Mailboxes due for engagement (never engaged, or not for `every`), oldest first,
    marked as engaged now in the same transaction: concurrent passes take others."""
    due = (
        Mailbox.objects.filter(warmup_enabled=True, engagement_paused_reason="")
        .filter(Q(engaged_at__isnull=True) | Q(engaged_at__lte=now - every))
        .order_by(F("engaged_at").asc(nulls_first=True), "id")
    )
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True).values_list("id", flat=True)[: limit or None]
        )
        Mailbox.objects.filter(id__in=ids).update(engaged_at=now)
    return ids


def _message_id(value: str) -> str:
    """A Message-ID as compared: without the folding whitespace a header may carry."""
    return "".join(value.split())


@dataclass(frozen=True)
class Expected:
    """The sends engagement looks for in one mailbox: slot id by Message-ID, the
    addresses they came from, and the day the search starts."""

    slots: dict[str, int]
    senders: set[str]
    since: dt.date


def days_from(start: dt.datetime) -> dt.date:
    """The earliest day (a send's sender's local date) of sends made since `start`: the
    send log's partitions of older days are then not even planned for."""
    return (start - dt.timedelta(days=1)).date()


def expected_received(mailbox_id: int, now: dt.datetime) -> Expected:
    """The sends to this mailbox of the last RECEIVED_WINDOW that may still be in its
    inbox or spam folder: not seen yet, or seen in the last FILING_RETRY (a pass that
    recorded them but failed to file them). Usually a handful: one SEARCH, over days
    since the oldest of them only (idx_logs_recipient_sent)."""
    start = now - RECEIVED_WINDOW
    rows = list(
        SendLog.objects.filter(
            recipient_id=mailbox_id,
            status__in=(SendStatus.SENT, SendStatus.UNKNOWN),
            sent_at__gte=start,
            day__gte=days_from(start),
        )
        .filter(Q(placement=Placement.NOT_SEEN) | Q(placement_seen_at__gte=now - FILING_RETRY))
        .exclude(message_id="")
        .values_list("id", "message_id", "sender__email", "sent_at")
    )
    oldest = min((sent_at for *_, sent_at in rows if sent_at is not None), default=start)
    return Expected(
        slots={_message_id(m): i for i, m, _, _ in rows},
        senders={e for _, _, e, _ in rows},
        since=(oldest - dt.timedelta(days=1)).date(),
    )


def expected_sent(mailbox_id: int, now: dt.datetime) -> Expected:
    """This mailbox's own sends of the last SENT_COPY_WINDOW (idx_logs_sender_sent)."""
    start = now - SENT_COPY_WINDOW
    rows = (
        SendLog.objects.filter(
            sender_id=mailbox_id,
            status__in=(SendStatus.SENT, SendStatus.UNKNOWN),
            sent_at__gte=start,
            day__gte=days_from(start),
        )
        .exclude(message_id="")
        .values_list("id", "message_id")
    )
    slots = {_message_id(m): i for i, m in rows}
    return Expected(slots, set(), (start - dt.timedelta(days=1)).date())


def recognised(
    found: Iterable[Found], slots: dict[str, int], secret: str, **owned: int
) -> dict[int, Found]:
    """slot id → message, for the messages that are this mailbox's warmup mail: a
    Message-ID among the expected `slots`, or (mail sent with a token) a token this
    installation signed for a send of this mailbox (`owned`: recipient_id= or sender_id=,
    one query by primary key). Anything else — a user's own message, a forged token — is
    left out, so never touched."""
    out: dict[int, Found] = {}
    by_token: dict[int, Found] = {}
    for message in found:
        slot_id = slots.get(_message_id(message.message_id))
        if slot_id is not None:
            out[slot_id] = message
        elif message.token:
            signed = content.slot_id_of(message.token, secret)
            if signed is not None:
                by_token[signed] = message
    if by_token:
        mine = SendLog.objects.filter(id__in=by_token, **owned).values_list("id", flat=True)
        for slot_id in mine:
            out.setdefault(slot_id, by_token[slot_id])
    return out


def recorded_message_ids(mailbox_id: int, message_ids: Iterable[str]) -> set[str]:
    """Which of these Message-IDs are sends to or from this mailbox (through its two
    indexes: a few thousand rows a mailbox, whatever the table's size)."""
    wanted = {_message_id(m) for m in message_ids if m}
    if not wanted:
        return set()
    return set(
        SendLog.objects.filter(Q(recipient_id=mailbox_id) | Q(sender_id=mailbox_id))
        .filter(message_id__in=wanted, sent_at__isnull=False)
        .values_list("message_id", flat=True)
    )


def record_placements(
    mailbox_id: int, now: dt.datetime, placements: dict[int, str]
) -> tuple[int, set[int]]:
    """Placement of each send this mailbox received, at its first sighting, and the
    sender's day counters; (how many were new, their senders)."""
    with transaction.atomic():
        fresh = list(
            SendLog.objects.select_for_update(of=("self",))
            .filter(
                id__in=placements,
                # Found in the folders searched since a day before RECEIVED_WINDOW,
                # by Message-ID or token: sent since, give or take a day.
                day__gte=days_from(now - RECEIVED_WINDOW - dt.timedelta(days=2)),
                recipient_id=mailbox_id,
                placement=Placement.NOT_SEEN,
                status__in=(SendStatus.SENT, SendStatus.UNKNOWN),
            )
            .values_list("id", "sender_id", "day")
        )
        by_place: dict[str, list[int]] = defaultdict(list)
        counts: dict[str, Counter[tuple[int, dt.date]]] = defaultdict(Counter)
        for slot_id, sender_id, day in fresh:
            place = placements[slot_id]
            by_place[place].append(slot_id)
            counts[place][(sender_id, day)] += 1
        days = {day for _, _, day in fresh}  # their partitions only
        for place, ids in by_place.items():
            SendLog.objects.filter(id__in=ids, day__in=days).update(
                placement=place, placement_seen_at=now
            )
    # The senders' counters after the placements are committed, each in its own
    # transaction (a crash in between loses a count, never a placement).
    for place, counted in counts.items():
        with transaction.atomic():
            add_to_days(counted, "inbox" if place == Placement.INBOX else "spam")
    return len(fresh), {sender for _, sender, _ in fresh}


# What record_verdicts writes on each send, in the order of Verdicts.stored().
_VERDICT_FIELDS = ("id", "day", "auth_spf", "auth_dkim", "auth_dmarc", "auth_receiver")


def verdicts_of(found: Iterable[tuple[int, Found]]) -> dict[int, verdicts.Verdicts]:
    """slot id → the receiver's verdicts on its message, for those that carry any. One
    message's headers never stop the others: whatever goes wrong is logged and skipped."""
    out = {}
    for slot_id, message in found:
        try:
            read = verdicts.parse(message.auth_headers)
        except Exception:
            log.exception("the verdicts on slot %s could not be read", slot_id)
            continue
        if read is not None and any(read.stored()):
            out[slot_id] = read
    return out


def record_verdicts(
    mailbox_id: int, now: dt.datetime, read: dict[int, verdicts.Verdicts]
) -> tuple[int, set[int]]:
    """The receiver's verdicts on each send this mailbox received, the first time they
    are read (a send with any verdict field set is done), and the DMARC counters of the
    sender's day, once per send; (how many were new, their senders)."""
    if not read:
        return 0, set()
    empty = {"auth_spf": "", "auth_dkim": "", "auth_dmarc": "", "auth_receiver": ""}
    with transaction.atomic():
        fresh = list(
            SendLog.objects.select_for_update(of=("self",))
            .filter(
                id__in=read,
                # Found where record_placements finds them: the same days.
                day__gte=days_from(now - RECEIVED_WINDOW - dt.timedelta(days=2)),
                recipient_id=mailbox_id,
                status__in=(SendStatus.SENT, SendStatus.UNKNOWN),
                **empty,
            )
            .order_by("id")
            .values_list("id", "sender_id", "day")
        )
        sql.update_slots(
            _VERDICT_FIELDS,
            [(slot_id, day, *read[slot_id].stored()) for slot_id, _, day in fresh],
        )
    counts: dict[str, Counter[tuple[int, dt.date]]] = defaultdict(Counter)
    for slot_id, sender_id, day in fresh:
        passed = read[slot_id].dmarc_passed
        if passed is not None:
            counts["dmarc_pass" if passed else "dmarc_fail"][(sender_id, day)] += 1
    # As with placements: the counters after the verdicts are committed, each in its own
    # transaction (a crash in between loses a count, never a verdict).
    for column, counted in counts.items():
        with transaction.atomic():
            add_to_days(counted, column)
    # The DKIM selectors that signed our senders' own domains, for the domains' DKIM check.
    domains = {
        sender: email_domain(email)
        for sender, email in Mailbox.objects.filter(
            id__in={sender for _, sender, _ in fresh}
        ).values_list("id", "email")
    }
    note_dkim_selectors(
        (domain, selector)
        for slot_id, sender_id, _ in fresh
        for domain, selector in read[slot_id].selectors
        if domain == domains.get(sender_id)
    )
    return len(fresh), {sender for _, sender, _ in fresh}


def plan_replies(
    box: Mailbox,
    now: dt.datetime,
    received: list[int],
    turns: Sequence[tuple[int, int]] | None = None,
) -> int:
    """Reply slots for the sends (received by `box`, not replied to yet) it answers: a new
    message by its reply rate, a reply while its thread is shorter than its drawn length
    (`turns`: WARMUP_THREAD_TURNS). Slots of the box's own local day, within its cap (min
    of daily_max and the owner's plan), each due after a human delay inside its sending
    window (threads.reply_at). Besides `received` (this pass's), the sends placed in the
    last REPLY_LOOKBACK: mail seen after the window closed is answered in the next one."""
    turns = turns or settings.WARMUP.thread_turns
    lately = Q(
        placement_seen_at__gte=now - REPLY_LOOKBACK,
        # The recipient index's range (idx_logs_recipient_sent): sent before it was seen.
        sent_at__gte=now - REPLY_LOOKBACK - RECEIVED_WINDOW,
    )
    candidates = [
        _Received(*row)
        for row in SendLog.objects.filter(
            Q(id__in=received) | lately,
            recipient_id=box.id,
            day__gte=days_from(now - REPLY_LOOKBACK - RECEIVED_WINDOW),
        )
        .filter(reply_planned=False)
        .order_by("id")
        .values_list("id", "sender_id", "day", "message_id", "thread_id", "in_reply_to_id")
    ]
    # A reply's turn is its place in its thread: one statement for those found.
    replies = [c for c in candidates if c.in_reply_to_id]
    chain = (
        threads.chains(
            (c.id for c in replies), (min(c.day for c in replies), max(c.day for c in replies))
        )
        if replies
        else {}
    )
    picked = [
        c
        for c in candidates
        if answers(c.id, len(chain.get(c.id, ())) or 1, c.thread, box.reply_rate, turns)
    ]
    today = pacing.local_date(now, box.timezone)
    if not picked or not pacing.sends_on(today, box.window_weekdays):
        return 0
    window = pacing.sending_window(today, box.timezone, box.window_start_hour, box.window_end_hour)
    due: dict[int, dt.datetime] = {}
    for c in picked:
        at = threads.reply_at(now, window, random.Random(f"reply-at:{c.id}"))
        if at is not None:
            due[c.id] = at
    picked = [c for c in picked if c.id in due]
    if not picked:
        return 0
    with transaction.atomic():
        row = (
            DailyStat.objects.select_for_update(of=("self",))
            .filter(mailbox_id=box.id, date=today)
            .annotate(plan_cap=plan_cap_of("mailbox__owner"))
            .first()
        )
        if row is None:  # the day is not planned yet: next pass
            return 0
        room = min(box.daily_max, row.plan_cap) - (row.reserved - row.failed)
        picked = picked[: max(room, 0)]
        # Each send is replied to once: those another pass answered first are not ours.
        ours = sql.mark_reply_planned([(c.id, c.day) for c in picked])
        picked = [c for c in picked if c.id in ours]
        if not picked:
            return 0
        SendLog.objects.bulk_create(
            SendLog(
                sender_id=box.id,
                day=today,
                slot_no=row.reserved + n,
                recipient_id=c.sender_id,
                in_reply_to_id=c.id,
                thread_id=c.thread,
                status=SendStatus.PLANNED,
                scheduled_at=due[c.id],
                timestamp=now,
            )
            for n, c in enumerate(picked)
        )
        DailyStat.objects.filter(id=row.id).update(reserved=row.reserved + len(picked))
    with transaction.atomic():  # after this mailbox's own row is released
        add_to_days(Counter((c.sender_id, c.day) for c in picked), "replied")
    return len(picked)


class _Received(NamedTuple):
    """A send `box` received, as plan_replies reads it."""

    id: int
    sender_id: int
    day: dt.date
    message_id: str
    thread_id: str
    in_reply_to_id: int | None

    @property
    def thread(self) -> str:
        return self.thread_id or self.message_id


def engage_mailbox(
    mailbox_id: int,
    now: dt.datetime,
    secret: str,
    *,
    allow_private: bool,
    time_box_s: float = MAILBOX_TIME_BOX_S,
    retention_days: int = 0,
) -> Engaged:
    """One mailbox's engagement; never raises: whatever goes wrong — its server, its
    settings, our own code or the database — is this mailbox's error, logged with its id,
    and the pass goes on with the others."""
    try:
        return _engage_mailbox(mailbox_id, now, secret, allow_private, time_box_s, retention_days)
    except Exception as exc:
        log.exception("engagement of mailbox %s failed", mailbox_id)
        return Engaged(mailbox_id, error=f"unexpected error: {type(exc).__name__}")


def _engage_mailbox(
    mailbox_id: int,
    now: dt.datetime,
    secret: str,
    allow_private: bool,
    time_box_s: float,
    retention_days: int,
) -> Engaged:
    done = Engaged(mailbox_id)
    box = Mailbox.objects.filter(id=mailbox_id).first()
    if box is None:
        done.error = "no such mailbox"
        return done
    deadline = time.monotonic() + time_box_s
    try:
        account = tokens.login_account(box, "imap", now)
    except crypto.SecretError as exc:
        box.pause_engagement(f"IMAP password unreadable: {exc}")
        done.error, done.paused = str(exc), True
        return done
    except tokens.TokenRefused as exc:  # the mailbox is paused: reconnect needed
        done.error, done.paused = str(exc), True
        return done
    except tokens.TokenUnavailable as exc:
        done.error = str(exc)
        return done
    try:
        # One deadline for the whole session: every read waits only for what is left.
        session = _log_in(box, account, now, time_box_s, allow_private)
    except tokens.TokenError as exc:
        done.error, done.paused = str(exc), isinstance(exc, tokens.TokenRefused)
        return done
    except (ImapHostRefused, ImapAuthError) as exc:
        # Its settings or password must change: retrying cannot help until they do.
        box.pause_engagement(str(exc))
        done.error, done.paused = str(exc), True
        return done
    except ImapError as exc:
        done.error = str(exc)
        return done
    try:
        _engage(session, box, now, secret, done, deadline, retention_days)
    except ImapError as exc:
        done.error = str(exc)
    except TimeoutError:
        done.error = f"time box of {time_box_s:.0f}s passed; the rest waits for the next pass"
    finally:
        done.fallback_moves = session.fallback_moves
        done.imap_commands = session.commands
        session.close()
    return done


def _log_in(
    box: Mailbox, account: Account, now: dt.datetime, time_box_s: float, allow_private: bool
) -> ImapSession:
    """An IMAP session as `account`. A refused token may have been revoked or expired
    early: one fresh token and one more try (then ImapAuthError pauses engagement)."""
    try:
        return ImapSession(account, timeout=time_box_s, allow_private=allow_private)
    except ImapAuthError:
        if not account.uses_token:
            raise
    fresh = tokens.login_account(box, "imap", now, rejected=account.access_token)
    return ImapSession(fresh, timeout=time_box_s, allow_private=allow_private)


def _check(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError


def _engage(
    session: ImapSession,
    box: Mailbox,
    now: dt.datetime,
    secret: str,
    done: Engaged,
    deadline: float,
    retention_days: int,
) -> None:
    folders = session.folders()
    expected = expected_received(box.id, now)
    placements: dict[int, str] = {}
    read: dict[int, verdicts.Verdicts] = {}

    def search(folder: str) -> dict[int, Found]:
        _check(deadline)
        # The senders' addresses and the token header of mail sent with one, in one go.
        found = session.find(folder, senders=expected.senders, tokens=True, since=expected.since)
        return recognised(found, expected.slots, secret, recipient_id=box.id)

    if folders.spam:
        spam = search(folders.spam)
        read.update(verdicts_of(spam.items()))
        done.spam = len(spam)
        placements.update(dict.fromkeys(spam, Placement.SPAM))
        uids = [m.uid for m in spam.values()]
        session.flag(uids)
        session.move(uids, INBOX)  # the rescue: "not spam", as a person would
    inbox = search(INBOX)
    read.update(verdicts_of((i, m) for i, m in inbox.items() if i not in read))
    done.inbox = len(inbox) - done.spam
    for slot_id in inbox:
        placements.setdefault(slot_id, Placement.INBOX)
    session.flag([m.uid for m in inbox.values()])
    # The database before the filing: if it fails, the messages are still in the
    # inbox for the next pass.
    done.placed, done.senders = record_placements(box.id, now, placements)
    done.judged, judged_senders = record_verdicts(box.id, now, read)
    done.senders |= judged_senders
    done.replies = plan_replies(box, now, list(inbox))
    _check(deadline)
    if inbox:
        session.ensure_folder(folders.warmup)
        session.move([m.uid for m in inbox.values()], folders.warmup)
        done.filed = len(inbox)
    if box.file_sent_copies and folders.sent:
        done.sent_filed = _file_sent_copies(session, box, now, secret, folders, deadline)
    if retention_days and box.delete_old_warmup_mail and (folders.warmup_exists or done.filed):
        done.deleted = _delete_old_mail(
            session, box, now, secret, folders, retention_days, deadline
        )


def _file_sent_copies(
    session: ImapSession,
    box: Mailbox,
    now: dt.datetime,
    secret: str,
    folders: Folders,
    deadline: float,
) -> int:
    """The mailbox's own copies of its recent warmup sends (Gmail and Outlook keep one in
    the \\Sent folder), found by Message-ID among what it sent since, moved into the
    Warmup folder: out of the user's sight at once, nothing destroyed, and deleted with
    the rest of the folder's warmup mail when its retention passes."""
    expected = expected_sent(box.id, now)
    if not expected.slots or folders.sent is None:
        return 0
    _check(deadline)
    found = session.find(
        folders.sent, senders=[box.email], since=expected.since, headers=MATCH_HEADERS
    )
    copies = recognised(found, expected.slots, secret, sender_id=box.id)
    if copies:
        _check(deadline)
        session.ensure_folder(folders.warmup)
        session.move(sorted(m.uid for m in copies.values()), folders.warmup)
    return len(copies)


def _delete_old_mail(
    session: ImapSession,
    box: Mailbox,
    now: dt.datetime,
    secret: str,
    folders: Folders,
    retention_days: int,
    deadline: float,
) -> int:
    """Warmup mail in the Warmup folder received more than `retention_days` ago (the
    server's INTERNALDATE, which MOVE keeps: the day it arrived, not the Date header a
    sender writes), recognised by its Message-ID among the mailbox's sends and receipts
    or by a token this installation signed (its send row may be gone: the log keeps 90
    days), flagged \\Deleted and expunged; anything else there (a user's own message)
    stays."""
    _check(deadline)
    cutoff = (now - dt.timedelta(days=retention_days)).date()
    found = session.find(folders.warmup, before=cutoff, headers=MATCH_HEADERS)
    ours = recorded_message_ids(box.id, (m.message_id for m in found))
    signed = {
        m.uid
        for m in found
        if _message_id(m.message_id) not in ours
        and m.token
        and content.slot_id_of(m.token, secret) is not None
    }
    uids = sorted(m.uid for m in found if _message_id(m.message_id) in ours or m.uid in signed)
    uids = uids[:RETENTION_BATCH]  # the oldest (lowest UIDs) first
    _check(deadline)
    session.delete(uids)
    return len(uids)


def _in_thread(call: Callable[..., Engaged], *args: Any, **kwargs: Any) -> Engaged:
    try:
        return call(*args, **kwargs)
    finally:
        connections.close_all()  # this thread's own connection


def engage_pass(
    now: dt.datetime,
    secret: str,
    *,
    concurrency: int,
    every: dt.timedelta,
    allow_private: bool,
    mailbox_id: int | None = None,
    limit: int | None = None,
    time_box_s: float = MAILBOX_TIME_BOX_S,
    retention_days: int | None = None,
) -> PassStats:
    """Engage the mailboxes that are due (or one, by id, whatever its schedule), at most
    `concurrency` IMAP sessions at once; then refresh the senders'
    deliverability. `allow_private`: WARMUP_ALLOW_PRIVATE_HOSTS; `time_box_s`: each
    mailbox's whole session; `retention_days`: WARMUP_MAIL_RETENTION_DAYS unless given
    (0 keeps warmup mail for ever), as plan_replies reads WARMUP_THREAD_TURNS."""
    started = time.monotonic()
    if retention_days is None:
        retention_days = settings.WARMUP.mail_retention_days
    ids = [mailbox_id] if mailbox_id is not None else claim_for_engagement(now, every, limit)
    stats = PassStats(mailboxes=len(ids))
    if concurrency <= 1 or len(ids) <= 1:
        stats.results = [
            engage_mailbox(
                i,
                now,
                secret,
                allow_private=allow_private,
                time_box_s=time_box_s,
                retention_days=retention_days,
            )
            for i in ids
        ]
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="engage") as pool:
            stats.results = list(
                pool.map(
                    lambda i: _in_thread(
                        engage_mailbox,
                        i,
                        now,
                        secret,
                        allow_private=allow_private,
                        time_box_s=time_box_s,
                        retention_days=retention_days,
                    ),
                    ids,
                )
            )
    for result in stats.results:
        if result.error:
            log.warning("engagement of mailbox %s: %s", result.mailbox_id, result.error)
    senders = set().union(*(r.senders for r in stats.results)) if stats.results else set()
    if senders:
        update_deliverability(now, senders)
    stats.duration_s = time.monotonic() - started
    return stats
