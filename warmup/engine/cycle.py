"""One engine cycle: expire and start planning, then claim → pair → compose → send →
record in batches, planning a chunk of mailboxes between two batches, until nothing is
due or to plan, the time box is spent, or a stop was asked for."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from django.db import DatabaseError, transaction
from django.db.models import F, Max, Min

from accounts import crypto, tokens
from accounts.models import (
    AUTH_PASSWORD,
    Mailbox,
    MailboxToken,
    email_domain,
    writing_language,
)
from accounts.sql import timezones_in_use
from accounts.transport.account import Account
from accounts.transport.smtp import Envelope, Group, Outcome, Result
from warmup import partitions, sql
from warmup.engine import content, pacing, planner, threads, workers
from warmup.engine.claim import Shard, claim_slots
from warmup.engine.limits import Limits
from warmup.engine.planner import local_date_expression, local_dates, sending_mailboxes
from warmup.engine.recipients import Network, Peer, pair_recipients
from warmup.engine.record import Sent, expire_stale_slots, record_results
from warmup.models import EngineState, SendLog, SendStatus, Worker
from warmup_project.config import WarmupConfig

log = logging.getLogger("warmup.engine")

UNPAIRED_RETRY = dt.timedelta(minutes=10)
# A sender without a token now (its provider is down) tries again this much later.
TOKEN_RETRY = dt.timedelta(minutes=5)


class Transport(Protocol):
    async def send_batch(self, groups: Sequence[Group]) -> list[Result]: ...


@dataclass
class CycleStats:
    planned_mailboxes: int = 0
    planned_slots: int = 0
    topped_up: int = 0
    expired: int = 0
    claimed: int = 0
    unpaired: int = 0
    not_attempted: int = 0  # cut by the batch's deadline before their turn
    reaped: workers.Reaped = field(default_factory=workers.Reaped)
    outcomes: Counter[str] = field(default_factory=Counter)
    duration_s: float = 0.0

    def line(self) -> str:
        o = self.outcomes
        return (
            f"cycle: planned {self.planned_slots} slots for {self.planned_mailboxes} mailboxes "
            f"(+{self.topped_up} replacements), "
            f"claimed {self.claimed}, sent {o['sent']}, deferred {o['deferred']}, "
            f"failed {o['failed']}, unknown {o['unknown']}, paused {o['paused']}, "
            f"unpaired {self.unpaired}, expired {self.expired}, "
            f"cut by the deadline {self.not_attempted}, {self.duration_s:.2f}s"
        )


# How long the network read at a plan serves before a plan reads it again (unless a
# zone's date changes first): a mailbox receives one or two sends an hour.
NETWORK_MAX_AGE = dt.timedelta(hours=1)
# Mailbox ids a step of a network refresh reads: about 0.1-0.2 s (a full reload takes
# 1-2 s at 100,000 mailboxes and over 10 s at 1,000,000, too long between two claims).
NETWORK_SPAN = 10_000
# Decrypted password logins a worker keeps (Engine.password_logins): more than the
# mailboxes of 100,000, then it starts again.
PASSWORD_LOGINS_KEPT = 200_000


def load_network(now: dt.datetime) -> Network:
    """Every mailbox that may receive now, with what it received on its local day."""
    return Network(network_peers(now))


def network_peers(now: dt.datetime, after: int = 0, upto: int | None = None) -> list[Peer]:
    """The peers of the network with ids in (after, upto]. Only mailboxes whose local day
    is planned: a received count writes the day's DailyStat row, and a day with a row is
    planned in the planner's eyes."""
    timezones = timezones_in_use()
    if not timezones:
        return []
    boxes = sending_mailboxes().filter(id__gt=after)
    if upto is not None:
        boxes = boxes.filter(id__lte=upto)
    # Joined to the local day's row, which is read once (a subquery filtered on and
    # selected was evaluated twice a mailbox).
    rows = (
        boxes.annotate(local_date=local_date_expression(local_dates(now, timezones)))
        .filter(daily_stats__date=F("local_date"))
        .order_by("id")
        .values_list("id", "email", "provider", "owner_id", "daily_max", "daily_stats__received")
    )
    return [
        Peer(
            id=i,
            domain=email_domain(email),
            provider=provider,
            owner_id=owner,
            receive_cap=cap,
            received=got,
        )
        for i, email, provider, owner, cap, got in rows
    ]


@dataclass
class NetworkRefresh:
    """A reload of the network a span of ids at a time, between two claims; the network
    in use serves until it is complete."""

    after: int = 0
    last: int | None = None  # the largest sending mailbox id, read at the first step
    peers: list[Peer] = field(default_factory=list)

    def step(self, now: dt.datetime) -> Network | None:
        """Read the next span; the new network once the last span is read."""
        if self.last is None:
            self.last = sending_mailboxes().aggregate(last=Max("id"))["last"] or 0
        # From the next sending mailbox on: a gap in the ids costs no step.
        following = sending_mailboxes().filter(id__gt=self.after).aggregate(first=Min("id"))
        upto = (following["first"] or self.after + 1) - 1 + NETWORK_SPAN
        self.peers += network_peers(now, self.after, upto)
        self.after = upto
        return Network(self.peers) if upto >= self.last else None


_SENDER_FIELDS = (
    "id",
    "email",
    "display_name",
    "provider",
    "owner_id",
    "daily_max",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_secret",
    "auth_method",
    "language",
    "timezone",
)


# The sender's token row, read with the batch (accounts.tokens uses it while it lasts).
_SENDER_TOKEN_FIELDS = ("token__access_secret", "token__refresh_secret", "token__refresh_after")


@dataclass(frozen=True)
class _Sender:
    """What a batch needs of a sending mailbox, read as plain values (no model)."""

    id: int
    email: str
    display_name: str
    provider: str
    owner_id: int
    daily_max: int
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    smtp_secret: str
    auth_method: str
    language: str  # as chosen; content.Party gets accounts.models.writing_language()
    timezone: str
    # Its token row as read with the batch (a LEFT JOIN: all None without one).
    token_access_secret: str | None = None
    token_refresh_secret: str | None = None
    token_refresh_after: dt.datetime | None = None

    @property
    def peer(self) -> Peer:
        return Peer(
            id=self.id,
            domain=email_domain(self.email),
            provider=self.provider,
            owner_id=self.owner_id,
            receive_cap=self.daily_max,
        )

    def account(self, now: dt.datetime, *, rejected: str = "") -> Account:
        """Its SMTP login: the password, or an access token (got again if expiring, or
        if the server just refused `rejected`). Raises crypto.SecretError when the
        password cannot be decrypted, tokens.TokenRefused (the mailbox is paused: its
        owner must connect it again) or tokens.TokenUnavailable (try later)."""
        box = Mailbox(**{name: getattr(self, name) for name in _SENDER_FIELDS})
        known = (
            MailboxToken(
                mailbox_id=self.id,
                access_secret=self.token_access_secret,
                refresh_secret=self.token_refresh_secret or "",
                refresh_after=self.token_refresh_after,
            )
            if self.token_access_secret is not None
            else None
        )
        return tokens.login_account(box, "smtp", now, rejected=rejected, known=known)


@dataclass(frozen=True)
class _Original:
    """The send a reply answers (the previous turn of its thread)."""

    recipient_id: int  # its sender, whom the reply goes to
    subject: str  # the thread's: its first message's
    message_id: str
    thread_id: str
    # Message-IDs of the thread's earlier turns, first first, space-separated: the reply's
    # References are these and message_id.
    references: str = ""
    # What the reply's quote needs to write this send's text again (content.body_text),
    # and the thread's language (its first message's sender's).
    slot_id: int = 0
    topic: str = ""
    sent_at: dt.datetime | None = None
    was_reply: bool = False
    sender: content.Party | None = None
    language: str = ""


class ClaimedSlot(NamedTuple):
    """A claimed slot as a batch reads it, with its sender."""

    id: int
    day: dt.date
    slot_no: int
    in_reply_to_id: int | None  # a reply to this send; None for a new message
    attempts: int  # this one included
    scheduled_at: dt.datetime
    sender: _Sender


_SLOT_FIELDS = ("id", "day", "slot_no", "in_reply_to_id", "attempts", "scheduled_at")


def read_claimed(ids: list[int], now: dt.datetime) -> list[ClaimedSlot]:
    """The claimed slots with their senders (one query), by sender and slot number, so a
    sender's messages go out in order over its one connection."""
    rows = (
        SendLog.objects.filter(id__any=ids, day__range=partitions.in_flight(now))
        .order_by("sender_id", "slot_no")
        .values_list(
            *_SLOT_FIELDS,
            *(f"sender__{f}" for f in (*_SENDER_FIELDS, *_SENDER_TOKEN_FIELDS)),
        )
    )
    n = len(_SLOT_FIELDS)
    senders: dict[int, _Sender] = {}
    slots = []
    for row in rows:
        sender = senders.get(row[n])  # one per mailbox, shared by its slots
        if sender is None:
            sender = senders[row[n]] = _Sender(*row[n:])
        slots.append(ClaimedSlot._make((*row[:n], sender)))
    return slots


class _Outgoing(NamedTuple):
    """What recording needs of a composed slot besides the transport's result (Sent)."""

    day: dt.date
    sender_id: int
    recipient_id: int
    message_id: str
    thread_id: str
    attempts: int
    scheduled_at: dt.datetime
    timezone: str


@dataclass
class _Composed:
    """A batch after composing: one group of envelopes per sender (its SMTP account with
    them), what recording needs of each, and what cannot go out."""

    groups: dict[int, Group] = field(default_factory=dict)  # by sender
    outgoing: dict[int, _Outgoing] = field(default_factory=dict)  # by slot
    unpaired: list[int] = field(default_factory=list)  # slots no recipient fits
    broken: dict[int, str] = field(default_factory=dict)  # sender → why it stops
    # Senders with no token now (the provider is down, or refused and the mailbox is
    # paused): their slots wait.
    waiting: dict[int, str] = field(default_factory=dict)
    senders: dict[int, _Sender] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        *,
        config: WarmupConfig,
        transport: Transport,
        clock: Callable[[], dt.datetime],
        worker: str,
        token_secret: str,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        run_async: Callable[[Coroutine[Any, Any, list[Result]]], list[Result]] = asyncio.run,
        shard: Shard | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.clock = clock
        self.worker = worker
        self.token_secret = token_secret
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.run_async = run_async
        self.stopping = False  # set by the first SIGTERM: finish the batch, then return
        self.network: Network | None = None
        self.network_refresh: NetworkRefresh | None = None
        self.shard = shard
        self.registered = False
        self.heartbeat_timeout = dt.timedelta(seconds=config.heartbeat_timeout_s)
        # Results sent but not recorded because the database failed: recorded first
        # thing next cycle, so nothing sent is forgotten.
        self.unrecorded: list[Sent] = []
        self.limits = Limits.from_config(config)
        self.planned_late = 0  # by this worker's chunks since its network was loaded
        # Password logins by sender as read (its secret's ciphertext included, so a new
        # password or endpoint is a new entry): one decryption per sender, not per send.
        self.password_logins: dict[_Sender, Account] = {}
        self.unpaired_refresh_at: dt.datetime | None = None  # the last refresh for want of pairs
        # Each time zone's local date at this worker's last expiry of stale slots.
        self.expired_for: dict[str, dt.date] | None = None
        # When a plan last began to read the network again, and each zone's date then.
        self.network_read: tuple[dt.datetime, dict[str, dt.date]] | None = None

    def run_cycle(
        self, *, plan: bool = True, time_box_s: float | None = None, dispatch: bool = True
    ) -> CycleStats:
        """Start planning (when asked: every cron interval), then dispatch what is due
        (unless `dispatch` is off) and plan chunk by chunk between the batches.

        A day's plan is hundreds of chunks at 100,000 mailboxes, each a fraction of a
        second: between two claims a worker plans one chunk, or as many as fit in the
        batch delay, so planning never holds up its sends for long, and any worker's
        cycle (this one's next, another's) continues a sweep that is under way.
        Dispatching runs more often than planning starts (run_warmup: every
        DISPATCH_EVERY_S), so a rate budget spent in one minute is used again in the
        next. Every cycle first says this worker is alive, settles what an earlier
        failed cycle left, and runs the reaper."""
        started = time.monotonic()
        stats = CycleStats()
        self.heartbeat()
        self.settle_leftovers()
        stats.reaped = workers.reap(self.clock(), self.heartbeat_timeout)
        if not EngineState.load().running:
            log.debug("engine stopped: nothing planned or claimed")
            return stats
        if plan:
            self.plan(stats)
        # The network serves the sends: a cycle that only plans (the plan task) reads
        # none. A new worker reads it whole: it has none to serve while a refresh reads.
        if dispatch and self.network is None:
            now = self.clock()
            self.network, self.network_refresh = load_network(now), None
            self.network_read = now, local_dates(now, timezones_in_use())
        while not self.stopping:
            if time_box_s is not None and time.monotonic() - started > time_box_s:
                break
            ids = (
                claim_slots(
                    self.clock(),
                    worker=self.worker,
                    limit=self.config.batch_size,
                    limits=self.limits,
                    shard=self.shard,
                )
                if dispatch
                else []
            )
            if ids and self.network is not None:
                stats.claimed += len(ids)
                self.send_batch(ids, self.network, stats)
                self.heartbeat()
            # The batch delay is spent planning, as far as it goes; without a batch, one
            # chunk (and a step of the network's refresh) and back to claiming what
            # became due meanwhile.
            pause = self.config.batch_delay_ms / 1000 if ids else 0.0
            paused = time.monotonic()
            planning = self.plan_chunks(stats, pause)
            refreshing = dispatch and self.refresh_network()
            if not ids and not planning and not refreshing:
                break
            rest = pause - (time.monotonic() - paused)
            if rest > 0 and not self.stopping:
                self.sleep(rest)
        stats.duration_s = time.monotonic() - started
        if plan or stats.claimed:
            EngineState.objects.filter(id=EngineState.SINGLETON_ID).update(
                last_cycle_at=self.clock()
            )
            Worker.objects.filter(name=self.worker).update(last_cycle_at=self.clock())
        return stats

    def heartbeat(self) -> None:
        """Register on the first call, then say this worker is alive."""
        shard = self.shard or Shard(1, 1)
        if self.registered:
            workers.heartbeat(self.worker, self.clock(), shard=shard.id, shard_count=shard.count)
        else:
            workers.register(self.worker, shard.id, shard.count, self.clock())
            self.registered = True

    def settle_leftovers(self) -> None:
        """Results a failed cycle could not record are recorded now; slots this worker
        still holds beyond them (a claim whose commit was lost with the connection) are
        released like a dead worker's."""
        if self.unrecorded:
            record_results(self.clock(), self.unrecorded, self.rng)
            self.unrecorded = []
        now = self.clock()
        with transaction.atomic():
            left = workers.release(
                SendLog.objects.filter(
                    status=SendStatus.SENDING,
                    worker=self.worker,
                    day__range=partitions.in_flight(now),  # this worker's days
                ),
                now,
                why="an interrupted cycle",
            )
        if left:
            log.warning(
                "released %d slots of an interrupted cycle (%d unknown)",
                left.replanned + left.unknown,
                left.unknown,
            )

    def plan(self, stats: CycleStats) -> None:
        """Expire the leftovers of days that ended (when a time zone in use has begun a
        new date since this engine's last expiry: the plan task's engine, new at each
        run, expires at every run), start a planning sweep (the cycle plans it chunk by
        chunk), top up today's short days, and begin reading the network again when
        that is due."""
        now = self.clock()
        # Slots go stale when a local day ends; one due or given back later is the
        # claim's to fail (claim._expire_stale).
        dates = local_dates(now, timezones_in_use())
        if dates != self.expired_for:
            stats.expired = expire_stale_slots(now)
            self.expired_for = dates
        planner.start_sweep(now)
        stats.topped_up = planner.top_up(now, self.plan_margin)
        # Who can receive, and how much they have: read again, a span at a time between
        # claims, when a time zone in use has begun a new date since the last read (its
        # mailboxes' counts start again) or NETWORK_MAX_AGE after it (other workers'
        # picks); also when a sweep that planned days already begun ends, and when no
        # recipient fits (send_batch). In between, this worker's own picks keep the
        # counts current. Read at every plan, it was most of a plan's cost at 100,000
        # mailboxes (0.5 s of a worker's 0.8 s).
        if (
            self.network_read is None
            or dates != self.network_read[1]
            or now - self.network_read[0] >= NETWORK_MAX_AGE
        ):
            self.network_refresh = NetworkRefresh()
            self.network_read = now, dates
            self.planned_late = 0

    @property
    def plan_margin(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.config.cron_interval_minutes)

    def plan_chunks(self, stats: CycleStats, seconds: float) -> bool:
        """Plan chunks of the sweep under way: one, then more while the next one is
        expected to end within `seconds`. Whether there is more to plan: False when no
        sweep is under way, it has just ended, or another planner holds it."""
        started = time.monotonic()
        while True:
            chunk_started = time.monotonic()
            now = self.clock()
            chunk = planner.plan_chunk(
                now, floor=self.config.min_daily_quota, margin=self.plan_margin
            )
            if chunk is None:
                return False
            stats.planned_mailboxes += chunk.mailboxes
            stats.planned_slots += chunk.slots
            self.planned_late += chunk.late
            if chunk.swept:
                if self.planned_late:
                    # Mailboxes whose day began unplanned can receive from now on, not
                    # from the next plan. A day planned ahead needs no refresh: the
                    # mailbox receives on the day it is in.
                    self.network_refresh = NetworkRefresh()
                    self.planned_late = 0
                return False
            took = time.monotonic() - chunk_started
            if self.stopping or time.monotonic() - started + took > seconds:
                return True

    def refresh_network(self) -> bool:
        """A step of the network's refresh under way; whether it goes on."""
        if self.network_refresh is None:
            return False
        network = self.network_refresh.step(self.clock())
        if network is None:
            return True
        self.network, self.network_refresh = network, None
        return False

    def send_batch(self, ids: list[int], network: Network, stats: CycleStats) -> None:
        """Pick a recipient for each claimed slot, compose its message, send them, record
        the results. A fixed number of statements whatever the batch's size."""
        now = self.clock()
        slots = read_claimed(ids, now)
        originals = self._replies(
            [s.in_reply_to_id for s in slots if s.in_reply_to_id],
            threads.originals_of(s.day for s in slots if s.in_reply_to_id),
        )
        recipients = self._pick(slots, originals, network)
        batch = self._compose_batch(slots, recipients, originals, now)
        self._release(batch.unpaired, now, now + UNPAIRED_RETRY, "no recipient in the network fits")
        stats.unpaired += len(batch.unpaired)
        if (
            batch.unpaired
            and self.network_refresh is None
            and (
                self.unpaired_refresh_at is None or now >= self.unpaired_refresh_at + UNPAIRED_RETRY
            )
        ):
            # Nobody fit: the network may be older than the days planned since (another
            # worker's sweep, a worker started before the day's plan): read it again.
            self.network_refresh = NetworkRefresh()
            self.unpaired_refresh_at = now
        self._stop_broken(batch.broken, [(s.id, s.sender.id) for s in slots], now)
        for sender_id, why in batch.waiting.items():
            self._release(
                [s.id for s in slots if s.sender.id == sender_id], now, now + TOKEN_RETRY, why
            )
        self._send(batch, now, stats)

    def _pick(
        self, slots: list[ClaimedSlot], originals: dict[int, _Original], network: Network
    ) -> list[int | None]:
        """Each slot's recipient: a reply goes back to its original's sender, every other
        slot is paired from the network (None when nobody there fits)."""
        fresh = [s.sender.peer for s in slots if not s.in_reply_to_id]
        paired = iter(pair_recipients(fresh, network, self.rng))
        return [
            getattr(originals.get(s.in_reply_to_id), "recipient_id", None)
            if s.in_reply_to_id
            else getattr(next(paired), "id", None)
            for s in slots
        ]

    def _compose_batch(
        self,
        slots: list[ClaimedSlot],
        recipients: list[int | None],
        originals: dict[int, _Original],
        now: dt.datetime,
    ) -> _Composed:
        """The message of each paired slot, in its sender's group. A sender whose secret
        cannot be read or whose message cannot be composed is broken: none of its slots
        go out."""
        emails = dict(
            Mailbox.objects.filter(id__any={r for r in recipients if r}).values_list("id", "email")
        )
        batch = _Composed()
        accounts: dict[int, Account] = {}
        envelopes: dict[int, list[Envelope]] = {}
        for slot, recipient in zip(slots, recipients, strict=True):
            sender = slot.sender
            if recipient not in emails:
                # Nobody fits, or the one picked was deleted since the network was read
                # (the slot waits, and the network is read again): not the sender's fault.
                batch.unpaired.append(slot.id)
                continue
            if sender.id in batch.broken or sender.id in batch.waiting:
                continue
            try:
                if sender.id not in accounts:
                    accounts[sender.id] = self._login(sender, now)
                    envelopes[sender.id] = []
                    batch.senders[sender.id] = sender
                original = originals.get(slot.in_reply_to_id) if slot.in_reply_to_id else None
                message, thread = self._compose(slot, emails[recipient], original, now)
            except crypto.SecretError as exc:
                batch.broken[sender.id] = str(exc)
                continue
            except tokens.TokenError as exc:
                batch.waiting[sender.id] = f"no access token: {exc}"[:500]
                continue
            except Exception as exc:
                # One mailbox's data must not cost the batch: it stops with the reason.
                log.exception("mailbox %s: composing slot %s failed", sender.id, slot.id)
                batch.broken[sender.id] = f"composing a message failed: {type(exc).__name__}"
                continue
            envelopes[sender.id].append(
                Envelope(slot.id, sender.email, emails[recipient], message.data)
            )
            batch.outgoing[slot.id] = _Outgoing(
                slot.day,
                sender.id,
                recipient,
                message.message_id,
                thread,
                slot.attempts,
                slot.scheduled_at,
                sender.timezone,
            )
        # A sender that broke on a later slot may have earlier ones composed: none go out.
        batch.groups = {
            sender_id: Group(account, envelopes[sender_id])
            for sender_id, account in accounts.items()
            if sender_id not in batch.broken
        }
        batch.outgoing = {
            slot_id: out
            for slot_id, out in batch.outgoing.items()
            if out.sender_id not in batch.broken
        }
        return batch

    def _login(self, sender: _Sender, now: dt.datetime) -> Account:
        """The sender's SMTP login: a password login as decrypted before, if it was."""
        if sender.auth_method != AUTH_PASSWORD:
            return sender.account(now)  # tokens expire: accounts.tokens keeps them
        account = self.password_logins.get(sender)
        if account is None:
            if len(self.password_logins) >= PASSWORD_LOGINS_KEPT:
                self.password_logins.clear()
            account = self.password_logins[sender] = sender.account(now)
        return account

    def _send(self, batch: _Composed, now: dt.datetime, stats: CycleStats) -> None:
        """Send the groups and record what happened to each slot."""
        # From here a slot may reach a server: if this worker dies now, the reaper must
        # not plan it again, and engagement must still know the message by its
        # Message-ID (with WARMUP_TAG_MODE=none nothing else in it says it is ours).
        sql.update_slots(
            ("id", "day", "started_at", "recipient_id", "message_id", "thread_id"),
            [
                (slot_id, out.day, now, out.recipient_id, out.message_id, out.thread_id)
                for slot_id, out in batch.outgoing.items()
            ],
        )
        results = self.run_async(self.transport.send_batch(list(batch.groups.values())))
        results = self._retry_rejected_tokens(batch, results, now)
        # Cut by the batch's deadline before their turn: nobody's fault, due again now.
        waiting = [r for r in results if r.outcome is Outcome.NOT_ATTEMPTED]
        self._release([r.slot_id for r in waiting], now, now, waiting[0].text if waiting else "")
        stats.not_attempted += len(waiting)
        finished = [
            Sent(result, *batch.outgoing[result.slot_id])
            for result in results
            if result.outcome is not Outcome.NOT_ATTEMPTED
        ]
        for send in finished:
            if send.result.outcome in (Outcome.HOST_REFUSED, Outcome.ERROR):
                log.warning("mailbox %s: %s", send.sender_id, send.result.text)
        try:
            stats.outcomes.update(record_results(self.clock(), finished, self.rng))
        except DatabaseError:
            self.unrecorded.extend(finished)
            raise

    def _retry_rejected_tokens(
        self, batch: _Composed, results: list[Result], now: dt.datetime
    ) -> list[Result]:
        """A token the server refused (535, or the 334 JSON challenge) may have been
        revoked or expired early: each such sender gets one fresh token and its group one
        more try. Still refused, the result stands and recording pauses the mailbox."""
        refused = {r.slot_id for r in results if r.outcome is Outcome.AUTH_FAILED}
        retry: list[Group] = []
        for sender_id, group in batch.groups.items():
            if not group.account.uses_token or not any(
                e.slot_id in refused for e in group.envelopes
            ):
                continue
            try:
                account = batch.senders[sender_id].account(now, rejected=group.account.access_token)
            except (tokens.TokenError, crypto.SecretError) as exc:
                log.warning("mailbox %s: no fresh token after a refusal: %s", sender_id, exc)
                continue
            retry.append(Group(account, group.envelopes))
        if not retry:
            return results
        again = {r.slot_id: r for r in self.run_async(self.transport.send_batch(retry))}
        return [again.get(r.slot_id, r) for r in results]

    def _compose(
        self, slot: ClaimedSlot, recipient_email: str, original: _Original | None, now: dt.datetime
    ) -> tuple[content.Composed, str]:
        """The message of one slot and its thread id: a reply to `original`, or new. Its
        text comes from the slot id, so a later reply can quote it (content.body_text)."""
        sender = slot.sender
        party = content.Party(
            sender.email,
            sender.display_name,
            writing_language(sender.language, sender.email, sender.timezone),
        )
        mode = self.config.tag_mode
        token = content.make_token(slot.id, self.token_secret) if mode != "none" else ""
        if original is not None:
            message = content.compose_reply(
                slot_id=slot.id,
                sender=party,
                recipient=original.sender or content.Party(recipient_email),
                original=content.Original(
                    slot_id=original.slot_id,
                    subject=original.subject,
                    message_id=original.message_id,
                    # "On <date>, … wrote:" as the replier's mail client shows it.
                    sent_at=pacing.local_time(original.sent_at or now, sender.timezone),
                    topic=original.topic,
                    references=original.references,
                    was_reply=original.was_reply,
                    language=original.language,
                ),
                now=now,
                token=token,
                tag_mode=mode,
            )
            return message, original.thread_id
        subject, topic = content.subject_for(sender.id, slot.day, slot.slot_no, party.language)
        message = content.compose(
            slot_id=slot.id,
            sender=party,
            recipient=content.Party(recipient_email),
            subject=subject,
            topic=topic,
            now=now,
            token=token,
            tag_mode=mode,
        )
        return message, message.message_id

    def _replies(
        self, original_ids: list[int], days: tuple[dt.date, dt.date]
    ) -> dict[int, _Original]:
        """The sends these reply slots answer, each with its thread up to it (one statement
        for the batch): the thread's subject and topic (its first message's, recomputed in
        its sender's language, the thread's), the Message-IDs before it, its own Message-ID,
        slot, send time and sender (now the recipient), for the reply's quote."""
        out = {}
        for slot_id, chain in threads.chains(original_ids, days).items():
            if not chain:  # deleted since the claim: _pick finds no recipient for the reply
                continue
            first, original = chain[0], chain[-1]
            language = writing_language(
                first.sender_language, first.sender_email, first.sender_timezone
            )
            subject, topic = content.subject_for(
                first.sender_id, first.day, first.slot_no, language
            )
            out[slot_id] = _Original(
                recipient_id=original.sender_id,
                subject=subject,
                message_id=original.message_id,
                thread_id=original.thread_id or first.message_id,
                references=" ".join(t.message_id for t in chain[:-1] if t.message_id),
                slot_id=original.id,
                topic=topic,
                sent_at=original.sent_at,
                was_reply=len(chain) > 1,
                sender=content.Party(original.sender_email, original.sender_name, language),
                language=language,
            )
        return out

    def _release(
        self, slot_ids: list[int], now: dt.datetime, due_at: dt.datetime, why: str
    ) -> None:
        """Give claimed slots back, not attempted: due again at `due_at`."""
        if slot_ids:
            SendLog.objects.filter(
                id__any=slot_ids,
                day__range=partitions.in_flight(now),  # only the partitions of days in flight
                status=SendStatus.SENDING,
            ).update(
                status=SendStatus.PLANNED,
                attempts=F("attempts") - 1,  # nothing was attempted
                scheduled_at=due_at,
                smtp_error=why,
                timestamp=now,
                worker="",
            )

    def _stop_broken(
        self, broken: dict[int, str], slots: list[tuple[int, int]], now: dt.datetime
    ) -> None:
        """Mailboxes whose secret cannot be read or whose message cannot be composed:
        error with the reason, slots back."""
        if not broken:
            return
        for mailbox_id, reason in broken.items():
            log.error("mailbox %s stopped: %s", mailbox_id, reason)
            Mailbox.objects.filter(id=mailbox_id).stop_with_error(reason, now)
        self._release(
            [slot_id for slot_id, sender_id in slots if sender_id in broken],
            now,
            now + UNPAIRED_RETRY,
            "mailbox stopped: see its status reason",
        )
