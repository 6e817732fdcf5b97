"""Mailbox passwords: encrypted at rest, rotatable, never shown."""

import dataclasses
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import crypto
from accounts.models import Mailbox

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
