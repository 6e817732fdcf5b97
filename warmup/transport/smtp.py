"""Sending over SMTP with aiosmtplib. Knows nothing of the database.

A batch is a list of groups, one per sender; each group is sent over one connection.
`max_concurrent` lanes take groups from a queue; each lane waits a random stagger
before each send, so starts are spread out the way a person's sends would be.

Classification (DESIGN.md, "Record"): a 2xx answer to the final "." → sent; a 4xx, or a
network error before the final "." → deferred; a 5xx → failed; a refused login or a
quota reply (5.4.5, "quota", "limit exceeded") → the mailbox is paused; no answer after
the final "." → unknown (it may have been delivered: never sent again).
"""

from __future__ import annotations

import asyncio
import enum
import random
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiosmtplib


class Outcome(enum.StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    UNKNOWN = "unknown"
    AUTH_FAILED = "auth_failed"
    QUOTA = "quota"


@dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Envelope:
    slot_id: int
    mail_from: str
    rcpt_to: str
    message: bytes = field(repr=False)


@dataclass(frozen=True)
class Group:
    account: SmtpAccount
    envelopes: Sequence[Envelope]


@dataclass(frozen=True)
class Result:
    slot_id: int
    outcome: Outcome
    code: int | None = None
    text: str = ""


_QUOTA = re.compile(r"\b5\.4\.5\b|quota|limit exceeded|too many messages", re.IGNORECASE)


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


def _reply_text(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}"[:500]


def _client(
    account: SmtpAccount, timeout: float, tls_context: ssl.SSLContext | None
) -> aiosmtplib.SMTP:
    """A client secured as the account says: TLS from the first byte, STARTTLS, or none."""
    return aiosmtplib.SMTP(
        hostname=account.host,
        port=account.port,
        use_tls=account.security == "ssl",
        start_tls=account.security == "starttls",
        tls_context=tls_context,
        timeout=timeout,
    )


class SmtpTransport:
    def __init__(
        self,
        *,
        max_concurrent: int,
        stagger_ms: tuple[int, int],
        rng: random.Random,
        connect_timeout: float = 20,
        command_timeout: float = 60,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.stagger_ms = stagger_ms
        self.rng = rng
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.sleep = sleep
        # None: the system's trust store and host name checks (tests pass their own CA).
        self.tls_context = tls_context

    async def _stagger(self) -> None:
        low, high = self.stagger_ms
        if high > 0:
            await self.sleep(self.rng.uniform(low, high) / 1000)

    async def send_batch(self, groups: Sequence[Group]) -> list[Result]:
        queue: asyncio.Queue[Group] = asyncio.Queue()
        for group in groups:
            queue.put_nowait(group)
        results: list[Result] = []

        async def lane() -> None:
            while not queue.empty():
                group = queue.get_nowait()
                results.extend(await self.send_group(group))

        await asyncio.gather(*(lane() for _ in range(min(self.max_concurrent, len(groups)))))
        return results

    async def send_group(self, group: Group) -> list[Result]:
        """Every envelope of one sender over one connection; never raises."""
        pending = list(group.envelopes)
        account = group.account
        await self._stagger()
        client = _client(account, self.command_timeout, self.tls_context)
        try:
            await client.connect(timeout=self.connect_timeout)
            if account.username:
                await client.login(account.username, account.password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            return [
                Result(e.slot_id, Outcome.AUTH_FAILED, exc.code, _reply_text(exc)) for e in pending
            ]
        except aiosmtplib.SMTPResponseException as exc:
            outcome = classify_reply(exc.code, exc.message)
            outcome = Outcome.DEFERRED if outcome is Outcome.SENT else outcome
            return [Result(e.slot_id, outcome, exc.code, _reply_text(exc)) for e in pending]
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            text = f"connection failed: {type(exc).__name__}: {exc}"[:500]
            return [Result(e.slot_id, Outcome.DEFERRED, None, text) for e in pending]

        results: list[Result] = []
        try:
            for index, envelope in enumerate(pending):
                if index:
                    await self._stagger()
                result = await self._send_one(client, envelope)
                results.append(result)
                if result.outcome in (Outcome.UNKNOWN, Outcome.AUTH_FAILED, Outcome.QUOTA):
                    break  # the connection is in doubt, or the mailbox must stop
                if result.outcome is not Outcome.SENT and client.is_connected:
                    await client.rset()
                if not client.is_connected:
                    break
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass  # a broken RSET: the rest of the group is deferred below
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
        done = {r.slot_id for r in results}
        results.extend(
            Result(e.slot_id, Outcome.DEFERRED, None, "not attempted: connection lost")
            for e in pending
            if e.slot_id not in done
        )
        return results

    async def _send_one(self, client: aiosmtplib.SMTP, envelope: Envelope) -> Result:
        try:
            await client.mail(envelope.mail_from)
            await client.rcpt(envelope.rcpt_to)
        except aiosmtplib.SMTPResponseException as exc:
            return Result(
                envelope.slot_id, classify_reply(exc.code, exc.message), exc.code, _reply_text(exc)
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Result(
                envelope.slot_id, Outcome.DEFERRED, None, f"{type(exc).__name__}: {exc}"[:500]
            )
        try:
            response = await client.data(envelope.message)
        except aiosmtplib.SMTPResponseException as exc:
            return Result(
                envelope.slot_id, classify_reply(exc.code, exc.message), exc.code, _reply_text(exc)
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # The message may have reached the server: never send it again.
            return Result(
                envelope.slot_id, Outcome.UNKNOWN, None, f"no reply to DATA: {type(exc).__name__}"
            )
        return Result(
            envelope.slot_id,
            classify_reply(response.code, response.message),
            response.code,
            f"{response.code} {response.message}"[:500],
        )


@dataclass(frozen=True)
class LoginCheck:
    """Whether a server let us in, and what it said (never the password)."""

    ok: bool
    reply: str


async def check_login(
    account: SmtpAccount, *, timeout: float = 10, tls_context: ssl.SSLContext | None = None
) -> LoginCheck:
    """Connect, secure the connection as configured, log in, quit."""
    client = _client(account, timeout, tls_context)
    try:
        response = await client.connect(timeout=timeout)
        if account.username:
            response = await client.login(account.username, account.password)
        return LoginCheck(True, f"{response.code} {response.message}"[:500])
    except aiosmtplib.SMTPResponseException as exc:
        return LoginCheck(False, _reply_text(exc))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return LoginCheck(False, f"connection failed: {type(exc).__name__}: {exc}"[:500])
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
