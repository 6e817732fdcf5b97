"""The SMTP sink of scripts/container-check: the project's own (accounts.transport.sink),
in the warmup image, on port 2525 of the compose network. It accepts every login and
message and prints one line per message, `sink: <Message-ID> <from> -> <to>`, which the
check reads from the container's log to find any message sent twice. SINK_DATA_DELAY_S
holds each DATA reply back, so a worker killed mid-batch has sends in flight."""

from __future__ import annotations

import os
import signal
import sys
import threading

from accounts.transport.sink import SinkServer


def main() -> None:
    delay = float(os.environ.get("SINK_DATA_DELAY_S", "0"))
    server = SinkServer("0.0.0.0", 2525, any_login=True, data_delay_s=delay).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"sink: listening on 0.0.0.0:2525, DATA answered after {delay:g}s", flush=True)
    seen = 0
    while not stop.wait(0.5):
        with server.lock:
            new, seen = server.received[seen:], len(server.received)
        for message in new:
            msg = message.message
            print(f"sink: {msg['Message-ID']} {message.mail_from} -> {','.join(message.rcpt_tos)}")
        sys.stdout.flush()
    server.stop()


if __name__ == "__main__":
    main()
