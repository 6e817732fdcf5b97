"""How engagement should find a mailbox's Sent-folder copies of its warmup sends, measured
against a local Dovecot: a Sent folder of `--own` messages the user sent in the last three
days and `--copies` warmup copies among them.

- "from+since": `UID SEARCH UNDELETED SINCE <date> FROM <itself>` (one command), then a
  FETCH of the Message-ID of every hit (FETCH_CHUNK at a time), matched in memory: what
  warmup.engine.engage does;
- "header-or": `UID SEARCH OR HEADER Message-ID <a> OR HEADER Message-ID <b> …`, 100
  Message-IDs per command: exact hits, no FETCH.

Prints, per way, the median time of `--runs` runs and the commands. No database.

Usage (Dovecot installed):
    .venv/bin/python benchmarks/sent_copy_search.py [--own 2000] [--copies 60] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from email.utils import format_datetime, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import imapclient

from accounts.transport.imap import FETCH_CHUNK, SEARCH_CHUNK, any_of
from tests import dovecot

ME = "me@own.test"


def message(n: int, when: dt.datetime) -> tuple[str, bytes]:
    message_id = make_msgid(domain="own.test")
    text = (
        f"From: {ME}\r\nTo: peer{n % 50}@peer.test\r\nSubject: Note {n}\r\n"
        f"Date: {format_datetime(when)}\r\nMessage-ID: {message_id}\r\n"
        "Content-Type: text/plain\r\n\r\n" + "A line of an ordinary message.\r\n" * 20
    )
    return message_id, text.encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--own", type=int, default=2000)
    parser.add_argument("--copies", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not dovecot.available():
        sys.exit("needs Dovecot: apt-get install -y dovecot-imapd dovecot-lmtpd")
    now = dt.datetime.now(dt.UTC)
    with dovecot.Dovecot({ME: "pw"}) as server:
        client = imapclient.IMAPClient("127.0.0.1", port=server.imap_port, ssl=False)
        client.login(ME, "pw")
        copies = set()
        total = args.own + args.copies
        for n in range(total):
            when = now - dt.timedelta(hours=72 * n / total)
            message_id, data = message(n, when)
            if n % (total // max(args.copies, 1)) == 0 and len(copies) < args.copies:
                copies.add(message_id)
            client.append("Sent", data, flags=(b"\\Seen",), msg_time=when)
        since = (now - dt.timedelta(days=4)).date()
        print(f"Sent folder: {total} messages, {len(copies)} of them warmup copies")

        def from_since() -> tuple[set[str], int]:
            uids = client.search(["UNDELETED", "SINCE", since, "FROM", ME])
            commands, found = 1, set()
            for start in range(0, len(uids), FETCH_CHUNK):
                fetched = client.fetch(
                    uids[start : start + FETCH_CHUNK], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
                )
                commands += 1
                for data in fetched.values():
                    raw = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode()
                    value = raw.partition(":")[2].strip()
                    if value in copies:
                        found.add(value)
            return found, commands

        def header_or() -> tuple[set[str], int]:
            ids = sorted(copies)
            commands, hits = 0, 0
            for start in range(0, len(ids), SEARCH_CHUNK):
                keys = [("HEADER", "Message-ID", m) for m in ids[start : start + SEARCH_CHUNK]]
                hits += len(client.search(["UNDELETED", *any_of(keys)]))
                commands += 1
            return (set(ids) if hits == len(ids) else set()), commands

        for name, way in (("from+since", from_since), ("header-or", header_or)):
            times = []
            for _ in range(args.runs):
                client.select_folder("Sent", readonly=True)
                started = time.perf_counter()
                found, commands = way()
                times.append(time.perf_counter() - started)
            assert found == copies, (name, len(found))
            print(
                f"{name:>10}: median {statistics.median(times) * 1000:.1f} ms over "
                f"{args.runs} runs, {commands} commands, found {len(found)}"
            )
        client.logout()


if __name__ == "__main__":
    main()
