"""The receivers' verdicts (warmup.reputation.verdicts): Authentication-Results as real
receivers write them — Gmail, Microsoft 365 and Outlook.com, rspamd, OpenDKIM, OpenDMARC,
an SPF policy daemon, Amavis, Yahoo, Fastmail, iCloud, Zoho, Proton, mail.ru, Yandex, the
examples of RFC 8601 — read from message headers as IMAP returns them (folded); which
header is trusted; ARC-Authentication-Results when no Authentication-Results can be read;
malformed headers give no verdict and never raise. Addresses are anonymised."""

# Real headers are long lines, kept as receivers write them.
# ruff: noqa: E501

from __future__ import annotations

from email.parser import BytesHeaderParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warmup.reputation.verdicts import VALUE_MAX, Verdicts, dkim_selectors, parse


def headers(block: str) -> list[tuple[str, str]]:
    """A header block as a message carries it (CRLF, folded lines) → (name, value)s."""
    raw = block.strip("\n").replace("\n", "\r\n").encode() + b"\r\n\r\n"
    return list(BytesHeaderParser().parsebytes(raw).items())


def verdicts(block: str) -> tuple[str, str, str, str] | None:
    got = parse(headers(block))
    return None if got is None else (got.spf, got.dkim, got.dmarc, got.receiver)


# (name, header block, (spf, dkim, dmarc, receiver)): one real shape each.
SHAPES = [
    (
        "gmail pass",
        """
Authentication-Results: mx.google.com;
       dkim=pass header.i=@alpha.example header.s=s2026 header.b=AbCdEf12;
       spf=pass (google.com: domain of box@alpha.example designates 203.0.113.5 as permitted sender) smtp.mailfrom=box@alpha.example;
       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=alpha.example
""",
        ("pass", "pass", "pass", "mx.google.com"),
    ),
    (
        "gmail fail, quarantined",
        """
Authentication-Results: mx.google.com;
       dkim=fail header.i=@alpha.example header.s=s2026 header.b=AbCdEf12;
       spf=softfail (google.com: domain of transitioning box@alpha.example does not designate 198.51.100.7 as permitted sender) smtp.mailfrom=box@alpha.example;
       dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) header.from=alpha.example
""",
        ("softfail", "fail", "fail", "mx.google.com"),
    ),
    (
        "gmail with arc",
        """
Authentication-Results: mx.google.com;
       dkim=pass header.i=@alpha.example header.s=google header.b=Zx9;
       arc=pass (i=1 spf=pass spfdomain=alpha.example dkim=pass dkdomain=alpha.example dmarc=pass fromdomain=alpha.example);
       spf=pass (google.com: domain of box@alpha.example designates 2001:db8::1 as permitted sender) smtp.mailfrom=box@alpha.example;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=alpha.example
""",
        ("pass", "pass", "pass", "mx.google.com"),
    ),
    (
        "gmail neutral, unsigned",
        """
Authentication-Results: mx.google.com;
       spf=neutral (google.com: 198.51.100.7 is neither permitted nor denied by best guess record for domain of box@alpha.example) smtp.mailfrom=box@alpha.example
""",
        ("neutral", "", "", "mx.google.com"),
    ),
    (
        "microsoft 365 pass (no authserv-id, no space after ;)",
        """
Authentication-Results: spf=pass (sender IP is 203.0.113.5)
 smtp.mailfrom=alpha.example; dkim=pass (signature was verified)
 header.d=alpha.example;dmarc=pass action=none
 header.from=alpha.example;compauth=pass reason=100
""",
        ("pass", "pass", "pass", ""),
    ),
    (
        "microsoft fail",
        """
Authentication-Results: spf=fail (sender IP is 198.51.100.7)
 smtp.mailfrom=alpha.example; dkim=fail (signature did not verify)
 header.d=alpha.example;dmarc=fail action=quarantine
 header.from=alpha.example;compauth=fail reason=000
""",
        ("fail", "fail", "fail", ""),
    ),
    (
        "outlook.com bestguesspass, unsigned",
        """
Authentication-Results: spf=none (sender IP is 203.0.113.5)
 smtp.mailfrom=alpha.example; dkim=none (message not signed)
 header.d=none;dmarc=bestguesspass action=none
 header.from=alpha.example;compauth=pass reason=109
""",
        ("none", "none", "bestguesspass", ""),
    ),
    (
        "microsoft temperror and permerror, trailing semicolon",
        """
Authentication-Results: spf=temperror (sender IP is 203.0.113.5)
 smtp.helo=out.alpha.example; dkim=none (message not signed)
 header.d=none;dmarc=permerror action=none header.from=alpha.example;
""",
        ("temperror", "none", "permerror", ""),
    ),
    (
        "rspamd",
        """
Authentication-Results: mx.rspamd.example;
\tdkim=pass header.d=alpha.example header.s=dkim header.b="Ab12cD";
\tspf=pass (mx.rspamd.example: domain of "box@alpha.example" designates 203.0.113.5 as permitted sender) smtp.mailfrom="box@alpha.example";
\tdmarc=pass (policy=none) header.from=alpha.example
""",
        ("pass", "pass", "pass", "mx.rspamd.example"),
    ),
    (
        "rspamd reject with a reason",
        """
Authentication-Results: mx.rspamd.example;
\tdkim=none ("invalid DKIM record") header.d=alpha.example header.s=s1 header.b=Ab12;
\tspf=fail (mx.rspamd.example: domain of box@alpha.example does not designate 198.51.100.7 as permitted sender) smtp.mailfrom=box@alpha.example;
\tdmarc=fail reason="SPF not aligned (relaxed), No valid DKIM" header.from=alpha.example (policy=reject)
""",
        ("fail", "none", "fail", "mx.rspamd.example"),
    ),
    (
        "postfix with opendkim, an spf policy daemon and opendmarc: one header each",
        """
Authentication-Results: mx.example.net; dmarc=fail (p=reject dis=none) header.from=alpha.example
Authentication-Results: mx.example.net; spf=pass (sender SPF authorized) smtp.mailfrom=alpha.example
Authentication-Results: mx.example.net;
\tdkim=fail reason="signature verification failed" (2048-bit key; unprotected) header.d=alpha.example header.i=@alpha.example header.a=rsa-sha256 header.s=s2 header.b=Ab12Cd34
""",
        ("pass", "fail", "fail", "mx.example.net"),
    ),
    (
        "opendkim alone, with dkim-atps",
        """
Authentication-Results: mx.example.net;
\tdkim=pass (1024-bit key; unprotected) header.d=alpha.example header.i=@alpha.example header.b="Xy12Ab34";
\tdkim-atps=neutral
""",
        ("", "pass", "", "mx.example.net"),
    ),
    (
        "amavis (authserv-id with a comment)",
        """
Authentication-Results: mail.example.net (amavisd-new); dkim=pass (2048-bit key)
 reason="pass (just generated, assumed good)" header.d=alpha.example
""",
        ("", "pass", "", "mail.example.net"),
    ),
    (
        "yahoo",
        """
Authentication-Results: atlas-production.v2-mail-prod1-gq1.omega.yahoo.com;
 dkim=pass header.i=@alpha.example header.s=s1;
 spf=pass smtp.mailfrom=alpha.example;
 dmarc=pass(p=NONE) header.from=alpha.example;
""",
        ("pass", "pass", "pass", "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com"),
    ),
    (
        "fastmail",
        """
Authentication-Results: mx1.messagingengine.com;
    arc=none (no signatures found);
    dkim=pass (2048-bit rsa key sha256) header.d=alpha.example
      header.i=@alpha.example header.b=Ab12Cd34 header.a=rsa-sha256
      header.s=fm1 x-bits=2048;
    dmarc=pass policy.published-domain-policy=none
      policy.applied-disposition=none policy.evaluated-disposition=none
      (p=none,d=none,d.eval=none) policy.policy-from=p
      header.from=alpha.example;
    iprev=pass smtp.remote-ip=203.0.113.5 (out.alpha.example);
    spf=pass smtp.mailfrom=box@alpha.example smtp.helo=out.alpha.example;
    x-aligned-from=pass (Address match);
    x-tls=pass smtp.version=TLSv1.3 smtp.cipher=TLS_AES_256_GCM_SHA384 smtp.bits=256/256;
    x-vs=clean score=-100 state=0
""",
        ("pass", "pass", "pass", "mx1.messagingengine.com"),
    ),
    (
        "icloud: one authserv-id per method",
        """
Authentication-Results: bimi.icloud.com; bimi=skipped reason="insufficient dmarc"
Authentication-Results: dmarc.icloud.com; dmarc=pass header.from=alpha.example
Authentication-Results: dkim-verifier.icloud.com;
\tdkim=pass (2048-bit key) header.d=alpha.example header.i=@alpha.example header.b=Ab12
Authentication-Results: spf.icloud.com; spf=pass (spf.icloud.com: domain of box@alpha.example designates 203.0.113.5 as permitted sender) smtp.mailfrom=box@alpha.example
""",
        ("pass", "pass", "pass", "dmarc.icloud.com"),
    ),
    (
        "zoho (header.from in angle brackets)",
        """
Authentication-Results: mx.zohomail.com;
\tdkim=pass;
\tspf=pass (zohomail.com: domain of alpha.example designates 203.0.113.5 as permitted sender)  smtp.mailfrom=box@alpha.example;
\tdmarc=pass(p=none dis=none)  header.from=<box@alpha.example>
""",
        ("pass", "pass", "pass", "mx.zohomail.com"),
    ),
    (
        "proton: one header per method, same authserv-id",
        """
Authentication-Results: mail.protonmail.ch; dkim=pass (Good 2048 bit
    rsa-sha256 signature) header.d=alpha.example header.i=@alpha.example
    header.a=rsa-sha256
Authentication-Results: mail.protonmail.ch; dmarc=pass (p=quarantine dis=none)
 header.from=alpha.example
Authentication-Results: mail.protonmail.ch; spf=pass smtp.mailfrom=alpha.example
Authentication-Results: mail.protonmail.ch; arc=none smtp.remote-ip=203.0.113.5
""",
        ("pass", "pass", "pass", "mail.protonmail.ch"),
    ),
    (
        "mail.ru",
        """
Authentication-Results: mxs.mail.ru; spf=pass (mx207.i.mail.ru: domain of alpha.example designates 203.0.113.5 as permitted sender) smtp.mailfrom=box@alpha.example smtp.helo=out.alpha.example;
\t dkim=pass header.d=alpha.example; dmarc=pass header.from=box@alpha.example
""",
        ("pass", "pass", "pass", "mxs.mail.ru"),
    ),
    (
        "yandex (a comment with brackets, no dmarc)",
        """
Authentication-Results: mxfront1o.mail.yandex.net; spf=pass (mxfront1o.mail.yandex.net: domain of alpha.example designates 203.0.113.5 as permitted sender, rule=[ip4:203.0.113.0/24]) smtp.mail=box@alpha.example; dkim=pass header.i=@alpha.example
""",
        ("pass", "pass", "", "mxfront1o.mail.yandex.net"),
    ),
    (
        "rfc 8601 b.2: none",
        """
Authentication-Results: example.org 1; none
""",
        ("", "", "", "example.org"),
    ),
    (
        "rfc 8601 b.4: smtp auth and spf",
        """
Authentication-Results: example.com;
          auth=pass (cram-md5) smtp.auth=sender@example.net;
          spf=pass smtp.mailfrom=example.net
""",
        ("pass", "", "", "example.com"),
    ),
    (
        "rfc 8601 b.5: sender-id and a signature",
        """
Authentication-Results: example.com;
          sender-id=fail header.from=example.com;
          dkim=pass (good signature) header.d=example.com
""",
        ("", "pass", "", "example.com"),
    ),
    (
        "rfc 8601 b.6: two hops, two signatures: the topmost, any pass",
        """
Authentication-Results: example.com;
          dkim=pass reason="good signature"
            header.i=@mail-router.example.net;
          dkim=fail reason="bad signature"
            header.i=@newyork.example.com
Authentication-Results: example.net;
          dkim=pass (good signature) header.i=@newyork.example.com
""",
        ("", "pass", "", "example.com"),
    ),
    (
        "rfc 8601 b.7: iprev, a version, spf hardfail",
        """
Authentication-Results: mail-router.example.net 1;
          iprev=pass policy.iprev=192.0.2.200;
          spf=hardfail smtp.mailfrom=newyork.example.com
""",
        ("hardfail", "", "", "mail-router.example.net"),
    ),
    (
        "gmail, two signatures: the first fails, the second passes",
        """
Authentication-Results: mx.google.com;
       dkim=fail header.i=@esp.example header.s=old header.b=Qq11;
       dkim=pass header.i=@alpha.example header.s=s2026 header.b=Rr22;
       spf=pass (google.com: domain of bounce@esp.example designates 203.0.113.9 as permitted sender) smtp.mailfrom=bounce@esp.example;
       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=alpha.example
""",
        ("pass", "pass", "pass", "mx.google.com"),
    ),
    (
        "several signatures, none passing: the first written",
        """
Authentication-Results: mx.example.net; dkim=neutral (body hash did not verify)
 header.d=alpha.example header.s=a; dkim=fail header.d=alpha.example header.s=b;
 dmarc=fail header.from=alpha.example
""",
        ("", "neutral", "fail", "mx.example.net"),
    ),
    (
        "a forged pass below the receiver's own fail is ignored",
        """
Authentication-Results: mx.example.net; spf=fail smtp.mailfrom=alpha.example;
 dmarc=fail (p=reject) header.from=alpha.example
Authentication-Results: mx.google.com; spf=pass smtp.mailfrom=alpha.example;
 dkim=pass header.d=alpha.example; dmarc=pass header.from=alpha.example
""",
        ("fail", "", "fail", "mx.example.net"),
    ),
    (
        "a forged pass bearing the receiver's own name, below its header",
        """
Authentication-Results: mx.google.com;
       spf=pass (google.com: domain of box@alpha.example designates 203.0.113.5 as permitted sender) smtp.mailfrom=box@alpha.example;
       dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) header.from=alpha.example
Authentication-Results: mx.google.com; dkim=pass header.d=alpha.example;
       dmarc=pass header.from=alpha.example
""",
        ("pass", "pass", "fail", "mx.google.com"),
    ),
    (
        "policy result, upper case written",
        """
Authentication-Results: MX.Example.NET; SPF=Policy smtp.mailfrom=alpha.example;
 DKIM=PASS header.d=alpha.example; DMARC=None header.from=alpha.example
""",
        ("policy", "pass", "none", "mx.example.net"),
    ),
]


@pytest.mark.parametrize(
    ("block", "expected"), [(b, e) for _, b, e in SHAPES], ids=[n for n, _, _ in SHAPES]
)
def test_real_shapes(block: str, expected: tuple[str, str, str, str]) -> None:
    assert verdicts(block) == expected


def test_at_least_twenty_real_shapes() -> None:
    assert len(SHAPES) >= 20


def test_arc_when_no_authentication_results_can_be_read() -> None:
    # Fastmail and Microsoft seal what they saw; the highest instance is the latest hop.
    block = """
Authentication-Results: ;;; not a header at all
ARC-Authentication-Results: i=1; mx.forwarder.example; spf=pass smtp.mailfrom=alpha.example;
 dkim=pass header.d=alpha.example; dmarc=pass header.from=alpha.example
ARC-Authentication-Results: i=2; mx.microsoft.com 1; spf=fail (sender ip is
 198.51.100.7) smtp.rcpttodomain=inbox.example smtp.mailfrom=alpha.example;
 dmarc=fail (p=reject sp=reject pct=100) action=oreject header.from=alpha.example;
 dkim=fail (signature did not verify) header.d=alpha.example; arc=pass (0 oda=1 ltdi=1)
"""
    assert verdicts(block) == ("fail", "fail", "fail", "mx.microsoft.com")
    # An ARC header without its instance tag is not one.
    assert verdicts("ARC-Authentication-Results: mx.example.net; dmarc=pass") is None


def test_authentication_results_win_over_arc() -> None:
    block = """
ARC-Authentication-Results: i=1; mx.example.net; dmarc=fail header.from=alpha.example
Authentication-Results: mx.google.com; dmarc=pass header.from=alpha.example
"""
    assert verdicts(block) == ("", "", "pass", "mx.google.com")


def test_microsoft_unnamed_headers_are_one_receiver() -> None:
    block = """
Authentication-Results: dkim=pass (signature was verified) header.d=alpha.example;
Authentication-Results: spf=pass (sender IP is 203.0.113.5) smtp.mailfrom=alpha.example;
 dmarc=pass action=none header.from=alpha.example
"""
    assert verdicts(block) == ("pass", "pass", "pass", "")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        ";;;",
        "(a comment only)",
        "mx.example.net; spf",
        "mx.example.net; =pass",
        "mx.example.net; spf=",
        "mx.example.net spf=pass",
        "garbage ;;; ((",
        '"quoted; spf=pass',
        "mx.example.net; dmarc=pass header.from=" + "a" * 20000,
        "\x00\x01\x02",
        "mx.example.net; spf=(pass)",
    ],
)
def test_malformed_headers_give_no_verdict(value: str) -> None:
    assert parse([("Authentication-Results", value)]) is None


def test_a_malformed_header_does_not_hide_a_readable_one() -> None:
    got = parse(
        [
            ("Authentication-Results", "garbage ;;; (("),
            ("Authentication-Results", "mx.example.net; dmarc=fail header.from=alpha.example"),
        ]
    )
    assert got is not None and (got.dmarc, got.receiver) == ("fail", "mx.example.net")


def test_no_header_no_verdict() -> None:
    assert parse(headers("Subject: hello\nMessage-ID: <a@alpha.example>")) is None


def test_eight_bit_and_encoded_bytes_never_raise() -> None:
    raw = (
        b"Authentication-Results: mx.example.net; spf=pass (\xff\xfe caf\xc3\xa9)"
        b" smtp.mailfrom=alpha.example; dmarc=pass header.from=alpha.example\r\n\r\n"
    )
    got = parse(BytesHeaderParser().parsebytes(raw).items())
    assert got is not None and (got.spf, got.dmarc) == ("pass", "pass")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Authentication-Results", "ARC-Authentication-Results", "X"]),
            st.text(),
        )
    )
)
def test_any_text_never_raises(pairs: list[tuple[str, str]]) -> None:
    got = parse(pairs)
    assert got is None or isinstance(got, Verdicts)


def test_dmarc_judgement_and_stored_width() -> None:
    passed = Verdicts("none", "none", "bestguesspass", "")
    assert passed.dmarc_passed is True
    assert passed.stored() == ("none", "none", "bestguesspass", "")
    assert Verdicts("x" * 20, "", "", "").stored()[0] == "x" * VALUE_MAX  # cut to the column
    assert all(len(v) <= VALUE_MAX for v in passed.stored()[:3])
    assert Verdicts("", "", "fail", "x").dmarc_passed is False
    for unjudged in ("", "none", "temperror", "permerror"):
        assert Verdicts("", "", unjudged, "x").dmarc_passed is None


def test_selectors_from_authentication_results() -> None:
    got = parse(headers(SHAPES[0][1]))
    assert got is not None and got.selectors == (("alpha.example", "s2026"),)
    got = parse(headers(SHAPES[10][1]))  # header.d and header.s
    assert got is not None and got.selectors == (("alpha.example", "s2"),)


def test_dkim_selectors_from_the_signatures() -> None:
    block = """
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;
        d=Alpha.example; s=s2026; t=1764614400;
        h=from:to:subject:date:message-id;
        bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
        b=Ab12Cd34Ef56
DKIM-Signature: v=1; a=ed25519-sha256; d=alpha.example; s=ed1; b=Zz
DKIM-Signature: v=1; a=rsa-sha256; d=alpha.example; s=s2026; b=Again
DKIM-Signature: v=1; a=rsa-sha256; d=esp.example; b=no-selector
DKIM-Signature: garbage
Subject: hi
"""
    assert dkim_selectors(headers(block)) == [("alpha.example", "s2026"), ("alpha.example", "ed1")]
    assert dkim_selectors([]) == []
