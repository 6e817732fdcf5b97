"""Where and as whom a mailbox logs in: the one thing the SMTP and IMAP transports are
given of it (Mailbox.smtp_account() and imap_account() build it, its secret decrypted).

With a password it logs in as it always has; with an OAuth 2.0 access token (Google
Workspace, Microsoft 365), by SASL XOAUTH2 — or OAUTHBEARER (RFC 7628) where a server
offers only that — and never with the password."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Account:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str
    password: str = field(repr=False)  # never in a repr, a log line or a traceback
    access_token: str = field(default="", repr=False)  # an OAuth 2.0 bearer token

    @property
    def uses_token(self) -> bool:
        return bool(self.access_token)

    def with_token(self, access_token: str) -> Account:
        """This account logging in with `access_token` instead of a password."""
        return replace(self, password="", access_token=access_token)
