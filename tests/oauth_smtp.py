"""An SMTP server on loopback that takes OAuth 2.0 bearer tokens the way Gmail and Exchange
Online do — the sink (accounts/transport/sink.py: AUTH XOAUTH2 and OAUTHBEARER, a refused
token answered with a 334 JSON challenge then 535) with each token checked at the
authorization server's introspection endpoint (tests/oauth.py): live (`active`) and issued
to the user who logs in (`username`), or refused; the endpoint down → 454. An app-only
token (Microsoft 365 client credentials: no user) logs in to the mailboxes its application
was granted (AuthorizationServer.grant_mailbox), as Exchange Online's SMTP does. `users` adds
PLAIN and LOGIN with passwords, so one server can compare the two (the benchmarks)."""

from __future__ import annotations

import requests

from accounts.transport.sink import SinkServer, TokenCheckUnavailable
from tests.oauth import Introspection

APP_ONLY_SCOPE = "https://outlook.office365.com/.default"


class OAuthSMTPServer(SinkServer):
    """`with OAuthSMTPServer(server.introspection) as smtp:` → smtp.port, smtp.received,
    smtp.token_logins (every AUTH by token, accepted or not, in order)."""

    def __init__(self, introspection: Introspection, *, users: dict[str, str] | None = None):
        self.introspection = introspection
        super().__init__(users=users, check_token=self.accepts)

    def accepts(self, user: str, token: str) -> bool:
        """What the server asks the authorization server for every token (no cache)."""
        try:
            answer = self.introspection.check(token)
        except requests.RequestException as exc:
            raise TokenCheckUnavailable(str(exc)) from None
        if answer.get("active") is not True:
            return False
        if "username" in answer:
            return answer["username"] == user
        # An app-only token (Microsoft 365 client credentials): a mailbox granted to its
        # application (tests/oauth_server/views.py), and the app-only scope.
        return (
            user in answer.get("mailboxes", "").split()
            and APP_ONLY_SCOPE in answer.get("scope", "").split()
        )
