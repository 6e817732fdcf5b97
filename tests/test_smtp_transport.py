"""The SMTP transport over TLS (implicit and STARTTLS) and its classification, against
real aiosmtpd servers on loopback."""

import asyncio
import datetime as dt
import ipaddress
import random
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accounts.transport.account import Account
from accounts.transport.sink import SinkServer
from accounts.transport.smtp import (
    Envelope,
    Group,
    Outcome,
    SmtpTransport,
    check_login,
    classify_reply,
)

MESSAGE = b"From: a@a.test\r\nTo: b@b.test\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1; (server context, client context)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    return server, client


def send(account: Account, tls_context=None, count: int = 2):
    transport = SmtpTransport(
        allow_private=True,  # the servers are on loopback
        max_concurrent=2,
        stagger_ms=(0, 0),
        rng=random.Random(1),
        connect_timeout=5,
        command_timeout=2,
        tls_context=tls_context,
    )
    envelopes = [Envelope(n, "a@a.test", "b@b.test", MESSAGE) for n in range(count)]
    return asyncio.run(transport.send_batch([Group(account, envelopes)]))


@pytest.mark.parametrize("implicit", [True, False], ids=["ssl", "starttls"])
def test_tls_modes_send_and_log_in(certificate, implicit):
    server_tls, client_tls = certificate
    with SinkServer(users={"u@a.test": "pw-tls"}, tls=server_tls, implicit_tls=implicit) as server:
        account = Account(
            "127.0.0.1", server.port, "ssl" if implicit else "starttls", "u@a.test", "pw-tls"
        )
        results = send(account, client_tls)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert [r.login for r in server.received] == ["u@a.test", "u@a.test"]


def test_an_untrusted_certificate_is_not_sent_to(certificate):
    server_tls, _ = certificate
    with SinkServer(
        users={"u@a.test": "pw-secret-77"}, tls=server_tls, implicit_tls=True
    ) as server:
        results = send(Account("127.0.0.1", server.port, "ssl", "u@a.test", "pw-secret-77"))
    assert {r.outcome for r in results} == {Outcome.DEFERRED}
    assert all("connection failed" in r.text and "pw-secret-77" not in r.text for r in results)
    assert server.received == []


def test_nobody_listening_is_deferred():
    results = send(Account("127.0.0.1", 1, "none", "", ""))
    assert [r.outcome for r in results] == [Outcome.DEFERRED, Outcome.DEFERRED]


def test_a_refused_recipient_does_not_stop_the_group():
    refuse_first = {"n": 0}

    def rcpt(mail_from, login):
        refuse_first["n"] += 1
        return "550 5.1.1 no such user" if refuse_first["n"] == 1 else None

    with SinkServer(rcpt_behaviour=rcpt) as server:
        results = send(Account("127.0.0.1", server.port, "none", "", ""), count=3)
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.SENT, Outcome.SENT]
    assert results[0].code == 550
    assert len(server.received) == 2


@pytest.mark.parametrize(
    ("code", "text", "outcome"),
    [
        (250, "OK", Outcome.SENT),
        (421, "try later", Outcome.DEFERRED),
        (451, "local error", Outcome.DEFERRED),
        (535, "5.7.8 bad credentials", Outcome.AUTH_FAILED),
        (550, "5.4.5 Daily user sending quota exceeded", Outcome.QUOTA),
        (554, "5.7.1 sending limit exceeded", Outcome.QUOTA),
        (550, "5.1.1 user unknown", Outcome.FAILED),
        (552, "message too big", Outcome.FAILED),
    ],
)
def test_classify_reply(code, text, outcome):
    assert classify_reply(code, text) is outcome


# --- OAuth 2.0 bearer tokens (XOAUTH2, OAUTHBEARER) -----------------------------------

TOKENS = {"ann@a.test": "ya29.good-token-of-ann"}


def token_check(login: str, token: str) -> bool:
    return TOKENS.get(login) == token


def token_account(port: int, token: str) -> Account:
    # No password: a token account never sends one (a sink that saw it would refuse).
    return Account("127.0.0.1", port, "none", "ann@a.test", "", access_token=token)


@pytest.mark.parametrize("mechanisms", [("XOAUTH2",), ("OAUTHBEARER",)])
def test_a_token_account_sends_by_the_bearer_mechanism_the_server_offers(mechanisms):
    with SinkServer(check_token=token_check, token_mechanisms=mechanisms) as server:
        results = send(token_account(server.port, TOKENS["ann@a.test"]))
        check = asyncio.run(
            check_login(token_account(server.port, TOKENS["ann@a.test"]), allow_private=True)
        )
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT], results
    assert [m.login for m in server.received] == ["ann@a.test", "ann@a.test"]
    assert check.ok and check.reply.startswith("235"), check


@pytest.mark.parametrize("mechanisms", [("XOAUTH2",), ("OAUTHBEARER",)])
def test_a_refused_token_is_a_refused_login_and_never_quoted(mechanisms, caplog):
    stale = "ya29.revoked-token-XYZ"
    with SinkServer(check_token=token_check, token_mechanisms=mechanisms) as server:
        results = send(token_account(server.port, stale), count=1)
        check = asyncio.run(check_login(token_account(server.port, stale), allow_private=True))
    assert [r.outcome for r in results] == [Outcome.AUTH_FAILED], results
    assert results[0].code == 535
    assert not check.ok and check.reply.startswith("535"), check
    assert not server.received
    said = " ".join([r.text for r in results] + [check.reply, caplog.text, repr(results)])
    assert stale not in said and "revoked-token" not in said


def test_a_password_server_without_bearer_mechanisms_refuses_a_token_account():
    with SinkServer(users={"ann@a.test": "pw"}) as server:
        results = send(token_account(server.port, TOKENS["ann@a.test"]), count=1)
    assert [r.outcome for r in results] != [Outcome.SENT]
    assert not server.received


def test_a_token_account_shows_no_token_in_its_repr():
    account = token_account(25, "ya29.secret-token")
    assert "secret-token" not in repr(account) and account.uses_token
