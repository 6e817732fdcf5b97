"""IMAP with imapclient. Knows nothing of the database."""

from __future__ import annotations

import contextlib
import ssl

import imapclient
from imapclient.exceptions import IMAPClientError

from warmup.transport.smtp import LoginCheck


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def check_login(
    host: str,
    port: int,
    security: str,
    username: str,
    password: str,
    *,
    timeout: float = 10,
    tls_context: ssl.SSLContext | None = None,
) -> LoginCheck:
    """Connect (ssl | starttls | none), log in, log out."""
    try:
        client = imapclient.IMAPClient(
            host, port=port, ssl=security == "ssl", ssl_context=tls_context, timeout=timeout
        )
    except (OSError, IMAPClientError) as exc:
        return LoginCheck(False, f"connection failed: {type(exc).__name__}: {exc}"[:500])
    try:
        if security == "starttls":
            client.starttls(tls_context)
        reply = client.login(username, password)
        return LoginCheck(True, _text(reply)[:500])
    except (IMAPClientError, OSError) as exc:
        return LoginCheck(False, f"{type(exc).__name__}: {_text(exc)}"[:500])
    finally:
        try:
            client.logout()
        except (IMAPClientError, OSError):
            with contextlib.suppress(OSError):  # already gone
                client.shutdown()
