"""Where and as whom a mailbox logs in: the one thing the SMTP and IMAP transports are
given of it (Mailbox.smtp_account() and imap_account() build it, its password decrypted)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Account:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str
    password: str = field(repr=False)  # never in a repr, a log line or a traceback
