"""The receivers' own verdicts on a message: what the receiving server wrote in its
`Authentication-Results` (RFC 8601), read by engagement from each warmup message it finds.

Which header is trusted. Every hop may add one, and a sender may forge any it likes, so
RFC 8601 §5 says to believe only the ones the reader's own border added. We read mail in
the recipient's mailbox: its provider's border is the last hop, and a header is added at
the top, so the TOPMOST header that can be read names the receiver (its authserv-id;
unreadable ones are skipped), and all the headers of that receiver count: those of the
same organisation (the authserv-id's last two labels) — a Postfix box with OpenDKIM, an
SPF policy daemon and OpenDMARC writes one each, iCloud one per method under
dmarc.icloud.com, spf.icloud.com, …. Headers naming other servers (a forwarder, the
sender's own outbound relay, a forgery) are ignored. When no Authentication-Results
header can be read, the ARC-Authentication-Results of the highest instance (i=, RFC 8617:
the latest hop that sealed the chain) stands in. Microsoft 365 writes no authserv-id
(`Authentication-Results: spf=pass (sender IP is …) smtp.mailfrom=…; dkim=pass …`): such
a header is read as the receiver's, with an empty receiver name.

Per method, the topmost of the receiver's headers that reports it decides (a forgery
below that bears the receiver's name cannot overturn it); in that header any pass counts
(a message may carry several DKIM signatures, one failing), otherwise the first result
written. Values are kept as written, lowercased; they
are cut to VALUE_MAX characters (the columns' width) only when stored, after they were
judged (Microsoft's `bestguesspass` has 13). Nothing here raises on what a message
carries: a header that cannot be read gives no verdict.

Parsing is authres's (RFC 8601/7601 grammar). Real receivers stray from the grammar
(Microsoft's missing authserv-id and stray semicolons, unquoted odd property values), so a
header authres refuses is read again clause by clause, keeping each `method=result`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import authres
import authres.arc
import authres.dmarc

log = logging.getLogger("warmup.verdicts")

METHODS = ("spf", "dkim", "dmarc")
VALUE_MAX = 16  # SendLog.auth_spf/auth_dkim/auth_dmarc
RESULT_MAX = 32  # a result as read, before it is cut to VALUE_MAX to be stored
RECEIVER_MAX = 255  # SendLog.auth_receiver
HEADER_MAX = 16 * 1024  # a longer header is not a receiver's: not read

# DMARC results that count as a pass or a fail at receivers (the pass rate). Microsoft's
# `bestguesspass`: the domain publishes no DMARC record, but the mail is authenticated and
# aligned, so it would pass; a missing record is the DNS check's finding, not this one's.
# none, temperror, permerror: not judged.
DMARC_PASSES = frozenset({"pass", "bestguesspass"})
DMARC_FAILS = frozenset({"fail"})

AR = "authentication-results"
ARC_AR = "arc-authentication-results"

_FEATURES = authres.FeatureContext(authres.dmarc, authres.arc)
# An authserv-id, optionally a version and a comment, then `;` (or the end: `mx; none`).
_AUTHSERV = re.compile(r"^\s*([^\s;()=]+)(?:\s+\d+)?\s*(?:\([^()]*\)\s*)?(?:;|$)")
# A clause that begins with `method=` (Microsoft's header begins so: no authserv-id).
_CLAUSE = re.compile(r"^\s*([a-z0-9][a-z0-9_-]*)(?:\s*/\s*\d+)?\s*=\s*([a-z0-9_.-]+)", re.I)
_PROPERTY = re.compile(r"\b(header|smtp|policy|body)\.([a-z0-9_-]+)\s*=\s*([^\s;()]+)", re.I)
_ARC_INSTANCE = re.compile(r"^\s*i\s*=\s*(\d+)\s*;", re.I)


@dataclass(frozen=True)
class Verdicts:
    """A receiver's verdicts on one message: "" where it gave none for a method."""

    spf: str
    dkim: str
    dmarc: str
    receiver: str  # its authserv-id ("" when it wrote none: Microsoft 365)
    # (domain, selector) of each DKIM signature it reports (header.d or header.i, header.s)
    selectors: tuple[tuple[str, str], ...] = ()

    @property
    def dmarc_passed(self) -> bool | None:
        """True for a DMARC pass, False for a fail, None when not judged."""
        if self.dmarc in DMARC_PASSES:
            return True
        if self.dmarc in DMARC_FAILS:
            return False
        return None

    def stored(self) -> tuple[str, str, str, str]:
        """(spf, dkim, dmarc, receiver) as SendLog keeps them: cut to the columns."""
        return (
            self.spf[:VALUE_MAX],
            self.dkim[:VALUE_MAX],
            self.dmarc[:VALUE_MAX],
            self.receiver[:RECEIVER_MAX],
        )


@dataclass
class _Header:
    """One parsed header: its authserv-id (None: Microsoft's unnamed kind) and, per
    method, the results in the order written, with the DKIM selectors."""

    receiver: str | None
    results: dict[str, list[str]]
    selectors: list[tuple[str, str]]


def _unfold(value: object) -> str:
    return re.sub(r"[\r\n]+", "", str(value)).replace("\t", " ").strip()


def _keep(method: str, result: str, props: dict[str, str], into: _Header) -> None:
    method = method.lower()
    if method not in METHODS:
        return
    into.results.setdefault(method, []).append(result.lower()[:RESULT_MAX])
    if method == "dkim" and props.get("header.s"):
        domain = props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
        if domain:
            into.selectors.append((domain.lower(), props["header.s"]))


def _with_authres(value: str, receiver: str | None) -> _Header | None:
    text = value if receiver is not None else f"unnamed.invalid; {value}"
    try:
        parsed = _FEATURES.parse_value(text)
    except (authres.AuthResError, ValueError, AttributeError, IndexError):
        return None
    named = str(parsed.authserv_id or "") if receiver is not None else None
    header = _Header(named, {}, [])
    for result in parsed.results:
        props = {
            f"{p.type}.{p.name}".lower(): str(p.value)
            for p in getattr(result, "properties", None) or []
            if p.value
        }
        _keep(str(result.method), str(result.result), props, header)
    return header


def _split_clauses(value: str) -> list[str]:
    """`;`-separated clauses, not splitting inside comments or quoted strings."""
    clauses: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in value:
        if char == '"' and depth == 0:
            quoted = not quoted
        elif char == "(" and not quoted:
            depth += 1
        elif char == ")" and not quoted and depth:
            depth -= 1
        elif char == ";" and not quoted and depth == 0:
            clauses.append("".join(current))
            current = []
            continue
        current.append(char)
    clauses.append("".join(current))
    return clauses


def _by_clause(value: str, receiver: str | None) -> _Header | None:
    """The lenient reading: each clause's `method=result` and its properties."""
    clauses = _split_clauses(value)
    if receiver is not None:
        clauses = clauses[1:]
    header = _Header(receiver, {}, [])
    for clause in clauses:
        # Comments out, so "(sender IP is 1.2.3.4)" cannot pass for a property.
        plain = re.sub(r"\([^()]*\)", " ", clause)
        match = _CLAUSE.match(plain)
        if not match:
            continue
        props = {f"{t}.{n}".lower(): v.strip('"') for t, n, v in _PROPERTY.findall(plain)}
        _keep(match.group(1), match.group(2), props, header)
    return header if header.results else None


def _read_header(value: object) -> _Header | None:
    """One Authentication-Results value (unfolded or not), or None when unreadable."""
    try:
        text = _unfold(value)
        if not text or len(text) > HEADER_MAX:
            return None
        text = text.rstrip("; ")
        if _CLAUSE.match(text):  # no authserv-id: Microsoft 365's form
            receiver: str | None = None
        else:
            named = _AUTHSERV.match(text)
            if not named:
                return None
            receiver = named.group(1).lower()
        return _with_authres(text, receiver) or _by_clause(text, receiver)
    except Exception:  # a message's bytes must never stop engagement
        log.warning("an Authentication-Results header could not be read", exc_info=True)
        return None


def _arc_instance(value: object) -> tuple[int, str] | None:
    text = _unfold(value)
    match = _ARC_INSTANCE.match(text)
    if not match:
        return None
    return int(match.group(1)), text[match.end() :]


def _first_pass(results: list[str]) -> str:
    return "pass" if "pass" in results else results[0]


def _organisation(authserv_id: str | None) -> str | None:
    """The receiver an authserv-id belongs to, by its last two labels (three under a
    two-letter country code with a short second level: example.co.uk): iCloud writes
    dmarc.icloud.com, dkim-verifier.icloud.com and spf.icloud.com, one header each."""
    if not authserv_id:
        return authserv_id
    labels = authserv_id.split(".")
    keep = 3 if len(labels) > 2 and len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
    return ".".join(labels[-keep:])


def _verdicts(headers: list[_Header]) -> Verdicts:
    """The verdicts of the topmost header's receiver, from all of its headers; named by
    the topmost of them that gave a verdict."""
    organisation = _organisation(headers[0].receiver)
    ours = [h for h in headers if _organisation(h.receiver) == organisation]
    picked = {}
    for method in METHODS:
        # The topmost of its headers that reports the method decides it: a header below
        # bearing the receiver's own name may be a forgery it failed to strip (RFC 8601
        # §5 asks it to; not every receiver does).
        results = next((h.results[method] for h in ours if h.results.get(method)), None)
        picked[method] = _first_pass(results) if results else ""
    selectors: list[tuple[str, str]] = []
    for header in ours:
        selectors.extend(s for s in header.selectors if s not in selectors)
    named = next((h for h in ours if h.results), ours[0])
    return Verdicts(
        spf=picked["spf"],
        dkim=picked["dkim"],
        dmarc=picked["dmarc"],
        receiver=named.receiver or "",
        selectors=tuple(selectors),
    )


def parse(headers: Iterable[tuple[str, object]]) -> Verdicts | None:
    """The receiver's verdicts from a message's headers, as (name, value) pairs in the
    message's order (top first; `email.message.Message.items()` gives them so): its
    Authentication-Results, else its ARC-Authentication-Results. None when the message
    carries no header that can be read."""
    ar: list[_Header] = []
    arc: list[tuple[int, str]] = []
    for name, value in headers:
        kind = name.strip().lower()
        if kind == AR:
            if (header := _read_header(value)) is not None:
                ar.append(header)
        elif kind == ARC_AR and (instance := _arc_instance(value)) is not None:
            arc.append(instance)
    if ar:
        return _verdicts(ar)
    # The latest hop's ARC set: the highest instance (the first written, if repeated).
    for _, value in sorted(arc, key=lambda pair: -pair[0]):
        if (header := _read_header(value)) is not None:
            return _verdicts([header])
    return None


def dkim_selectors(headers: Iterable[tuple[str, object]]) -> list[tuple[str, str]]:
    """(d=, s=) of each DKIM-Signature header of a message (RFC 6376 tags), in order,
    without repeats; signatures without both tags are left out."""
    found: list[tuple[str, str]] = []
    for name, value in headers:
        if name.strip().lower() != "dkim-signature":
            continue
        tags = {}
        for part in re.sub(r"\s+", "", _unfold(value)).split(";"):
            tag, eq, tag_value = part.partition("=")
            if eq:
                tags[tag.lower()] = tag_value
        domain, selector = tags.get("d", "").lower(), tags.get("s", "")
        if domain and selector and (domain, selector) not in found:
            found.append((domain, selector))
    return found
