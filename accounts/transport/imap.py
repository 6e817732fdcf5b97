"""IMAP with imapclient. Knows nothing of the database.

Every session connects to a checked address of the mailbox's host (warmup_project.hosts:
no private target unless allowed, no second lookup), runs against one deadline for the
whole session — each read waits only for what is left of it, so a server sending a line
a second cannot stretch a session — and caps the bytes of each reply, so a flood costs
a bounded amount of memory. Replies are passed on only as a recognised IMAP line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import socket
import ssl
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from typing import TYPE_CHECKING, Any

import imapclient
import imapclient.exceptions
from imapclient.exceptions import IMAPClientError

from accounts.transport.account import Account
from accounts.transport.replies import LoginCheck, network_failure, printable_line
from warmup_project import hosts

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

# Bytes one reply may take: a FETCH of the warmup headers of a few thousand messages fits
# well; the connection test reads only a greeting and a login reply.
REPLY_CAP = 8 * 1024 * 1024
CHECK_REPLY_CAP = 64 * 1024


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def reply_line(value: object) -> str:
    """A server's words as we pass them on (replies.printable_line)."""
    text = _text(value)
    if text.startswith(("b'", 'b"')) and text.endswith(text[1]):
        text = text[2:-1]  # imapclient quotes the bytes of a refusal
    return printable_line(text)


class NotImap(imaplib.IMAP4.error):
    """Whatever answered did not greet as an IMAP server (another service on that port)."""


class _GuardedIMAP4(imaplib.IMAP4):
    """imaplib's client, connected to a checked address (TLS checked against the host
    name), every read bounded by the session's deadline and each reply by a byte cap.

    It reads the socket itself instead of through imaplib's buffered file: a buffered
    readline() waits afresh for every chunk, so no timeout set before it bounds it."""

    def __init__(
        self,
        target: hosts.Target,
        *,
        implicit_tls: bool,
        tls_context: ssl.SSLContext | None,
        deadline: float,
        reply_cap: int,
    ) -> None:
        self._target = target
        self._implicit_tls = implicit_tls
        self._tls_context = tls_context
        self._deadline = deadline
        self._reply_cap = reply_cap
        self._reply_bytes = 0
        self._buffer = bytearray()
        self._greeted = False
        super().__init__(target.host, target.port, timeout=self._remaining())

    def _remaining(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the session's deadline passed")
        return left

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection(
            (self._target.address, self._target.port), timeout=self._remaining()
        )
        if self._implicit_tls:
            context = self._tls_context or ssl.create_default_context()
            return context.wrap_socket(sock, server_hostname=self._target.host.strip("[]"))
        return sock

    def _fill(self) -> None:
        self.sock.settimeout(self._remaining())
        chunk = self.sock.recv(65536)
        if not chunk:
            raise self.abort("socket error: EOF")
        self._reply_bytes += len(chunk)
        if self._reply_bytes > self._reply_cap:
            raise self.error(f"a reply of more than {self._reply_cap} bytes: refused")
        self._buffer += chunk

    def readline(self) -> bytes:
        searched = 0
        while (end := self._buffer.find(b"\n", searched)) < 0:
            searched = len(self._buffer)
            self._fill()
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        if not self._greeted:
            if not line.startswith((b"* OK", b"* PREAUTH", b"* BYE")):
                # Never quoted: it may be any service's banner (SSRF's reward).
                raise NotImap("the server's reply is not IMAP")
            self._greeted = True
        return line

    def read(self, size: int) -> bytes:
        if size > self._reply_cap:
            raise self.error(f"a literal of {size} bytes: refused")
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def send(self, data: Buffer) -> None:
        self._reply_bytes = 0  # a new command: its reply gets the whole cap
        self.sock.settimeout(self._remaining())
        super().send(data)


class _Client(imapclient.IMAPClient):
    """imapclient over _GuardedIMAP4."""

    def __init__(self, target: hosts.Target, **guard: Any) -> None:
        self._target = target
        self._guard = guard
        super().__init__(
            target.host,
            port=target.port,
            ssl=guard["implicit_tls"],
            ssl_context=guard["tls_context"],
            timeout=max(guard["deadline"] - time.monotonic(), 0.001),
        )

    def _create_IMAP4(self) -> imaplib.IMAP4:  # imapclient's hook
        return _GuardedIMAP4(self._target, **self._guard)


def _connect(
    host: str,
    port: int,
    security: str,
    *,
    tls_context: ssl.SSLContext | None,
    deadline: float,
    reply_cap: int,
    allow_private: bool,
) -> _Client:
    """A client greeted by the first checked address that answers, TLS as configured.
    Raises hosts.HostRefused, OSError or IMAPClientError."""
    targets = hosts.resolve(host, port, allow_private=allow_private)
    for n, target in enumerate(targets, start=1):
        try:
            client = _Client(
                target,
                implicit_tls=security == "ssl",
                tls_context=tls_context,
                deadline=deadline,
                reply_cap=reply_cap,
            )
        except ConnectionRefusedError:
            if n == len(targets):
                raise
            continue
        if security == "starttls":
            try:
                client.starttls(tls_context)
            except BaseException:
                _close(client)
                raise
        return client
    raise OSError(f"{host} has no address")


def _close(client: imapclient.IMAPClient) -> None:
    try:
        client.logout()
    except (IMAPClientError, OSError):
        with contextlib.suppress(OSError, IMAPClientError):  # already gone
            client.shutdown()


def _failure(exc: BaseException) -> str:
    """Why a session failed, in words that quote a server only when it speaks IMAP."""
    if isinstance(exc, NotImap):
        return f"connection failed: {exc}"
    if isinstance(exc, OSError):
        return network_failure(exc)
    return f"{type(exc).__name__}: {reply_line(exc)}"


def _login(client: _Client, account: Account) -> Any:
    """Log in as the account does: LOGIN with its password, or AUTHENTICATE with its
    access token — XOAUTH2, or OAUTHBEARER (RFC 7628) where the server offers only
    that. Raises imapclient's LoginError when refused (the token is in no message)."""
    if not account.uses_token:
        return client.login(account.username, account.password)
    if client.has_capability("AUTH=OAUTHBEARER") and not client.has_capability("AUTH=XOAUTH2"):
        return client.oauthbearer_login(account.username, account.access_token)
    return client.oauth2_login(account.username, account.access_token)


def check_login(
    account: Account,
    *,
    timeout: float = 10,
    tls_context: ssl.SSLContext | None = None,
    allow_private: bool = False,
) -> LoginCheck:
    """Connect (ssl | starttls | none), log in, log out: all within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    client: _Client | None = None
    try:
        client = _connect(
            account.host,
            account.port,
            account.security,
            tls_context=tls_context,
            deadline=deadline,
            reply_cap=CHECK_REPLY_CAP,
            allow_private=allow_private,
        )
        return LoginCheck(True, reply_line(_login(client, account)))
    except hosts.HostRefused as exc:
        return LoginCheck(False, f"IMAP {exc}", refused=True)
    except (IMAPClientError, OSError) as exc:
        return LoginCheck(False, _failure(exc))
    finally:
        if client is not None:
            _close(client)


# --- engagement ------------------------------------------------------------------------

# Spam folders by name, when no folder carries RFC 6154's \Junk: compared without case,
# after the hierarchy separator is read as "/" (INBOX.Spam and INBOX/Spam are one name).
SPAM_NAMES = (
    "[gmail]/spam",
    "[google mail]/spam",
    "junk",
    "spam",
    "junk email",
    "junk e-mail",
    "bulk mail",
    "inbox/spam",
    "inbox/junk",
)
# Sent folders by name, when no folder carries \Sent (Gmail and Outlook both flag theirs).
SENT_NAMES = (
    "[gmail]/sent mail",
    "[google mail]/sent mail",
    "sent items",
    "sent",
    "sent mail",
    "sent messages",
    "inbox/sent",
    "inbox/sent items",
    "inbox/sent messages",
)
WARMUP_FOLDER = "Warmup"
TOKEN_HEADER = "X-Warmup-Token"
# The receiving server's verdicts come along in the same FETCH (warmup.reputation.verdicts).
AUTH_HEADERS = ("Authentication-Results", "ARC-Authentication-Results")
# What recognises a message (its Message-ID, or an old token); what engagement reads too.
MATCH_HEADERS = ("MESSAGE-ID", TOKEN_HEADER.upper())
ALL_HEADERS = (*MATCH_HEADERS, *(h.upper() for h in AUTH_HEADERS))
# Messages per FETCH: a receiver's Authentication-Results take a few hundred bytes to a
# few KB a message, so a backlog of thousands is fetched in parts, each under REPLY_CAP.
FETCH_CHUNK = 500
# Alternatives (FROM one sender) ORed into one SEARCH: ~40 bytes each keeps a command
# near 4 KB, well under the 8 KB line that servers are asked to accept (RFC 7162 §4).
SEARCH_CHUNK = 100
_AUTH_NAMES = {h.lower() for h in AUTH_HEADERS}


class ImapAuthError(Exception):
    """The server refused the login: the credentials are wrong (or the account locked)."""


class ImapError(Exception):
    """Anything else: connection, timeout, a command refused."""


class ImapHostRefused(ImapError):
    """The mailbox's IMAP host cannot be used as it is (warmup_project.hosts)."""


@dataclass(frozen=True)
class Found:
    """A message a search found in a folder: its UID there and the headers that tell
    whether it is warmup mail (its Message-ID; the token of mail sent with one). Whether
    it is ours is for the caller to decide."""

    uid: int
    message_id: str
    token: str = ""
    # Its Authentication-Results and ARC-Authentication-Results as (name, value), top first.
    auth_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Folders:
    """The folders engagement works in, by their full names."""

    spam: str | None
    sent: str | None
    warmup: str  # in the personal namespace
    warmup_exists: bool


def _found(uid: int, raw: bytes) -> Found:
    headers = BytesHeaderParser().parsebytes(raw)
    return Found(
        uid=uid,
        message_id="".join((headers.get("Message-ID") or "").split()),
        token=(headers.get(TOKEN_HEADER) or "").strip(),
        auth_headers=tuple(
            (name, str(value)) for name, value in headers.items() if name.lower() in _AUTH_NAMES
        ),
    )


def _special_folder(
    folders: list[tuple[tuple[bytes, ...], str, str]], prefix: str, use: bytes, names: Sequence[str]
) -> str | None:
    """The folder of RFC 6154 special-use `use` among LIST's (flags, delimiter, name), or
    else the first of `names`, read below the personal namespace's `prefix` (INBOX. on
    Courier-style servers)."""
    for flags, _, name in folders:
        if use in {f.lower() for f in flags}:
            return name
    by_name: dict[str, str] = {}
    for _, delimiter, name in folders:
        relative = name[len(prefix) :] if prefix and name.startswith(prefix) else name
        for candidate in (name, relative):
            normal = candidate.replace(delimiter, "/") if delimiter else candidate
            by_name.setdefault(normal.lower(), name)
    return next((by_name[n] for n in names if n in by_name), None)


def spam_folder(folders: list[tuple[tuple[bytes, ...], str, str]], prefix: str = "") -> str | None:
    """The spam folder: \\Junk first, then known names."""
    return _special_folder(folders, prefix, b"\\junk", SPAM_NAMES)


def sent_folder(folders: list[tuple[tuple[bytes, ...], str, str]], prefix: str = "") -> str | None:
    """The folder a mail client (or Gmail, Outlook) keeps sent mail in: \\Sent first."""
    return _special_folder(folders, prefix, b"\\sent", SENT_NAMES)


def any_of(keys: Sequence[Sequence[str]]) -> list[str]:
    """One IMAP search key matching any of `keys` (each a key's words): OR a OR b c."""
    out: list[str] = []
    for key in keys[:-1]:
        out += ["OR", *key]
    return out + list(keys[-1])


class ImapSession:
    """One mailbox's IMAP session for engagement: search a folder by sender and date (a
    few SEARCH commands whatever the number of messages), fetch the found messages'
    headers (UIDs, BODY.PEEK, so nothing is marked read by looking), flag, move (MOVE or
    COPY + \\Deleted + expunge where MOVE is missing), delete, create the warmup folder.
    `commands` counts the commands sent, by name."""

    def __init__(
        self,
        account: Account,
        *,
        timeout: float = 45,
        tls_context: ssl.SSLContext | None = None,
        allow_private: bool = False,
    ) -> None:
        """Connect and log in; `timeout` is the whole session's, every command included."""
        self.commands: Counter[str] = Counter()
        try:
            self.client = _connect(
                account.host,
                account.port,
                account.security,
                tls_context=tls_context,
                deadline=time.monotonic() + timeout,
                reply_cap=REPLY_CAP,
                allow_private=allow_private,
            )
        except hosts.HostRefused as exc:
            raise ImapHostRefused(f"IMAP {exc}") from None
        except (OSError, IMAPClientError) as exc:
            raise ImapError(_failure(exc)) from None
        try:
            _login(self.client, account)
        except imapclient.exceptions.LoginError as exc:
            self.close()
            raise ImapAuthError(f"IMAP login refused: {reply_line(exc)}") from None
        except (IMAPClientError, OSError) as exc:
            self.close()
            raise ImapError(_failure(exc)) from None
        self.moves = self.client.has_capability("MOVE")
        self.uidplus = self.client.has_capability("UIDPLUS")
        self.fallback_moves = 0  # moves done as COPY + \Deleted + expunge

    def _call(self, what: str, call: Any, *args: Any) -> Any:
        # By command, without its folder: SELECT, SEARCH, FETCH, MOVE, UID EXPUNGE, …
        self.commands["UID EXPUNGE" if what == "UID EXPUNGE" else what.split()[0]] += 1
        try:
            return call(*args)
        except (IMAPClientError, OSError) as exc:
            raise ImapError(f"{what}: {_failure(exc)}") from None

    def folders(self) -> Folders:
        listed = self._call("LIST", self.client.list_folders)
        folders = [
            (tuple(flags), _text(delim) if delim else "", name) for flags, delim, name in listed
        ]
        prefix = ""
        self.commands["NAMESPACE"] += 1
        try:
            personal = self.client.namespace().personal
            if personal:
                prefix = _text(personal[0][0])
        except (IMAPClientError, OSError):
            pass  # no NAMESPACE: the root
        warmup = f"{prefix}{WARMUP_FOLDER}"
        return Folders(
            spam=spam_folder(folders, prefix),
            sent=sent_folder(folders, prefix),
            warmup=warmup,
            warmup_exists=any(name == warmup for _, _, name in folders),
        )

    def find(
        self,
        folder: str,
        *,
        senders: Iterable[str] = (),
        tokens: bool = False,
        since: dt.date | None = None,
        before: dt.date | None = None,
        headers: Sequence[str] = ALL_HEADERS,
    ) -> list[Found]:
        """The messages of `folder` from any of `senders` (or carrying a token header,
        with `tokens`), received on or after `since` and before `before` (the server's
        INTERNALDATE, whole days), not flagged \\Deleted: one SEARCH per SEARCH_CHUNK
        alternatives (one in all when there are none), then their `headers`, FETCH_CHUNK
        messages per FETCH."""
        alternatives: list[tuple[str, ...]] = [("FROM", s) for s in sorted(set(senders))]
        if tokens:
            alternatives.append(("HEADER", TOKEN_HEADER, "wu"))
        dates = [*(["SINCE", since] if since else []), *(["BEFORE", before] if before else [])]
        if not alternatives and not dates:
            return []
        self._call(f"SELECT {folder}", self.client.select_folder, folder)
        uids: set[int] = set()
        for start in range(0, max(len(alternatives), 1), SEARCH_CHUNK):
            part = alternatives[start : start + SEARCH_CHUNK]
            criteria = ["UNDELETED", *dates, *(any_of(part) if part else [])]
            uids.update(self._call("SEARCH", self.client.search, criteria))
        return self._fetch(sorted(uids), headers)

    def _fetch(self, uids: list[int], headers: Sequence[str]) -> list[Found]:
        fields = " ".join(h.upper() for h in headers)
        key = f"BODY[HEADER.FIELDS ({fields})]".encode()
        found = []
        for start in range(0, len(uids), FETCH_CHUNK):
            fetched = self._call(
                "FETCH",
                self.client.fetch,
                uids[start : start + FETCH_CHUNK],
                [f"BODY.PEEK[HEADER.FIELDS ({fields})]"],
            )
            for uid, data in sorted(fetched.items()):
                raw = next((v for k, v in data.items() if k.upper() == key), None)
                if raw is not None:
                    found.append(_found(uid, raw))
        return found

    def flag(self, uids: list[int]) -> None:
        if uids:
            self._call("STORE", self.client.add_flags, uids, [imapclient.SEEN, imapclient.FLAGGED])

    def ensure_folder(self, folder: str) -> None:
        if not self._call("LIST", self.client.folder_exists, folder):
            self._call(f"CREATE {folder}", self.client.create_folder, folder)

    def move(self, uids: list[int], folder: str) -> None:
        """Move from the selected folder: MOVE, or COPY + \\Deleted + expunge."""
        if not uids:
            return
        if self.moves:
            self._call(f"MOVE {folder}", self.client.move, uids, folder)
            return
        self._call(f"COPY {folder}", self.client.copy, uids, folder)
        self.delete(uids)
        self.fallback_moves += len(uids)

    def delete(self, uids: list[int]) -> None:
        """Delete from the selected folder: \\Deleted, then UID EXPUNGE of these UIDs.
        Without UIDPLUS, a plain EXPUNGE would remove every \\Deleted message of the
        folder, the user's too: it runs only when no other message is so flagged, else
        ours wait, flagged, for the next expunge (a user's client or ours)."""
        if not uids:
            return
        self._call("STORE \\Deleted", self.client.delete_messages, uids)
        if self.uidplus:
            self._call("UID EXPUNGE", self.client.uid_expunge, uids)
            return
        flagged = self._call("SEARCH", self.client.search, ["DELETED"])
        if set(flagged) <= set(uids):
            self._call("EXPUNGE", self.client.expunge)

    def close(self) -> None:
        _close(self.client)
