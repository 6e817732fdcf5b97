"""An authoritative DNS server on loopback for the reputation checks' tests and benchmark,
on dnslib: real DNS over UDP and TCP on one free port, answering from zone text.

It answers like an authoritative server: the records of a name and type (NOERROR), an
empty answer with the SOA for a name that exists with other types (NODATA), NXDOMAIN with
the SOA for a name that does not exist, each record with its own TTL. Two kinds of name
misbehave on purpose: `servfail` names answer SERVFAIL, `silent` names never answer (the
client times out), `slow` names answer after `slow_s`. `queries` counts what it was asked
(the benchmark's queries/s), `most_in_flight` the most questions it held at once.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import RCODE, RR, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

SOA = "@ 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"


class _QuietLogger(DNSLogger):
    def __init__(self) -> None:
        super().__init__(log="-recv,-send,-request,-reply,-truncated,-error,-data")


class ZoneResolver(BaseResolver):
    def __init__(
        self,
        zone_text: str,
        origin: str = "test.",
        servfail: tuple[str, ...] = (),
        silent: tuple[str, ...] = (),
        slow: tuple[str, ...] = (),
        slow_s: float = 0.2,
    ) -> None:
        self.origin = origin
        self.records: dict[tuple[str, int], list[RR]] = defaultdict(list)
        self.names: set[str] = set()
        self.servfail = {n.lower().rstrip(".") for n in servfail}
        self.silent = {n.lower().rstrip(".") for n in silent}
        self.slow = {n.lower().rstrip(".") for n in slow}
        self.slow_s = slow_s
        self.in_flight = 0
        self.most_in_flight = 0
        self.soa = RR.fromZone(SOA, origin=origin)[0]
        self.queries = 0
        self._lock = threading.Lock()
        self.add(zone_text)

    def add(self, zone_text: str) -> None:
        for rr in RR.fromZone(zone_text, origin=self.origin):
            name = str(rr.rname).lower().rstrip(".")
            self.records[(name, rr.rtype)].append(rr)
            self.names.add(name)
            # The names above a record exist too (empty non-terminals answer NODATA).
            labels = name.split(".")
            for i in range(1, len(labels)):
                self.names.add(".".join(labels[i:]))

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        qname = str(request.q.qname).lower().rstrip(".")
        with self._lock:
            self.queries += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if qname in self.slow:
                time.sleep(self.slow_s)
            return self._answer(request, qname)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: DNSRecord, qname: str) -> DNSRecord:
        if qname in self.silent:
            raise DNSError("silent name: no answer")  # dnslib's handler then sends nothing
        reply = request.reply()  # aa=1, the question copied
        if qname in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        found = self.records.get((qname, request.q.qtype))
        if found:
            for rr in found:
                reply.add_answer(rr)
        elif qname not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(self.soa)
        else:
            reply.add_auth(self.soa)
        return reply


class TestDNSServer:
    """UDP and TCP on the same free port of 127.0.0.1; `nameserver` is "127.0.0.1:PORT"."""

    __test__ = False  # not a pytest class

    def __init__(self, resolver: ZoneResolver, address: str = "127.0.0.1") -> None:
        self.resolver = resolver
        self.address = address
        self._servers: list[DNSServer] = []

    @property
    def queries(self) -> int:
        return self.resolver.queries

    def start(self) -> TestDNSServer:
        for _ in range(20):
            udp = DNSServer(self.resolver, address=self.address, port=0, logger=_QuietLogger())
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    self.resolver, address=self.address, port=port, tcp=True, logger=_QuietLogger()
                )
            except OSError:  # the TCP port is taken: another free UDP port
                udp.server.server_close()
                continue
            self.port = port
            self._servers = [udp, tcp]
            for server in self._servers:
                server.start_thread()
            return self
        raise RuntimeError("no free port for the test DNS server")

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()


def point_at(
    server: TestDNSServer,
    settings: Any,
    *,
    address_zones: tuple[str, ...] = ("zen.dnsbl.test",),
    domain_zones: tuple[str, ...] = ("dbl.dnsbl.test",),
) -> None:
    """The checks of these `settings` (pytest-django's fixture) ask `server` only, with a
    one-second timeout, and these blacklists."""
    settings.WARMUP = dataclasses.replace(
        settings.WARMUP,
        dns_resolvers=(("127.0.0.1", server.port),),
        dns_timeout_s=1,
        dnsbl_address_zones=address_zones,
        dnsbl_domain_zones=domain_zones,
    )


@contextmanager
def answering(zone_text: str, settings: Any, **blacklists: Any) -> Iterator[TestDNSServer]:
    """A server answering from `zone_text`, the checks pointed at it (point_at)."""
    server = TestDNSServer(ZoneResolver(zone_text)).start()
    try:
        point_at(server, settings, **blacklists)
        yield server
    finally:
        server.stop()
