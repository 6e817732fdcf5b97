"""Servers that misbehave, on loopback, for the tests and benchmarks of containment: each
accepts TCP connections and then does one bad thing, for as long as its `with` lasts.

Modes (`protocol` is "smtp" or "imap": what a well-behaved reply would look like):
- "silent": accepts, never sends a byte;
- "slow": speaks the protocol but answers each line `delay_s` late (SMTP), or keeps
  every command waiting with one untagged line each `delay_s` (IMAP: a trickle);
- "big-greeting": a greeting of `size` bytes without a line end (10 MB by default);
- "flood": writes lines as fast as the client reads, without end;
- "banner": another service's banner (a NATS INFO line with its version), then nothing;
- "no-354": SMTP answered at once, but DATA never (the message is never handed over).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from accounts.models import Mailbox

NATS_BANNER = b'INFO {"server_id":"NATS-HOSTILE","version":"2.10.1","go":"go1.22"}\r\n'
MODES = ("silent", "slow", "big-greeting", "flood", "banner", "no-354")


class HostileServer:
    def __init__(
        self,
        mode: str,
        *,
        protocol: str = "smtp",
        delay_s: float = 1.0,
        size: int = 10 * 1024 * 1024,
    ) -> None:
        assert mode in MODES and protocol in ("smtp", "imap")
        self.mode = mode
        self.protocol = protocol
        self.delay_s = delay_s
        self.size = size
        self.connections = 0
        self.sent_bytes = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]

    def __enter__(self) -> HostileServer:
        self._spawn(self._accept)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for sock in [self._listener, *self._sockets]:
            # shutdown() wakes a thread blocked in accept(), recv() or sendall(); close()
            # alone does not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets.append(conn)
            self._spawn(self._serve, conn)

    def _send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.sent_bytes += len(data)

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the client went away: what these servers hope for
            getattr(self, "_" + self.mode.replace("-", "_"))(conn)

    def _silent(self, conn: socket.socket) -> None:
        self._stop.wait()

    def _banner(self, conn: socket.socket) -> None:
        self._send(conn, NATS_BANNER)
        self._stop.wait()

    def _big_greeting(self, conn: socket.socket) -> None:
        start = b"220 " if self.protocol == "smtp" else b"* OK "
        chunk = b"x" * 65536
        self._send(conn, start)
        for _ in range(self.size // len(chunk)):
            if self._stop.is_set():
                return
            self._send(conn, chunk)
        self._stop.wait()

    def _flood(self, conn: socket.socket) -> None:
        line = (b"220-" if self.protocol == "smtp" else b"* OK ") + b"x" * 1000 + b"\r\n"
        block = line * 64
        while not self._stop.is_set():
            self._send(conn, block)

    def _no_354(self, conn: socket.socket) -> None:
        self._smtp(conn, delay_s=0, answer_data=False)

    def _slow(self, conn: socket.socket) -> None:
        if self.protocol == "imap":
            self._trickle(conn)
        else:
            self._smtp(conn, delay_s=self.delay_s, answer_data=True)

    def _smtp(self, conn: socket.socket, *, delay_s: float, answer_data: bool) -> None:
        lines = conn.makefile("rb")
        if self._stop.wait(delay_s):
            return
        self._send(conn, b"220 slow.test ESMTP\r\n")
        in_data = False
        for line in lines:
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    if self._stop.wait(delay_s):
                        return
                    self._send(conn, b"250 2.0.0 queued, slowly\r\n")
                continue
            if self._stop.wait(delay_s):
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._send(conn, b"250-slow.test\r\n250 AUTH PLAIN\r\n")
            elif verb == b"AUTH":
                self._send(conn, b"235 2.7.0 ok\r\n")
            elif verb == b"DATA":
                if not answer_data:
                    self._stop.wait()
                    return
                self._send(conn, b"354 go ahead\r\n")
                in_data = True
            elif verb == b"QUIT":
                self._send(conn, b"221 bye\r\n")
                return
            else:
                self._send(conn, b"250 2.0.0 ok\r\n")

    def _trickle(self, conn: socket.socket) -> None:
        """An IMAP greeting, then every command kept waiting: a line each delay_s."""
        self._send(conn, b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] slow IMAP ready\r\n")
        lines = conn.makefile("rb")
        for _ in lines:
            while not self._stop.wait(self.delay_s):
                self._send(conn, b"* OK still thinking\r\n")
            return


# The kinds a containment test puts among good mailboxes (and a poison host besides).
SET = ("slow", "silent", "big-greeting", "flood", "banner")


@contextlib.contextmanager
def hostile_set(
    protocol: str = "smtp", *, slow_s: float = 1.0, size: int = 10 * 1024 * 1024
) -> Iterator[dict[str, HostileServer]]:
    """One server of each kind of SET, by name, for as long as the `with` lasts."""
    with contextlib.ExitStack() as stack:
        yield {
            mode: stack.enter_context(
                HostileServer(mode, protocol=protocol, delay_s=slow_s, size=size)
            )
            for mode in SET
        }


def loopback_mailbox(
    owner: Any, email: str, *, smtp_port: int = 25, imap_port: int = 993, **fields: Any
) -> Mailbox:
    """A mailbox whose SMTP and IMAP servers are on 127.0.0.1, in plain text, no AUTH."""
    values: dict[str, Any] = {
        "owner": owner,
        "email": email,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "none",
        "smtp_username": "",
        "smtp_password": "unused",
        "imap_host": "127.0.0.1",
        "imap_port": imap_port,
        "imap_security": "none",
        "imap_username": email,
        "imap_password": "unused",
        "window_start_hour": 0,
        "window_end_hour": 24,
        **fields,
    }
    return Mailbox.objects.create(**values)


def hostile_mailboxes(
    owner: Any, servers: dict[str, HostileServer], protocol: str
) -> dict[str, Mailbox]:
    """A mailbox of `owner` on each server (its `protocol` side), and one on the poison host
    `a..b`, written past every door as an old row or a direct SQL change would be."""
    boxes = {
        name: loopback_mailbox(
            owner, f"{name}@{owner.username}.test", **{f"{protocol}_port": server.port}
        )
        for name, server in servers.items()
    }
    boxes["poison"] = loopback_mailbox(owner, f"poison@{owner.username}.test")
    Mailbox.objects.filter(id=boxes["poison"].id).update(**{f"{protocol}_host": "a..b"})
    return boxes
