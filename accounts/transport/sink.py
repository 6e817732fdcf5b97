"""A local SMTP server (aiosmtpd) that accepts and keeps mail: the demo's and the
benchmarks' destination, and the tests' real server. Optionally requires AUTH: by
password (PLAIN, LOGIN) and, given a token check, by OAuth 2.0 bearer token (XOAUTH2 and
OAUTHBEARER, as Gmail and Exchange Online offer them)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import ssl
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

# AUTH without TLS is this sink's purpose (loopback, made-up logins): aiosmtpd would say so
# at every session of `make run`, as a warning and as a log line, and log at every login
# that it set its own deprecated attribute (thousands of lines in a benchmark's output).
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
_AIOSMTPD_NOISE = (
    "auth_required == True but auth_require_tls == False",
    "Session.login_data is deprecated",
)
logging.getLogger("mail.log").addFilter(
    lambda record: not record.getMessage().startswith(_AIOSMTPD_NOISE)
)


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

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        return await _bearer_login(server, self.sink, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: Any, args: list[str]) -> AuthResult:
        return await _bearer_login(server, self.sink, args, "OAUTHBEARER")

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


# Asks whether a bearer token is good for a login: (login, token) → accepted. It raises
# TokenCheckUnavailable when it cannot tell (its authorization server is down).
TokenCheck = Callable[[str, str], bool]
TOKEN_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
REFUSED = "535 5.7.8 Username and Password not accepted"
UNAVAILABLE = "454 4.7.0 Temporary authentication failure"


class TokenCheckUnavailable(Exception):
    """The token check could not be made: a temporary failure, not a wrong token."""


@dataclass(frozen=True)
class TokenLogin:
    mechanism: str
    user: str
    accepted: bool


def parse_xoauth2(blob: bytes) -> tuple[str, str] | None:
    """(user, token) of `user=U^Aauth=Bearer T^A^A`, or None."""
    fields = dict(
        part.split("=", 1) for part in blob.decode(errors="replace").split("\x01") if "=" in part
    )
    user, auth = fields.get("user"), fields.get("auth", "")
    if not user or not auth.startswith("Bearer "):
        return None
    return user, auth.removeprefix("Bearer ")


def parse_oauthbearer(blob: bytes) -> tuple[str, str] | None:
    """(user, token) of RFC 7628's `n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A`, or None."""
    header, _, rest = blob.decode(errors="replace").partition("\x01")
    user = next((f[2:] for f in header.split(",") if f.startswith("a=")), "")
    fields = dict(part.split("=", 1) for part in rest.split("\x01") if "=" in part)
    auth = fields.get("auth", "")
    if not user or not auth.startswith("Bearer "):
        return None
    user = user.replace("=2C", ",").replace("=3D", "=")
    return user, auth.removeprefix("Bearer ")


_PARSERS = {"XOAUTH2": parse_xoauth2, "OAUTHBEARER": parse_oauthbearer}


async def _bearer_login(
    server: Any, sink: SinkServer, args: list[str], mechanism: str
) -> AuthResult:
    """XOAUTH2 and OAUTHBEARER as Gmail answers them: a refused token gets a 334
    challenge carrying a base64 JSON error, then, after the client's empty line
    (XOAUTH2) or ^A (OAUTHBEARER), 535. The token is never logged."""
    if len(args) > 1:  # the initial response, on the AUTH line
        try:
            blob = b"" if args[1] == "=" else base64.b64decode(args[1], validate=True)
        except binascii.Error:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Can't decode base64")
    else:
        answer = await server.challenge_auth("")
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        blob = answer
    credentials = _PARSERS[mechanism](blob)
    check = sink.check_token
    try:
        accepted = (
            credentials is not None
            and check is not None
            and await asyncio.to_thread(check, *credentials)
        )
    except TokenCheckUnavailable:
        return AuthResult(success=False, handled=False, message=UNAVAILABLE)
    with sink.lock:
        sink.token_logins.append(
            TokenLogin(mechanism, credentials[0] if credentials else "", accepted)
        )
    if accepted and credentials is not None:
        return AuthResult(success=True, auth_data=credentials[0])
    error = {"status": "invalid_token" if mechanism == "OAUTHBEARER" else "401"}
    if await server.challenge_auth(json.dumps({**error, "schemes": "Bearer"})) is MISSING:
        return AuthResult(success=False, handled=True)  # the client aborted with "*"
    return AuthResult(success=False, handled=False, message=REFUSED)


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
        check_token: TokenCheck | None = None,
        token_mechanisms: Sequence[str] = TOKEN_MECHANISMS,
    ) -> None:
        """users: the logins it accepts (AUTH then required); any_login: AUTH offered and
        every login accepted (the demo's mailboxes have made-up passwords); check_token:
        bearer tokens accepted too, by `token_mechanisms` (AUTH then required)."""
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
        self.check_token = check_token
        self.token_logins: list[TokenLogin] = []  # every AUTH by token, in order
        if users is not None or any_login or check_token is not None:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=False,
                auth_exclude_mechanism=[
                    *(
                        m
                        for m in TOKEN_MECHANISMS
                        if check_token is None or m not in token_mechanisms
                    ),
                    # Tokens only: no password mechanism to offer.
                    *(("PLAIN", "LOGIN") if users is None and not any_login else ()),
                ],
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
