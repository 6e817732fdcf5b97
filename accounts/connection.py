"""Trying a mailbox's SMTP and IMAP logins (the API's connection test).

Both logins run at once, under one deadline (TIMEOUT_S) whatever the servers do; the
answer holds only a recognised SMTP or IMAP reply line, never other bytes of whatever
answered, and never a password. The hosts are checked as the engine checks them
(warmup_project.hosts: no private target unless WARMUP_ALLOW_PRIVATE_HOSTS).

A test holds a web thread while it waits, so one process runs at most PARALLEL_TESTS at
a time and refuses more at once (ConnectionTestsBusy) instead of queueing: however many
arrive, the process keeps threads for everything else (`/healthz`, the API, the admin).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any

from django.conf import settings

from accounts import crypto, tokens
from accounts.models import Mailbox
from accounts.transport import imap, smtp
from accounts.transport.account import Account
from accounts.transport.replies import LoginCheck

TIMEOUT_S = 10
PARALLEL_TESTS = 2  # per process: gunicorn's 4 threads keep 2 for the rest
_running = threading.BoundedSemaphore(PARALLEL_TESTS)


class ConnectionTestsBusy(Exception):
    """This process runs PARALLEL_TESTS connection tests already."""


class HostsRefused(Exception):
    """A host of the mailbox is refused (warmup_project.hosts); `fields`: host field →
    why. Nothing was connected to."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(fields.values()))
        self.fields = fields


def try_logins(box: Mailbox, now: datetime) -> dict[str, dict[str, Any]]:
    """{"smtp": {"ok", "reply"}, "imap": {…}}; raises ConnectionTestsBusy or HostsRefused.
    A mailbox that logs in with a token gets it first (refreshed if it must be)."""
    if not _running.acquire(blocking=False):
        raise ConnectionTestsBusy
    try:
        logins = {side: _account(box, side, now) for side in ("smtp", "imap")}
        smtp_check, imap_check = asyncio.run(_both(logins, TIMEOUT_S))
    finally:
        _running.release()
    refused = {
        f"{side}_host": check.reply
        for side, check in (("smtp", smtp_check), ("imap", imap_check))
        if check.refused
    }
    if refused:
        raise HostsRefused(refused)
    return {
        "smtp": {"ok": smtp_check.ok, "reply": smtp_check.reply},
        "imap": {"ok": imap_check.ok, "reply": imap_check.reply},
    }


def _account(box: Mailbox, side: str, now: datetime) -> Account | LoginCheck:
    """The login of `side`, or why there is none (an unreadable secret, no token)."""
    try:
        return tokens.login_account(box, side, now)
    except (crypto.SecretError, tokens.TokenError) as exc:
        return LoginCheck(False, str(exc))


async def _both(
    logins: dict[str, Account | LoginCheck], timeout: float
) -> tuple[LoginCheck, LoginCheck]:
    allow_private = settings.WARMUP.allow_private_hosts

    async def smtp_login(account: Account | LoginCheck) -> LoginCheck:
        if isinstance(account, LoginCheck):
            return account
        return await smtp.check_login(account, timeout=timeout, allow_private=allow_private)

    async def imap_login(account: Account | LoginCheck) -> LoginCheck:
        if isinstance(account, LoginCheck):
            return account
        return await asyncio.to_thread(
            imap.check_login,
            account,
            timeout=timeout,
            allow_private=allow_private,
        )

    smtp_check, imap_check = await asyncio.gather(
        smtp_login(logins["smtp"]), imap_login(logins["imap"])
    )
    return smtp_check, imap_check
