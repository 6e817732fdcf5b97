"""The domain checks of 10,000 domains against a local authoritative DNS server
(tests/dns_server.py, on dnslib), with the default WARMUP_DNS_CONCURRENCY (50) and
WARMUP_DNS_TIMEOUT_S (5) and the default DNSBL zones (served locally: NXDOMAIN). Each
domain has an MX, an SPF record with one include, a DMARC record and a DKIM key at
`google`, so every check makes its real lookups: MX; TXT and the include (checkdmarc),
the SPF type-99 query checkdmarc also makes; _dmarc TXT; three DKIM selectors; two DNSBL
names. Prints the wall time, targets/s and the queries/s counted at the server.

No database is needed.

Usage:
    .venv/bin/python benchmarks/dns_checks.py [--domains 10000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import dataclasses
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from django.conf import settings  # noqa: E402

from tests.dns_server import TestDNSServer, ZoneResolver  # noqa: E402
from warmup.reputation.checks import DomainInput, check_all  # noqa: E402


def dkim_record() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    return " ".join(f'"{text[i : i + 200]}"' for i in range(0, len(text), 200))


def zone(domains: list[str]) -> str:
    dkim = dkim_record()
    lines = [
        '_spf.provider.test. 3600 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"',
        "mx.provider.test. 3600 IN A 198.51.100.25",
    ]
    for d in domains:
        lines += [
            f"{d}. 3600 IN MX 10 mx.provider.test.",
            f'{d}. 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.provider.test -all"',
            f'_dmarc.{d}. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{d}"',
            f"google._domainkey.{d}. 3600 IN TXT {dkim}",
        ]
    return "\n".join(lines)


def serve(domains: list[str], ports: multiprocessing.Queue, stop: Any) -> None:
    """The DNS server, in a process of its own (its own interpreter lock, as a real one)."""
    server = TestDNSServer(ZoneResolver(zone(domains))).start()
    ports.put(server.port)
    stop.wait()
    server.stop()
    ports.put(server.queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=settings.WARMUP.dns_concurrency)
    args = parser.parse_args()

    domains = [f"d{n}.bench.test" for n in range(args.domains)]
    started = time.perf_counter()
    ports: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(domains, ports, stop), daemon=True)
    server.start()
    port = ports.get(timeout=600)
    print(f"zone of {args.domains} domains loaded in {time.perf_counter() - started:.1f} s")
    config = dataclasses.replace(
        settings.WARMUP, dns_resolvers=(("127.0.0.1", port),), dns_concurrency=args.concurrency
    )
    try:
        started = time.perf_counter()
        results = asyncio.run(check_all(dict.fromkeys(domains, DomainInput()), [], config))
        wall = time.perf_counter() - started
    finally:
        stop.set()
    queries = ports.get(timeout=60)
    server.join()
    tally = collections.Counter(
        f"{name}={check.verdict}" for r in results for name, check in r.checks.items()
    )
    print(
        f"{len(results)} domains, concurrency {args.concurrency}, timeout "
        f"{config.dns_timeout_s} s: {wall:.1f} s wall, {len(results) / wall:.0f} domains/s, "
        f"{queries} queries at the server ({queries / len(results):.1f} a domain), "
        f"{queries / wall:.0f} queries/s"
    )
    print("verdicts:", ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))


if __name__ == "__main__":
    main()
