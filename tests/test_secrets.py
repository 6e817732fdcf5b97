"""Mailbox passwords: encrypted at rest, rotatable, never shown."""

import dataclasses
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts import crypto
from accounts.models import ConnectState, Mailbox, MailboxToken, OAuthCredential

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def use_keys(settings):
    def use(*keys: str) -> None:
        settings.WARMUP = dataclasses.replace(settings.WARMUP, secret_keys=tuple(keys))

    return use


def test_round_trip(db, use_keys, make_mailbox):
    use_keys(OLD_KEY)
    box = make_mailbox(smtp_password="smtp-pässword", imap_password="imap pw")
    again = Mailbox.objects.get(pk=box.pk)
    assert again.smtp_password == "smtp-pässword"
    assert again.imap_password == "imap pw"
    assert again.smtp_secret != "smtp-pässword"
    assert Fernet(OLD_KEY).decrypt(again.smtp_secret.encode()).decode() == "smtp-pässword"


def test_each_encryption_differs(db, use_keys, make_mailbox):
    use_keys(OLD_KEY)
    a = make_mailbox(smtp_password="same")
    b = make_mailbox(smtp_password="same")
    assert a.smtp_secret != b.smtp_secret  # Fernet's random IV: equal passwords don't show


def test_empty_password_means_none_set(db, use_keys, make_mailbox):
    use_keys(OLD_KEY)
    box = make_mailbox(smtp_password="")
    assert box.smtp_secret == ""
    assert Mailbox.objects.get(pk=box.pk).smtp_password == ""


def test_raw_rows_never_hold_the_password(db, use_keys, make_mailbox):
    use_keys(OLD_KEY)
    make_mailbox(smtp_password="Plain-SMTP-Secret-42", imap_password="Plain-IMAP-Secret-42")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM mailboxes")
        rows = cursor.fetchall()
    dump = repr(rows)
    assert rows
    assert "Plain-SMTP-Secret-42" not in dump
    assert "Plain-IMAP-Secret-42" not in dump


def test_wrong_key_is_a_clear_error(db, use_keys, make_mailbox):
    use_keys(OLD_KEY)
    box = make_mailbox(smtp_password="top-secret-pw")
    use_keys(NEW_KEY)  # the old key is gone
    again = Mailbox.objects.get(pk=box.pk)
    with pytest.raises(crypto.UndecryptableSecretError) as error:
        again.smtp_password  # noqa: B018
    message = str(error.value)
    assert f"SMTP password of mailbox {box.pk}" in message
    assert "WARMUP_SECRET_KEYS" in message
    assert "top-secret-pw" not in message
    assert again.smtp_secret not in message


def test_missing_key_is_a_clear_error(db, use_keys, make_mailbox):
    use_keys()
    with pytest.raises(crypto.MissingSecretKeyError, match="WARMUP_SECRET_KEYS is not set"):
        make_mailbox(smtp_password="pw")


def test_rotation_moves_every_secret_to_the_new_key(db, use_keys, make_mailbox, capsys):
    use_keys(OLD_KEY)
    boxes = [make_mailbox(smtp_password=f"s{i}", imap_password=f"i{i}") for i in range(5)]
    make_mailbox(smtp_password="", imap_password="only-imap")
    use_keys(NEW_KEY, OLD_KEY)
    call_command("rotate_secrets", batch_size=2)
    assert "re-encrypted 11 secrets of 6 mailboxes" in capsys.readouterr().out

    use_keys(NEW_KEY)  # the old key can go now
    for i, box in enumerate(boxes):
        again = Mailbox.objects.get(pk=box.pk)
        assert (again.smtp_password, again.imap_password) == (f"s{i}", f"i{i}")


def test_rotation_reports_and_keeps_undecryptable_rows(db, use_keys, make_mailbox, capsys):
    use_keys(OLD_KEY)
    lost = make_mailbox(smtp_password="Lost-Password-9")
    use_keys(NEW_KEY)
    kept = make_mailbox(smtp_password="kept")
    before = Mailbox.objects.get(pk=lost.pk).smtp_secret
    with pytest.raises(CommandError, match="1 mailboxes could not be decrypted"):
        call_command("rotate_secrets")
    assert Mailbox.objects.get(pk=lost.pk).smtp_secret == before  # nothing lost
    assert Mailbox.objects.get(pk=kept.pk).smtp_password == "kept"
    err = capsys.readouterr().err
    assert f"SMTP password of mailbox {lost.pk}" in err
    assert "Lost-Password-9" not in err


def test_secrets_stay_out_of_repr_str_and_logs(db, use_keys, make_mailbox, caplog):
    use_keys(OLD_KEY)
    caplog.set_level(logging.DEBUG)
    box = make_mailbox(smtp_password="Leak-Me-Not-77")
    texts = [repr(box), str(box), repr(box.__dict__), caplog.text]
    assert not any("Leak-Me-Not-77" in text for text in texts)


def make_token_rows(owner, make_mailbox, n: int) -> dict[str, object]:
    """One mailbox with tokens, one Google credential and one connection under way, all
    encrypted with the keys in use; returns the rows and their plaintexts."""
    box = make_mailbox(
        email=f"tok{n}@tokens.test", auth_method="oauth2", smtp_password="", imap_password=""
    )
    token = MailboxToken.objects.create(
        mailbox=box,
        refresh_secret=crypto.encrypt(f"Refresh-Plain-{n}"),
        access_secret=crypto.encrypt(f"Access-Plain-{n}"),
    )
    credential = OAuthCredential.objects.create(
        name=f"google {n}",
        kind="google_delegated",
        domains=f"tokens{n}.test",
        secret=crypto.encrypt(f"Key-Plain-{n}"),
        access_secret=crypto.encrypt(f"Cred-Access-Plain-{n}"),
    )
    state = ConnectState.objects.create(
        key=f"state-key-{n}-" + "x" * 20,
        owner=owner,
        provider="google",
        redirect_uri="https://warmup.test/oauth/google/callback",
        verifier_secret=crypto.encrypt(f"Verifier-Plain-{n}"),
        nonce="nonce",
        created_at=timezone.now(),
    )
    return {"token": token, "credential": credential, "state": state}


def plaintexts(rows: dict[str, object]) -> tuple[str, ...]:
    token = MailboxToken.objects.get(pk=rows["token"].pk)
    credential = OAuthCredential.objects.get(pk=rows["credential"].pk)
    state = ConnectState.objects.get(pk=rows["state"].pk)
    return (
        crypto.decrypt(token.refresh_secret, what="t"),
        crypto.decrypt(token.access_secret, what="t"),
        credential.secret_value,
        crypto.decrypt(credential.access_secret, what="t"),
        crypto.decrypt(state.verifier_secret, what="t"),
    )


def test_rotation_moves_tokens_credentials_and_verifiers(db, use_keys, owner, make_mailbox, capsys):
    use_keys(OLD_KEY)
    made = [make_token_rows(owner, make_mailbox, n) for n in range(3)]
    token_row = MailboxToken.objects.get(pk=made[0]["token"].pk)
    generation = token_row.generation
    use_keys(NEW_KEY, OLD_KEY)
    call_command("rotate_secrets", batch_size=2)
    out = capsys.readouterr().out
    assert "re-encrypted 0 secrets of 3 mailboxes" in out
    assert "re-encrypted 6 secrets of 3 mailbox tokens" in out
    assert "re-encrypted 6 secrets of 3 OAuth credentials" in out
    assert "re-encrypted 3 secrets of 3 connections" in out

    use_keys(NEW_KEY)  # the old key can go now
    for n, rows in enumerate(made):
        assert plaintexts(rows) == (
            f"Refresh-Plain-{n}",
            f"Access-Plain-{n}",
            f"Key-Plain-{n}",
            f"Cred-Access-Plain-{n}",
            f"Verifier-Plain-{n}",
        )
    # A refresh under way must still win its compare-and-save.
    assert MailboxToken.objects.get(pk=token_row.pk).generation == generation


def test_rotation_reports_undecryptable_tokens_by_id_only(
    db, use_keys, owner, make_mailbox, capsys
):
    use_keys(OLD_KEY)
    lost = make_token_rows(owner, make_mailbox, 1)
    use_keys(NEW_KEY)
    kept = make_token_rows(owner, make_mailbox, 2)
    before = {
        "token": MailboxToken.objects.get(pk=lost["token"].pk).refresh_secret,
        "credential": OAuthCredential.objects.get(pk=lost["credential"].pk).secret,
        "state": ConnectState.objects.get(pk=lost["state"].pk).verifier_secret,
    }
    with pytest.raises(CommandError) as error:
        call_command("rotate_secrets")
    message = str(error.value)
    assert "1 mailbox tokens could not be decrypted" in message
    assert "1 OAuth credentials could not be decrypted" in message
    assert "1 connections could not be decrypted" in message
    assert f"ids: {lost['credential'].pk}" in message
    assert "mailboxes could not" not in message

    assert MailboxToken.objects.get(pk=lost["token"].pk).refresh_secret == before["token"]
    assert OAuthCredential.objects.get(pk=lost["credential"].pk).secret == before["credential"]
    assert ConnectState.objects.get(pk=lost["state"].pk).verifier_secret == before["state"]
    assert plaintexts(kept)[2] == "Key-Plain-2"
    captured = capsys.readouterr()
    everything = captured.out + captured.err + message
    assert f"refresh token of mailbox {lost['token'].pk}" in captured.err
    assert f"secret of OAuth credentials {lost['credential'].pk}" in captured.err
    assert "state-key-1" not in everything  # the connection's key is cut short
    assert "Plain-1" not in everything
    for secret in before.values():
        assert secret not in everything
