"""The DNS the reputation checks ask: one `DnsResolver` per run, shared by all its checks.

- Nameservers from WARMUP_DNS_RESOLVERS (address, port), or the system's when none.
- Every lookup has a lifetime (WARMUP_DNS_TIMEOUT_S); past it the lookup is an error.
- One TTL-respecting cache (dnspython's `Cache`) behind both faces of the resolver: the
  asynchronous one the checks use, and the synchronous one handed to checkdmarc and pyspf,
  which run in threads. A name asked by two checks is asked once while its TTL lasts.
- Concurrency is bounded by one semaphore (WARMUP_DNS_CONCURRENCY): an asynchronous lookup
  takes a slot, and so does a library call in a thread for as long as it runs.
- A lookup's outcome is one of four: an answer, NXDOMAIN, no data (NOERROR with no record
  of that type), or an error (timeout, SERVFAIL, refused, network). The first three are
  what the DNS says; only the last makes a check's verdict `error`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

if TYPE_CHECKING:
    from warmup_project.config import WarmupConfig

T = TypeVar("T")

ANSWER = "answer"
NXDOMAIN = "nxdomain"
NODATA = "nodata"
ERROR = "error"


@dataclass(frozen=True)
class Lookup:
    """What the DNS said about one name and type. `records` in text form: a TXT record's
    strings joined (as RFC 7208 and RFC 6376 read them), an MX as "PREFERENCE EXCHANGE",
    names without the final dot."""

    name: str
    rdtype: str
    status: str
    records: tuple[str, ...] = ()
    ttl: int = 0
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status == ERROR


def describe_dns_error(error: BaseException, timeout_s: float) -> str:
    """A lookup's failure in a sentence (timeouts and SERVFAIL told apart)."""
    if isinstance(error, dns.exception.Timeout):
        return f"no answer within {timeout_s:g} s (timeout)"
    if isinstance(error, dns.resolver.NoNameservers):
        text = str(error)
        for rcode in ("SERVFAIL", "REFUSED", "NOTIMP", "FORMERR"):
            if rcode in text:
                return f"the resolver answered {rcode}"
        return f"no resolver could answer: {text}"
    return f"{type(error).__name__}: {error}"


def _text(rdata: Any) -> str:
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdata.rdtype == dns.rdatatype.MX:
        return f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True) or '.'}"
    if rdata.rdtype in (dns.rdatatype.PTR, dns.rdatatype.CNAME):
        return str(rdata.target.to_text(omit_final_dot=True))
    return str(rdata.to_text())


def _nameservers(entries: Sequence[tuple[str, int]]) -> list[dns.nameserver.Nameserver]:
    return [dns.nameserver.Do53Nameserver(address, port) for address, port in entries]


class DnsResolver:
    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]] = (),
        *,
        timeout_s: float = 5.0,
        concurrency: int = 50,
    ) -> None:
        self.timeout_s = float(timeout_s)
        self.concurrency = concurrency
        self.cache = dns.resolver.Cache()
        self.lookups = 0  # asked of the DNS or the cache by this side (not the libraries')
        self._async = dns.asyncresolver.Resolver(configure=not nameservers)
        self.sync = dns.resolver.Resolver(configure=not nameservers)
        for resolver in (self._async, self.sync):
            if nameservers:
                resolver.nameservers = _nameservers(nameservers)
            resolver.cache = self.cache
            resolver.lifetime = self.timeout_s
            # A lost UDP datagram is retried within the lifetime instead of using it up.
            resolver.timeout = min(1.0, self.timeout_s)
        self._slots: asyncio.Semaphore | None = None
        self._threads = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="reputation-dns"
        )

    @classmethod
    def from_config(cls, config: WarmupConfig) -> DnsResolver:
        return cls(
            config.dns_resolvers,
            timeout_s=config.dns_timeout_s,
            concurrency=config.dns_concurrency,
        )

    @property
    def slots(self) -> asyncio.Semaphore:
        # Made on first use, inside the event loop that runs the checks.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        return self._slots

    async def lookup(self, name: str, rdtype: str) -> Lookup:
        self.lookups += 1
        async with self.slots:
            try:
                answer = await self._async.resolve(name, rdtype, search=False)
            except dns.resolver.NXDOMAIN:
                return Lookup(name, rdtype, NXDOMAIN)
            except dns.resolver.NoAnswer:
                return Lookup(name, rdtype, NODATA)
            except dns.exception.DNSException as error:
                return Lookup(name, rdtype, ERROR, error=describe_dns_error(error, self.timeout_s))
            except OSError as error:  # the network itself (no route, refused port)
                return Lookup(name, rdtype, ERROR, error=f"network error: {error}")
        rrset = answer.rrset
        assert rrset is not None  # NoAnswer is raised otherwise
        return Lookup(name, rdtype, ANSWER, tuple(_text(r) for r in rrset), rrset.ttl)

    async def run_sync(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking library call (checkdmarc, pyspf) in a thread, holding one slot.
        The call gets `self.sync`, whose lookups have the same lifetime and cache."""
        async with self.slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._threads, functools.partial(function, *args, **kwargs)
            )

    def close(self) -> None:
        # Threads still in a library call finish their lookups (each bounded) on their own.
        self._threads.shutdown(wait=False, cancel_futures=True)
