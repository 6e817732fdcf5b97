"""Sending over SMTP with aiosmtplib. Knows nothing of the database.

A batch is a list of groups, one per sender; each group is sent over one connection.
`max_concurrent` lanes take groups from a queue; each lane waits a random stagger
before each send, so starts are spread out the way a person's sends would be.

Classification (DESIGN.md, "Record"): a 2xx answer to the final "." → sent; a 4xx, or a
network error before the final "." → deferred; a 5xx → failed; a refused login or a
quota reply (5.4.5, "quota", "limit exceeded") → the mailbox is paused; no answer after
the final "." → unknown (it may have been delivered: never sent again).

Containment: whatever goes wrong in one group — a host that is no host name or resolves
to a refused address (`host_refused`), any unexpected exception (`error`), a server too
slow for the batch's deadline — ends as results of that group's own envelopes; it never
escapes into the batch. The batch has a deadline (`deadline_s`): when it passes, the
groups still at work are cut and settled (the send in flight `unknown` if its message
may have left, else `deferred`; both marked `slow`, so the engine backs the mailbox off)
and groups that never got a lane are `not_attempted` (nobody's fault: planned again).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import logging
import random
import re
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from accounts.transport.account import Account
from accounts.transport.replies import LoginCheck, network_failure, printable_line
from warmup_project import hosts

log = logging.getLogger("warmup.smtp")


class Outcome(enum.StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    UNKNOWN = "unknown"
    AUTH_FAILED = "auth_failed"
    QUOTA = "quota"
    HOST_REFUSED = "host_refused"  # the mailbox's host cannot be used as it is: it stops
    ERROR = "error"  # anything unexpected, in this mailbox's group only
    NOT_ATTEMPTED = "not_attempted"  # the deadline came before the group's turn


@dataclass(frozen=True)
class Envelope:
    slot_id: int
    mail_from: str
    rcpt_to: str
    message: bytes = field(repr=False)


@dataclass(frozen=True)
class Group:
    account: Account
    envelopes: Sequence[Envelope]


@dataclass(frozen=True)
class Result:
    slot_id: int
    outcome: Outcome
    code: int | None = None
    text: str = ""
    slow: bool = False  # the server did not answer in time: its mailbox is backed off


# How long lanes get to stop once the deadline has cut them (they are disconnected).
CUT_GRACE_S = 5
_QUOTA = re.compile(r"\b5\.4\.5\b|quota|limit exceeded|too many messages", re.IGNORECASE)
_TIMEOUTS = (TimeoutError, aiosmtplib.SMTPTimeoutError)
# What a connection can raise that is the server's or the network's doing.
_NETWORK = (aiosmtplib.SMTPException, OSError, TimeoutError)


def classify_reply(code: int, text: str) -> Outcome:
    if 200 <= code < 300:
        return Outcome.SENT
    if code == 535 or code == 534 or code == 530:
        return Outcome.AUTH_FAILED
    if 400 <= code < 500:
        return Outcome.DEFERRED
    if _QUOTA.search(text):
        return Outcome.QUOTA
    return Outcome.FAILED


def reply_line(code: int, message: str) -> str:
    """A server's reply as we pass it on: an SMTP reply code and the first line of its
    text, printable ASCII only, cut short. A reply that is not SMTP (another service on
    that port, binary noise) is named as such and never quoted."""
    if not 200 <= code <= 599:
        return "the server's reply is not SMTP"
    return f"{code} {printable_line(message)}".rstrip()


def _reply_text(exc: aiosmtplib.SMTPResponseException) -> str:
    return reply_line(exc.code, exc.message)


def _failure(exc: BaseException) -> str:
    """A network failure in words, never quoting what a server sent."""
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, aiosmtplib.SMTPConnectError) and not isinstance(exc, TimeoutError):
        return network_failure(exc.__cause__ or exc)  # aiosmtplib wraps the socket's error
    return network_failure(exc)


async def _open_socket(targets: list[hosts.Target], timeout: float) -> socket.socket:
    """A connected socket to the first checked address that answers."""
    loop = asyncio.get_running_loop()
    last: BaseException = OSError("no address")
    for target in targets:
        sock = socket.socket(target.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (target.address, target.port)), timeout)
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc
        except BaseException:
            sock.close()
            raise
        else:
            return sock
    raise last


async def _connect(
    account: Account,
    *,
    connect_timeout: float,
    command_timeout: float,
    tls_context: ssl.SSLContext | None,
    allow_private: bool,
) -> tuple[aiosmtplib.SMTP, aiosmtplib.SMTPResponse]:
    """A client connected to a checked address of the account's host (never to the name
    resolved again), secured as the account says; TLS checks the certificate against the
    host name. `connect_timeout` bounds the connection and the greeting (and TLS),
    `command_timeout` each later reply. Raises hosts.HostRefused for a host that cannot
    be used."""
    targets = await hosts.resolve_async(account.host, account.port, allow_private=allow_private)
    sock = await _open_socket(targets, connect_timeout)
    client = aiosmtplib.SMTP(
        hostname=account.host,
        sock=sock,
        use_tls=account.security == "ssl",
        start_tls=account.security == "starttls",
        tls_context=tls_context,
        timeout=command_timeout,
    )
    try:
        response = await client.connect(timeout=connect_timeout)
    except BaseException:
        client.close()
        sock.close()
        raise
    return client, response


async def _data(client: aiosmtplib.SMTP, message: bytes, handing_over: Callable[[], None]) -> str:
    """DATA in its two halves: until the server's 354 nothing of the message has left (a
    failure then is `deferred`); from there the message and its final "." may have (a
    failure is `unknown`). `handing_over` is called in between. aiosmtplib's own data()
    does both in one call, which would hide the difference. Returns the final reply line
    or raises SMTPResponseException with it."""
    start = await client.execute_command(b"DATA")
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    handing_over()
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("connection lost")
    body = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"
    try:
        # The reply is awaited right after the write, with no await between: aiosmtplib
        # keeps a reply that arrives once read_response has started waiting.
        protocol.write(body)
        response = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return reply_line(response.code, response.message)


class _Cut(Exception):
    """Raised in a lane that goes on after the batch's deadline: it starts nothing new."""


@dataclass
class _Progress:
    """Where one group stands, so that a cut at the deadline settles every envelope."""

    envelopes: Sequence[Envelope]
    results: list[Result] = field(default_factory=list)
    handed_over: int | None = None  # slot whose message may have left, awaiting its reply
    waiting_on_server: bool = False  # False while the lane sleeps its own stagger
    client: aiosmtplib.SMTP | None = None
    is_cut: bool = False  # the deadline passed: the batch settles what is left

    def check(self) -> None:
        """Before anything new goes to the server: nothing does once the group is cut."""
        if self.is_cut:
            raise _Cut

    def finish(self, outcome: Outcome, text: str, *, slow: bool = False) -> list[Result]:
        """Every envelope without a result gets `outcome`, but the one whose message may
        have left, which is `unknown` (never sent again)."""
        done = {r.slot_id for r in self.results}
        for envelope in self.envelopes:
            if envelope.slot_id in done:
                continue
            if envelope.slot_id == self.handed_over:
                result = Result(
                    envelope.slot_id, Outcome.UNKNOWN, None, f"no reply: {text}", slow=slow
                )
            else:
                result = Result(envelope.slot_id, outcome, None, text, slow=slow)
            self.results.append(result)
        return self.results

    def cut(self, why: str) -> list[Result]:
        """Settled at the deadline: a server keeping us waiting made its mailbox slow; a
        lane cut in its own stagger attempted nothing more."""
        if self.waiting_on_server or self.handed_over is not None:
            return self.finish(Outcome.DEFERRED, f"not sent: {why}", slow=True)
        return self.finish(Outcome.NOT_ATTEMPTED, f"not attempted: {why}")


class SmtpTransport:
    def __init__(
        self,
        *,
        max_concurrent: int,
        stagger_ms: tuple[int, int],
        rng: random.Random,
        connect_timeout: float = 20,
        command_timeout: float = 60,
        deadline_s: float | None = None,
        allow_private: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.stagger_ms = stagger_ms
        self.rng = rng
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        # The batch's whole SMTP work; None: no deadline but the per-command timeouts.
        self.deadline_s = deadline_s
        self.allow_private = allow_private
        self.sleep = sleep
        # None: the system's trust store and host name checks (tests pass their own CA).
        self.tls_context = tls_context

    async def _stagger(self, state: _Progress) -> None:
        low, high = self.stagger_ms
        state.waiting_on_server = False
        if high > 0:
            await self.sleep(self.rng.uniform(low, high) / 1000)
        state.check()
        state.waiting_on_server = True

    async def send_batch(self, groups: Sequence[Group]) -> list[Result]:
        """One result per envelope of every group, by the deadline; never raises for a
        group's trouble."""
        queue = deque(groups)
        progress: dict[int, _Progress] = {}
        deadline_passed = False

        async def lane() -> None:
            while queue and not deadline_passed:
                group = queue.popleft()
                state = progress[id(group)] = _Progress(group.envelopes)
                await self.send_group(group, state)

        lanes = [
            asyncio.ensure_future(lane()) for _ in range(min(self.max_concurrent, len(groups)))
        ]
        if not lanes:
            return []
        _, late = await asyncio.wait(lanes, timeout=self.deadline_s)
        if late:
            # Marked, disconnected, then cancelled: Python 3.11's wait_for can swallow a
            # cancellation that meets a reply, and a lane that goes on must neither wait
            # on its server again nor hand over another message (its sends are settled
            # below). The mark stops it before any new command, the closed connection
            # ends any wait at once.
            deadline_passed = True
            for state in progress.values():
                state.is_cut = True
                if state.client is not None:
                    state.client.close()
            for task in late:
                task.cancel()
            _, stuck = await asyncio.wait(late, timeout=CUT_GRACE_S)
            if stuck:
                log.error("%d SMTP lanes still ran %gs after the deadline", len(stuck), CUT_GRACE_S)
        why = f"the batch's deadline of {self.deadline_s or 0:g}s passed"
        results: list[Result] = []
        for group in groups:
            state = progress.get(id(group)) or _Progress(group.envelopes)
            results.extend(state.cut(why))  # a group that finished has nothing left to cut
        return results

    async def send_group(self, group: Group, state: _Progress | None = None) -> list[Result]:
        """Every envelope of one sender over one connection; never raises, but for the
        cancellation of the deadline, after which the batch settles what is left."""
        state = state or _Progress(group.envelopes)
        try:
            await self._send_group(group, state)
        except (asyncio.CancelledError, _Cut):
            if not state.is_cut:
                raise  # not the deadline's doing: whoever cancelled settles
        except hosts.HostRefused as exc:
            state.finish(Outcome.HOST_REFUSED, f"SMTP {exc}")
        except Exception as exc:
            if not state.is_cut:
                # Our bug or a library's, on this mailbox's data or its server's bytes:
                # the mailbox's failure (and its circuit breaker), never the batch's.
                slots = [e.slot_id for e in group.envelopes]
                log.exception("SMTP send of slots %s failed unexpectedly", slots)
                state.finish(Outcome.ERROR, f"unexpected error: {type(exc).__name__}")
        else:
            if not state.is_cut:
                state.finish(Outcome.DEFERRED, "not sent: the connection was lost")
        return state.results

    async def _send_group(self, group: Group, state: _Progress) -> None:
        account = group.account
        await self._stagger(state)
        try:
            client, _ = await _connect(
                account,
                connect_timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                tls_context=self.tls_context,
                allow_private=self.allow_private,
            )
        except _NETWORK as exc:
            state.check()
            state.results = [_refused_connection(e, exc) for e in group.envelopes]
            return
        state.client = client
        try:
            state.check()
            if account.username:
                try:
                    await _login(client, account)
                except _NETWORK as exc:
                    state.check()
                    state.results = [_refused_connection(e, exc) for e in group.envelopes]
                    return
            for index, envelope in enumerate(group.envelopes):
                if index:
                    await self._stagger(state)
                result = await self._send_one(client, envelope, state)
                state.check()  # cut meanwhile: the batch settles this envelope too
                state.results.append(result)
                state.handed_over = None
                if result.outcome in (Outcome.UNKNOWN, Outcome.AUTH_FAILED, Outcome.QUOTA):
                    break  # the connection is in doubt, or the mailbox must stop
                if result.outcome is not Outcome.SENT and client.is_connected:
                    try:
                        await client.rset()
                    except _NETWORK:
                        break  # the rest of the group: deferred, connection lost
                if not client.is_connected:
                    break
            if client.is_connected:
                with contextlib.suppress(*_NETWORK):
                    await asyncio.wait_for(client.quit(), 5)
        finally:
            client.close()  # a no-op after QUIT; at a cut or an error, no QUIT to wait for

    async def _send_one(
        self, client: aiosmtplib.SMTP, envelope: Envelope, state: _Progress
    ) -> Result:
        """One envelope's result; `state.handed_over` names it from the server's 354 on
        (the caller clears it once the result is kept)."""
        slot = envelope.slot_id
        state.check()
        try:
            await client.mail(envelope.mail_from)
            await client.rcpt(envelope.rcpt_to)
        except aiosmtplib.SMTPResponseException as exc:
            return _replied(slot, exc)
        except _NETWORK as exc:
            return _network_failure(slot, Outcome.DEFERRED, exc)

        def handing_over() -> None:
            state.check()  # never a message after the deadline
            state.handed_over = slot

        try:
            reply = await _data(client, envelope.message, handing_over)
        except aiosmtplib.SMTPResponseException as exc:
            return _replied(slot, exc)
        except _NETWORK as exc:
            # After the 354 the message may have reached the server: never send it again.
            outcome = Outcome.UNKNOWN if state.handed_over == slot else Outcome.DEFERRED
            return _network_failure(slot, outcome, exc)
        return Result(slot, Outcome.SENT, 250, reply)


def _replied(slot: int, exc: aiosmtplib.SMTPResponseException) -> Result:
    """A server's answer to a command: classified by its code."""
    if exc.code < 0:  # not an SMTP reply at all
        return Result(slot, Outcome.FAILED, None, _reply_text(exc))
    return Result(slot, classify_reply(exc.code, exc.message), exc.code, _reply_text(exc))


def _network_failure(slot: int, outcome: Outcome, exc: BaseException) -> Result:
    slow = isinstance(exc, _TIMEOUTS)
    prefix = "no reply to the message: " if outcome is Outcome.UNKNOWN else ""
    return Result(slot, outcome, None, prefix + _failure(exc), slow=slow)


def _refused_connection(envelope: Envelope, exc: BaseException) -> Result:
    """The result of an envelope whose connection or login failed: nothing was sent."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return Result(envelope.slot_id, Outcome.AUTH_FAILED, exc.code, _reply_text(exc))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        result = _replied(envelope.slot_id, exc)
        if result.outcome is Outcome.SENT:  # a 2xx where a refusal was raised: try later
            return Result(envelope.slot_id, Outcome.DEFERRED, result.code, result.text)
        return result
    return _network_failure(envelope.slot_id, Outcome.DEFERRED, exc)


async def _login(client: aiosmtplib.SMTP, account: Account) -> aiosmtplib.SMTPResponse:
    """Log in as the account does: with its password (the mechanism aiosmtplib picks
    among those offered), or with its access token by XOAUTH2, or OAUTHBEARER (RFC 7628)
    where the server offers only that. Raises SMTPAuthenticationError when refused; the
    token is in no message (a server's refusal is a JSON challenge, answered empty)."""
    if not account.uses_token:
        return await client.login(account.username, account.password)
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    offered = client.server_auth_methods
    if "xoauth2" in offered or "oauthbearer" not in offered:
        # A server offering neither refuses XOAUTH2 itself: its reply says what it wants.
        return await client.auth_xoauth2(account.username, account.access_token)
    identity = account.username.replace("=", "=3D").replace(",", "=2C")
    initial = f"n,a={identity},\x01auth=Bearer {account.access_token}\x01\x01"
    response = await client.execute_command(
        b"AUTH", b"OAUTHBEARER", base64.b64encode(initial.encode())
    )
    if response.code == 334:  # the error challenge: RFC 7628 answers it with ^A
        response = await client.execute_command(base64.b64encode(b"\x01"))
    if response.code != 235:
        raise aiosmtplib.SMTPAuthenticationError(response.code, response.message)
    return response


async def check_login(
    account: Account,
    *,
    timeout: float = 10,
    tls_context: ssl.SSLContext | None = None,
    allow_private: bool = False,
) -> LoginCheck:
    """Connect to a checked address, secure the connection as configured, log in, quit:
    all within `timeout` seconds, whatever the server does."""
    client: aiosmtplib.SMTP | None = None
    try:
        async with asyncio.timeout(timeout):
            client, response = await _connect(
                account,
                connect_timeout=timeout,
                command_timeout=timeout,
                tls_context=tls_context,
                allow_private=allow_private,
            )
            if account.username:
                response = await _login(client, account)
            with contextlib.suppress(*_NETWORK):
                await client.quit()
            return LoginCheck(True, reply_line(response.code, response.message))
    except hosts.HostRefused as exc:
        return LoginCheck(False, f"SMTP {exc}", refused=True)
    except aiosmtplib.SMTPResponseException as exc:
        return LoginCheck(False, _reply_text(exc))
    except _NETWORK as exc:
        return LoginCheck(False, _failure(exc))
    finally:
        if client is not None:
            client.close()
