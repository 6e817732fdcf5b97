"""A local SMTP server (aiosmtpd) that accepts and keeps mail: the demo's and the
benchmarks' destination, and the tests' real server. Optionally requires AUTH."""

from __future__ import annotations

import asyncio
import ssl
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# AUTH without TLS is this sink's purpose (loopback, made-up logins): aiosmtpd would say so
# at every session of `make run`.
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes = field(repr=False)
    login: str | None

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data, policy=policy.default)


# Decides the server's answer to DATA for a sender: None accepts ("250 OK"); a string is
# the reply line (e.g. "450 4.2.1 try later"); the string "stall" never answers.
Behaviour = Callable[[str, str | None], str | None]


class _Handler:
    def __init__(self, sink: SinkServer) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.sink.rcpt_behaviour(envelope.mail_from, _login(session))
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.sink.data_behaviour(envelope.mail_from, _login(session))
        if self.sink.data_delay_s:
            await asyncio.sleep(self.sink.data_delay_s)
        if reply == "stall":
            await asyncio.sleep(3600)
        if reply:
            return reply
        with self.sink.lock:
            self.sink.accepted += 1
            if self.sink.keep_messages:
                self.sink.received.append(
                    Received(
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        envelope.content,
                        _login(session),
                    )
                )
        return "250 2.0.0 OK: queued"


def _login(session: Any) -> str | None:
    """The login the session authenticated with (what `_authenticate` handed back)."""
    data = getattr(session, "auth_data", None)
    return data if isinstance(data, str) else None


def _accept(_mail_from: str, _login: str | None) -> str | None:
    return None


class SinkServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: dict[str, str] | None = None,
        data_behaviour: Behaviour = _accept,
        rcpt_behaviour: Behaviour = _accept,
        keep_messages: bool = True,
        any_login: bool = False,
        data_delay_s: float = 0,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        """users: the logins it accepts (AUTH then required); any_login: AUTH offered and
        every login accepted (the demo's mailboxes have made-up passwords)."""
        self.users = users
        self.keep_messages = keep_messages
        self.data_delay_s = data_delay_s  # a slow server: each DATA answered this late
        self.accepted = 0
        self.data_behaviour = data_behaviour
        self.rcpt_behaviour = rcpt_behaviour
        self.received: list[Received] = []
        self.lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        self.any_login = any_login
        if users is not None or any_login:
            kwargs.update(
                authenticator=self._authenticate, auth_required=True, auth_require_tls=False
            )
        if tls is not None and implicit_tls:
            kwargs["ssl_context"] = tls  # TLS from the first byte (port 465 style)
        elif tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        self.controller = Controller(
            _Handler(self),
            hostname=host,
            port=port or _free_port(host),
            ready_timeout=10,
            **kwargs,
        )

    @property
    def port(self) -> int:
        return self.controller.port

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.any_login or (self.users or {}).get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def start(self) -> SinkServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SinkServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
