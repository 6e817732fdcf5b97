"""What the transports pass on of a server, the same for SMTP and IMAP: a reply as one
printable line, a network failure as its kind in words (never a server's bytes, never an
address: what a connection test may answer to anyone), and a login check's outcome."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass


@dataclass(frozen=True)
class LoginCheck:
    """Whether a server let us in, and what it said (never the password, and only a
    recognised reply line of the protocol, never other bytes of whatever answered)."""

    ok: bool
    reply: str
    refused: bool = False  # the host was refused (warmup_project.hosts): nothing was tried


def printable_line(text: str) -> str:
    """The first line of `text`, printable ASCII only (anything else a "?"), cut short."""
    first = text.splitlines()[0] if text else ""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in first)[:200]


def network_failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection failed: refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "connection failed: the server's TLS certificate is not trusted"
    if isinstance(exc, ssl.SSLError):
        return "connection failed: TLS failed"
    if isinstance(exc, socket.gaierror):
        return "connection failed: the host name does not resolve"
    return f"connection failed: {type(exc).__name__}"
