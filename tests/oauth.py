"""A real OAuth 2.0 / OpenID Connect authorization server for the tests (tests/oauth_server/:
django-oauth-toolkit), in a gunicorn process of its own with a PostgreSQL database of its own;
and what a test does against it: register users and applications, log in, consent, trade a
code for tokens (PKCE always: the server requires it), refresh, revoke, introspect.

`with AuthorizationServer(database, "test_warmup_oauth") as server:` creates the database
`<name>`, migrates it, starts the server on a free loopback port and registers the resource
servers' application (`server.introspection`: what Dovecot and tests/oauth_smtp.py log in to
/o/introspect/ with); leaving drops the database. The session fixture `authorization_server`
(tests/conftest.py) is the one the tests use.

Tokens are opaque strings the server keeps (hashed); a resource server learns whether one is
live only by introspection, so a revoked or expired token is refused at the next login.

Two grants without the user's consent, as the providers have them: Google's domain-wide
delegation (`add_service_account`: a JSON key whose signed JWT the token endpoint trades for
a user's token, RFC 7523; tests/oauth_server/grants.py) and Microsoft 365's app-only tokens
(`add_client(grant="client-credentials")` + `grant_mailbox`; tests/oauth_server/views.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import psycopg
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Client:
    """A registered application: `secret` is empty for a public client."""

    client_id: str
    secret: str
    redirect_uri: str | None = None

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.client_id, self.secret) if self.secret else None


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    id_token: str | None
    expires_in: int
    scope: str

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> Tokens:
        return cls(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            id_token=body.get("id_token"),
            expires_in=int(body["expires_in"]),
            scope=body.get("scope", ""),
        )


@dataclass(frozen=True)
class Introspection:
    """RFC 7662 token introspection as a resource server does it: POST the token with the
    resource server's own client credentials (HTTP Basic)."""

    url: str
    client_id: str
    secret: str

    def url_with_credentials(self) -> str:
        """Dovecot's `introspection_url` form: the credentials as the URL's userinfo."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{self.client_id}:{self.secret}@{parts.netloc}{parts.path}"

    def check(self, token: str) -> dict[str, Any]:
        reply = requests.post(
            self.url, data={"token": token}, auth=(self.client_id, self.secret), timeout=10
        )
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body


class ServiceAccountKey(dict[str, Any]):
    """A Google service account's JSON key: a dict whose repr (in a failing test's report,
    a log) leaves the private key out."""

    def __repr__(self) -> str:
        shown = {k: ("<private key>" if k == "private_key" else v) for k, v in self.items()}
        return f"ServiceAccountKey({shown!r})"


class OAuthError(Exception):
    """The authorization server refused a step; the message is its answer."""


def xoauth2(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (Google's and Microsoft's), before base64."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(user: str, token: str, host: str, port: int) -> str:
    """The SASL OAUTHBEARER initial response (RFC 7628), before base64."""
    return f"n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _FormFields(HTMLParser):
    """The named <input>s of a page's form (the consent page has one form)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name") and named.get("type") != "submit":
            self.fields[named["name"] or ""] = named.get("value") or ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url(database: dict[str, Any], name: str) -> str:
    """A django-environ URL for `name` on the server of a Django DATABASES entry; a host that
    is a socket folder (the embedded PostgreSQL's) goes in the query, as warmup's own URL
    has it (warmup_project.config)."""
    user = quote(database.get("USER") or "", safe="")
    password = quote(database.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = database.get("HOST") or ""
    port = f":{database['PORT']}" if database.get("PORT") else ""
    if host.startswith("/"):
        return f"postgres://{credentials}{port}/{name}?host={quote(host, safe='/')}"
    return f"postgres://{credentials}{host}{port}/{name}"


class AuthorizationServer:
    def __init__(
        self, database: dict[str, Any], name: str, *, access_token_seconds: int = 3600
    ) -> None:
        """`database`: a Django DATABASES entry whose server gets the database `name`;
        `access_token_seconds`: the lifetime of the access tokens of applications
        registered without their own (`add_client(access_token_seconds=...)`)."""
        self.database = database
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="warmup-oauth-server-"))
        self.log_path = self.folder / "server.log"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.env = {
            **os.environ,
            "OAUTH_SERVER_DATABASE_URL": _database_url(database, name),
            "OAUTH_SERVER_SECRET_KEY": secrets.token_hex(32),
            "OAUTH_SERVER_RSA_PRIVATE_KEY": key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ).decode(),
            "OAUTH_SERVER_ACCESS_TOKEN_SECONDS": str(access_token_seconds),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.resource_server: Client | None = None

    # Endpoints (django-oauth-toolkit's, under /o/).
    @property
    def discovery_url(self) -> str:
        return f"{self.url}/o/.well-known/openid-configuration"

    @property
    def metadata_url(self) -> str:
        """RFC 8414's document: the OIDC one's endpoints plus revocation and introspection."""
        return f"{self.url}/o/.well-known/oauth-authorization-server"

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/o/authorize/"

    @property
    def token_url(self) -> str:
        return f"{self.url}/o/token/"

    @property
    def revoke_url(self) -> str:
        return f"{self.url}/o/revoke_token/"

    @property
    def introspection(self) -> Introspection:
        assert self.resource_server is not None, "the server is not started"
        return Introspection(
            f"{self.url}/o/introspect/", self.resource_server.client_id, self.resource_server.secret
        )

    def __enter__(self) -> AuthorizationServer:
        try:
            self._create_database()
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        try:
            self.manage("migrate", "--no-input", "-v", "0")
            self._start()
            self.resource_server = self.add_client(
                "resource servers (Dovecot, SMTP)", grant="client-credentials"
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._drop_database()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _admin_connection(self) -> psycopg.Connection[Any]:
        db = self.database
        return psycopg.connect(
            dbname="postgres",
            host=db.get("HOST") or None,
            port=db.get("PORT") or None,
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            autocommit=True,
        )

    def _create_database(self) -> None:
        with self._admin_connection() as conn:
            # A run killed before its teardown leaves its database: start clean.
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def _drop_database(self) -> None:
        with self._admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _start(self) -> None:
        with self.log_path.open("ab") as log:
            # Output to a file, not a pipe: nobody reads a pipe while the tests run.
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "1",
                    "--threads",
                    "16",
                    "--graceful-timeout",
                    "5",
                    "tests.oauth_server.wsgi:application",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the authorization server exited: {self.log()}")
            try:
                if requests.get(self.discovery_url, timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the authorization server never answered: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def manage(self, *args: str) -> str:
        """A management command of the server's project (tests/oauth_server/), its stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.oauth_server", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage {args[0]} failed: {done.stderr}")
        return done.stdout

    # Registration.
    def add_user(self, username: str, password: str) -> None:
        """A user of the server: `username` is the mailbox address, what introspection
        answers as `username` and ID tokens carry as `email`."""
        self.manage("add_user", username, password)

    def add_client(
        self,
        name: str = "warmup",
        *,
        redirect_uris: tuple[str, ...] = (),
        grant: str = "authorization-code",
        public: bool = False,
        skip_consent: bool = False,
        access_token_seconds: int | None = None,
    ) -> Client:
        """An application; `grant` is "authorization-code" (refresh tokens come with it)
        or "client-credentials"; `access_token_seconds` gives its tokens their own life."""
        args = ["add_client", name, "--grant", grant]
        for uri in redirect_uris:
            args += ["--redirect-uri", uri]
        if public:
            args.append("--public")
        if skip_consent:
            args.append("--skip-consent")
        if access_token_seconds is not None:
            args += ["--access-token-seconds", str(access_token_seconds)]
        made = json.loads(self.manage(*args))
        return Client(
            made["client_id"], made["secret"], redirect_uris[0] if redirect_uris else None
        )

    def add_service_account(
        self, name: str, domains: tuple[str, ...] | list[str]
    ) -> dict[str, Any]:
        """A Google service account with domain-wide delegation to `domains`
        (tests/oauth_server/grants.py): its JSON key as Google gives it (private_key in PEM,
        private_key_id, client_email, client_id, token_uri = this server's token endpoint).
        It trades an RS256 assertion for a token of any user of those domains (RFC 7523)."""
        args = ["add_service_account", name, "--token-uri", self.token_url]
        for domain in domains:
            args += ["--domain", domain]
        return ServiceAccountKey(json.loads(self.manage(*args)))

    def grant_mailbox(self, client: Client, address: str) -> None:
        """Exchange Online's Add-MailboxPermission: `client`'s app-only tokens (client
        credentials, scope https://outlook.office365.com/.default) may log in to `address`.
        Introspection lists the granted `mailboxes` of such a token; tests/oauth_smtp.py
        holds the login to them, Dovecot cannot (tests/dovecot.py)."""
        self.manage("grant_mailbox", client.client_id, address)

    def revoke_mailbox(self, client: Client, address: str) -> None:
        """Remove-MailboxPermission: undoes grant_mailbox (live tokens included)."""
        self.manage("grant_mailbox", client.client_id, address, "--revoke")

    def token_counts(self, username: str, client: Client | None = None) -> dict[str, int]:
        """What the server issued to a user, counted in its database: `refresh_tokens` (one
        per code exchanged plus one per refresh), `revoked_refresh_tokens`, `access_tokens`
        (still stored); with `client`, `refresh_requests`: the refresh grants that client
        asked for, each request counted as it arrived (how a test sees that N workers
        refreshed once: django-oauth-toolkit answers concurrent refreshes of one refresh
        token with one new token, so the tokens issued alone do not tell)."""
        args = ["token_counts", username]
        if client is not None:
            args += ["--client", client.client_id]
        counts: dict[str, int] = json.loads(self.manage(*args))
        return counts

    def discovery(self) -> dict[str, Any]:
        return self._document(self.discovery_url)

    def metadata(self) -> dict[str, Any]:
        return self._document(self.metadata_url)

    def _document(self, url: str) -> dict[str, Any]:
        reply = requests.get(url, timeout=10)
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    # The user's side: a browser session at the server.
    def browser(self, username: str, password: str) -> requests.Session:
        """An HTTP client logged in at the server (its login form, CSRF token and all)."""
        session = requests.Session()
        login = f"{self.url}/accounts/login/"
        session.get(login, timeout=10).raise_for_status()
        reply = session.post(
            login,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/o/authorize/",
            },
            allow_redirects=False,
            timeout=10,
        )
        if reply.status_code != 302 or "sessionid" not in session.cookies:
            raise OAuthError(f"login refused for {username}")
        return session

    def consent(self, browser: requests.Session, authorize_url: str) -> str:
        """Opens `authorize_url` (a client's authorization request) in the logged-in
        `browser`, clicks "Authorize" and returns the URL the server redirects to: the
        client's callback with `code` and `state` (or `error`). The caller may follow it
        (`browser.get(url)`) to land on a real callback."""
        page = browser.get(authorize_url, allow_redirects=False, timeout=10)
        if page.status_code in (301, 302):
            location = page.headers["Location"]
            if location.startswith("/accounts/login/"):
                raise OAuthError("the browser is not logged in at the server")
            return location  # consent skipped (a trusted application) or an error redirect
        if page.status_code != 200 or 'name="allow"' not in page.text:
            raise OAuthError(f"no consent form ({page.status_code}): {page.text[:500]}")
        form = _FormFields()
        form.feed(page.text)
        reply = browser.post(
            page.url, data={**form.fields, "allow": "Authorize"}, allow_redirects=False, timeout=10
        )
        if reply.status_code != 302:
            raise OAuthError(f"consent not accepted ({reply.status_code}): {reply.text[:500]}")
        return reply.headers["Location"]

    # The client's side.
    def authorization_request(
        self, client: Client, *, scope: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """The URL a client sends the user's browser to (PKCE S256)."""
        query = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri or "",
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.authorize_url}?{urlencode(query)}"

    def authorization_code_flow(
        self, client: Client, username: str, password: str, *, scope: str = "openid email"
    ) -> Tokens:
        """What a client and a user do together: log in, consent, and trade the code (with
        its PKCE verifier) for tokens at the token endpoint."""
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        callback = self.consent(
            self.browser(username, password),
            self.authorization_request(
                client, scope=scope, state=state, nonce=nonce, code_challenge=challenge
            ),
        )
        answer = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        if answer.get("state") != state or "code" not in answer:
            raise OAuthError(f"authorization refused: {answer}")
        return self._token(
            client,
            {
                "grant_type": "authorization_code",
                "code": answer["code"],
                "redirect_uri": client.redirect_uri or "",
                "code_verifier": verifier,
            },
        )

    def refresh(self, client: Client, refresh_token: str) -> Tokens:
        """A refresh grant: the server rotates the refresh token (the old one is spent)."""
        return self._token(client, {"grant_type": "refresh_token", "refresh_token": refresh_token})

    def client_credentials(self, client: Client, scope: str) -> Tokens:
        return self._token(client, {"grant_type": "client_credentials", "scope": scope})

    def revoke(self, client: Client, token: str, hint: str = "access_token") -> None:
        """RFC 7009; revoking a refresh token revokes its access token too."""
        data = {"token": token, "token_type_hint": hint}
        if client.auth is None:
            data["client_id"] = client.client_id
        reply = requests.post(self.revoke_url, data=data, auth=client.auth, timeout=10)
        if reply.status_code != 200:
            raise OAuthError(f"revocation refused ({reply.status_code}): {reply.text}")

    def _token(self, client: Client, data: dict[str, str]) -> Tokens:
        if client.auth is None:
            data = {**data, "client_id": client.client_id}
        reply = requests.post(self.token_url, data=data, auth=client.auth, timeout=10)
        if reply.status_code != 200:
            raise OAuthError(f"token endpoint ({reply.status_code}): {reply.text}")
        return Tokens.from_response(reply.json())


def database_text() -> str:
    """Every row of every table of the app's database (the test database), as JSON text:
    what a dump would hold, for a test to search for secrets in clear."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [name for (name,) in cursor.fetchall()]
        texts = []
        for table in tables:
            query = "SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') FROM {} t"
            cursor.execute(query.format(connection.ops.quote_name(table)))
            texts.append(cursor.fetchone()[0])
    return "\n".join(texts)
