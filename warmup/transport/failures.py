"""A network failure in words, the same for both transports: never a server's bytes, never
an address, never more than the kind of failure (what a connection test may answer)."""

from __future__ import annotations

import socket
import ssl


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
