"""An SMTP server (aiosmtpd, on loopback) that takes OAuth 2.0 bearer tokens the way Gmail and
Exchange Online do: AUTH XOAUTH2 and AUTH OAUTHBEARER, each token checked at the
authorization server's introspection endpoint (tests/oauth.py) — live (`active`) and issued
to the user who logs in (`username`), or refused. It keeps the mail it accepts.

A refused token gets Gmail's answer: a 334 challenge carrying a base64 JSON error, then,
after the client's empty line (XOAUTH2) or ^A (OAUTHBEARER), 535. `users` adds PLAIN and
LOGIN with passwords, so one server can compare the two (the benchmarks)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import socket
import threading
from dataclasses import dataclass
from typing import Any

import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

from accounts.transport.sink import Received
from tests.oauth import Introspection

REFUSED = "535 5.7.8 Username and Password not accepted"
UNAVAILABLE = "454 4.7.0 Temporary authentication failure"


@dataclass(frozen=True)
class Login:
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
    return user, auth.removeprefix("Bearer ")


class _Handler:
    def __init__(self, server: OAuthSMTPServer) -> None:
        self.server = server

    async def auth_XOAUTH2(self, smtp: Any, args: list[str]) -> AuthResult:
        return await self._bearer(smtp, args, "XOAUTH2", parse_xoauth2)

    async def auth_OAUTHBEARER(self, smtp: Any, args: list[str]) -> AuthResult:
        return await self._bearer(smtp, args, "OAUTHBEARER", parse_oauthbearer)

    async def _bearer(self, smtp: Any, args: list[str], mechanism: str, parse: Any) -> AuthResult:
        if len(args) > 1:  # the initial response, on the AUTH line
            try:
                blob = b"" if args[1] == "=" else base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(
                    success=False, handled=False, message="501 5.5.2 Can't decode base64"
                )
        else:
            answer = await smtp.challenge_auth("")
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
            blob = answer
        credentials = parse(blob)
        try:
            accepted = credentials is not None and await asyncio.to_thread(
                self.server.accepts, *credentials
            )
        except requests.RequestException:
            # The introspection endpoint is down: say so as a real server would, not "wrong".
            return AuthResult(success=False, handled=False, message=UNAVAILABLE)
        self.server.logins.append(Login(mechanism, credentials[0] if credentials else "", accepted))
        if accepted and credentials is not None:
            return AuthResult(success=True, auth_data=credentials[0])
        error = {"status": "invalid_token" if mechanism == "OAUTHBEARER" else "401"}
        if await smtp.challenge_auth(json.dumps({**error, "schemes": "Bearer"})) is MISSING:
            return AuthResult(success=False, handled=True)  # the client aborted with "*"
        return AuthResult(success=False, handled=False, message=REFUSED)

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data if isinstance(session.auth_data, str) else None
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
            )
        return "250 2.0.0 OK: queued"


class OAuthSMTPServer:
    """`with OAuthSMTPServer(server.introspection) as smtp:` → smtp.port, smtp.received,
    smtp.logins (every AUTH by token, accepted or not, in order)."""

    def __init__(self, introspection: Introspection, *, users: dict[str, str] | None = None):
        self.introspection = introspection
        self.users = users or {}
        self.received: list[Received] = []
        self.logins: list[Login] = []
        self.lock = threading.Lock()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=port,
            ready_timeout=10,
            authenticator=self._password,
            auth_required=True,
            auth_require_tls=False,
            auth_exclude_mechanism=[] if users else ["PLAIN", "LOGIN"],
        )

    @property
    def port(self) -> int:
        return self.controller.port

    def accepts(self, user: str, token: str) -> bool:
        """What the server asks the authorization server for every token (no cache)."""
        answer = self.introspection.check(token)
        return answer.get("active") is True and answer.get("username") == user

    def _password(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> OAuthSMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
