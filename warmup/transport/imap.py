"""IMAP with imapclient. Knows nothing of the database."""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from typing import Any

import imapclient
import imapclient.exceptions
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
WARMUP_FOLDER = "Warmup"
_HEADERS = "X-WARMUP-TOKEN MESSAGE-ID SUBJECT REFERENCES"


class ImapAuthError(Exception):
    """The server refused the login: the credentials are wrong (or the account locked)."""


class ImapError(Exception):
    """Anything else: connection, timeout, a command refused."""


@dataclass(frozen=True)
class Found:
    """A warmup message in a folder: its UID there, its token and threading headers."""

    uid: int
    token: str
    message_id: str
    subject: str
    references: str


def _decoded(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value))).strip()
    except (UnicodeError, LookupError, ValueError):
        return value.strip()


def spam_folder(folders: list[tuple[tuple[bytes, ...], str, str]], prefix: str = "") -> str | None:
    """The spam folder among LIST's (flags, delimiter, name): \\Junk first, then known
    names, read below the personal namespace's `prefix` (INBOX. on Courier-style servers)."""
    for flags, _, name in folders:
        if b"\\junk" in {f.lower() for f in flags}:
            return name
    by_name = {}
    for _, delimiter, name in folders:
        relative = name[len(prefix) :] if prefix and name.startswith(prefix) else name
        for candidate in (name, relative):
            normal = candidate.replace(delimiter, "/") if delimiter else candidate
            by_name.setdefault(normal.lower(), name)
    return next((by_name[n] for n in SPAM_NAMES if n in by_name), None)


class ImapSession:
    """One mailbox's IMAP session for engagement: find warmup messages by their token
    header (UIDs, BODY.PEEK, so nothing is marked read by looking), flag, move (MOVE or
    COPY + \\Deleted + expunge where MOVE is missing), create the warmup folder."""

    def __init__(
        self,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        *,
        timeout: float = 30,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        try:
            self.client = imapclient.IMAPClient(
                host, port=port, ssl=security == "ssl", ssl_context=tls_context, timeout=timeout
            )
        except (OSError, IMAPClientError) as exc:
            raise ImapError(f"connection failed: {type(exc).__name__}: {exc}"[:500]) from None
        try:
            if security == "starttls":
                self.client.starttls(tls_context)
            self.client.login(username, password)
        except imapclient.exceptions.LoginError as exc:
            self.close()
            raise ImapAuthError(f"login refused: {_text(exc)}"[:500]) from None
        except (IMAPClientError, OSError) as exc:
            self.close()
            raise ImapError(f"{type(exc).__name__}: {_text(exc)}"[:500]) from None
        self.moves = self.client.has_capability("MOVE")
        self.uidplus = self.client.has_capability("UIDPLUS")
        self.fallback_moves = 0  # moves done as COPY + \Deleted + expunge

    def _call(self, what: str, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except (IMAPClientError, OSError) as exc:
            raise ImapError(f"{what}: {type(exc).__name__}: {_text(exc)}"[:500]) from None

    def folders(self) -> tuple[str | None, str]:
        """(spam folder or None, the warmup folder's full name in the personal namespace)."""
        listed = self._call("LIST", self.client.list_folders)
        folders = [
            (tuple(flags), _text(delim) if delim else "", name) for flags, delim, name in listed
        ]
        prefix = ""
        try:
            personal = self.client.namespace().personal
            if personal:
                prefix = _text(personal[0][0])
        except (IMAPClientError, OSError):
            pass  # no NAMESPACE: the root
        return spam_folder(folders, prefix), f"{prefix}{WARMUP_FOLDER}"

    def find(self, folder: str) -> list[Found]:
        self._call(f"SELECT {folder}", self.client.select_folder, folder)
        uids = self._call("SEARCH", self.client.search, ["HEADER", "X-Warmup-Token", "wu"])
        if not uids:
            return []
        key = f"BODY[HEADER.FIELDS ({_HEADERS})]".encode()
        fetched = self._call(
            "FETCH", self.client.fetch, uids, [f"BODY.PEEK[HEADER.FIELDS ({_HEADERS})]"]
        )
        found = []
        for uid, data in sorted(fetched.items()):
            raw = next((v for k, v in data.items() if k.upper() == key), None)
            if raw is None:
                continue
            headers = BytesHeaderParser().parsebytes(raw)
            token = (headers.get("X-Warmup-Token") or "").strip()
            if token:
                found.append(
                    Found(
                        uid=uid,
                        token=token,
                        message_id=(headers.get("Message-ID") or "").strip(),
                        subject=_decoded(headers.get("Subject")),
                        references=" ".join((headers.get("References") or "").split()),
                    )
                )
        return found

    def flag(self, uids: list[int]) -> None:
        if uids:
            self._call("STORE", self.client.add_flags, uids, [imapclient.SEEN, imapclient.FLAGGED])

    def ensure_folder(self, folder: str) -> None:
        if not self._call("LIST", self.client.folder_exists, folder):
            self._call(f"CREATE {folder}", self.client.create_folder, folder)

    def move(self, uids: list[int], folder: str) -> None:
        """Move from the selected folder: MOVE, or COPY + \\Deleted + (UID) EXPUNGE."""
        if not uids:
            return
        if self.moves:
            self._call(f"MOVE {folder}", self.client.move, uids, folder)
            return
        self._call(f"COPY {folder}", self.client.copy, uids, folder)
        self._call("STORE \\Deleted", self.client.delete_messages, uids)
        if self.uidplus:
            self._call("UID EXPUNGE", self.client.uid_expunge, uids)
        else:
            self._call("EXPUNGE", self.client.expunge)
        self.fallback_moves += len(uids)

    def close(self) -> None:
        try:
            self.client.logout()
        except (IMAPClientError, OSError):
            with contextlib.suppress(OSError):
                self.client.shutdown()
