"""Trying a mailbox's SMTP and IMAP logins (the API's connection test): short timeouts,
the servers' replies, never a password."""

from __future__ import annotations

import asyncio
from typing import Any

from accounts import crypto
from accounts.models import Mailbox
from warmup.transport import imap, smtp

TIMEOUT_S = 10


def try_logins(box: Mailbox, timeout: float = TIMEOUT_S) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    try:
        account = smtp.SmtpAccount(
            box.smtp_host, box.smtp_port, box.smtp_security, box.smtp_username, box.smtp_password
        )
    except crypto.SecretError as exc:
        results["smtp"] = {"ok": False, "reply": str(exc)}
    else:
        check = asyncio.run(smtp.check_login(account, timeout=timeout))
        results["smtp"] = {"ok": check.ok, "reply": check.reply}
    try:
        password = box.imap_password
    except crypto.SecretError as exc:
        results["imap"] = {"ok": False, "reply": str(exc)}
    else:
        check = imap.check_login(
            box.imap_host,
            box.imap_port,
            box.imap_security,
            box.imap_username,
            password,
            timeout=timeout,
        )
        results["imap"] = {"ok": check.ok, "reply": check.reply}
    return results
