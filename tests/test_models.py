"""The mailbox's own rules, which every door (API, admin, CSV import) shares: hosts,
ports, single-line values, and passwords that stay with the server they were given for."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts import crypto
from accounts.models import Mailbox
from accounts.transport.account import Account

BAD_HOSTS = [
    "a..b",
    "x" * 64 + ".test",  # a label over 63 characters
    "smtp.example.test\r\nRSET",
    "smtp.example.test\x00",
    "smtp example.test",
    "-smtp.example.test",
    "127.1",  # not a name, and not an address as written
    "a." * 127 + "test",  # over 253 characters
]
GOOD_HOSTS = ["smtp.gmail.com", "mail.bücher.example", "192.0.2.10", "2001:db8::1", "[::1]"]

# Each field whose change moves the mailbox to another server or login, and the password
# that must come with it.
ENDPOINT_CHANGES = [
    ("smtp_host", "smtp.elsewhere.test", "smtp_password"),
    ("smtp_port", 2525, "smtp_password"),
    ("smtp_security", "ssl", "smtp_password"),
    ("smtp_username", "someone-else", "smtp_password"),
    ("imap_host", "imap.elsewhere.test", "imap_password"),
    ("imap_port", 143, "imap_password"),
    ("imap_security", "starttls", "imap_password"),
    ("imap_username", "someone-else", "imap_password"),
]


def errors_of(box: Mailbox) -> dict[str, list[str]]:
    try:
        box.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def new_box(owner: Any, **fields: Any) -> Mailbox:
    values: dict[str, Any] = {
        "owner": owner,
        "email": "new@example.test",
        "smtp_host": "smtp.example.test",
        "smtp_username": "new",
        "imap_host": "imap.example.test",
        "imap_username": "new",
    }
    values.update(fields)
    box = Mailbox(**values)
    box.smtp_password = box.imap_password = "pw"
    return box


def test_mailbox_round_trip(db: Any, make_mailbox: Any) -> None:
    box = make_mailbox(smtp_password="hunter2")
    again = Mailbox.objects.get(pk=box.pk)
    assert again.smtp_password == "hunter2"


def test_the_transports_accounts_come_from_the_mailbox(db: Any, make_mailbox: Any) -> None:
    box = make_mailbox(
        smtp_host="smtp.one.test",
        smtp_port=2525,
        smtp_security="none",
        smtp_username="s-user",
        smtp_password="s-secret",
        imap_host="imap.one.test",
        imap_port=143,
        imap_security="starttls",
        imap_username="i-user",
        imap_password="i-secret",
    )
    box = Mailbox.objects.get(pk=box.pk)
    assert box.smtp_account() == Account("smtp.one.test", 2525, "none", "s-user", "s-secret")
    assert box.imap_account() == Account("imap.one.test", 143, "starttls", "i-user", "i-secret")
    assert "secret" not in repr(box.smtp_account()) + repr(box.imap_account())
    Mailbox.objects.filter(pk=box.pk).update(imap_secret="not a Fernet token")
    with pytest.raises(crypto.SecretError):
        Mailbox.objects.get(pk=box.pk).imap_account()


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_a_host_that_is_no_host_name_is_refused(db: Any, owner: Any, host: str) -> None:
    errors = errors_of(new_box(owner, smtp_host=host, imap_host=host))
    assert set(errors) == {"smtp_host", "imap_host"}, errors
    assert "host" in errors["smtp_host"][0] or "character" in errors["smtp_host"][0]


@pytest.mark.parametrize("host", GOOD_HOSTS)
def test_host_names_and_addresses_are_taken(db: Any, owner: Any, host: str) -> None:
    assert errors_of(new_box(owner, smtp_host=host, imap_host=host)) == {}


@pytest.mark.parametrize(("field", "port"), [("smtp_port", 0), ("imap_port", 65536)])
def test_a_port_out_of_range_is_a_message_on_its_field(
    db: Any, owner: Any, field: str, port: int
) -> None:
    # Not the CHECK constraint's "Constraint … is violated", which names no field.
    errors = errors_of(new_box(owner, **{field: port}))
    assert list(errors) == [field]
    assert "1" in errors[field][0] and "65535" in errors[field][0]


@pytest.mark.parametrize("field", ["display_name", "smtp_username", "imap_username"])
@pytest.mark.parametrize("value", ["Ann\r\nBcc: x@y", "u\na1 LOGOUT", "u\rRSET", "u\x00", "u\x7f"])
def test_control_characters_are_refused_where_they_reach_a_header_or_a_command(
    db: Any, owner: Any, field: str, value: str
) -> None:
    errors = errors_of(new_box(owner, **{field: value}))
    assert list(errors) == [field]
    assert "control character" in errors[field][0]


@pytest.mark.parametrize(("field", "value", "password"), ENDPOINT_CHANGES)
def test_moving_to_another_server_or_login_needs_that_password_again(
    db: Any, make_mailbox: Any, field: str, value: Any, password: str
) -> None:
    box = Mailbox.objects.get(pk=make_mailbox().pk)
    setattr(box, field, value)
    errors = errors_of(box)
    assert list(errors) == [password]
    assert "again" in errors[password][0]
    setattr(box, password, "the-new-one")
    assert errors_of(box) == {}


def test_changes_that_keep_the_server_need_no_password(db: Any, make_mailbox: Any) -> None:
    box = Mailbox.objects.get(pk=make_mailbox().pk)
    box.display_name, box.daily_max, box.timezone = "Ann", 60, "Europe/Berlin"
    box.smtp_host = box.smtp_host  # the same value written back is no move
    assert errors_of(box) == {}


def test_after_a_save_the_new_server_is_the_stored_one(db: Any, make_mailbox: Any) -> None:
    box = Mailbox.objects.get(pk=make_mailbox().pk)
    box.smtp_host = "smtp.elsewhere.test"
    box.smtp_password = "for-elsewhere"
    box.save()
    box.daily_max = 60
    assert errors_of(box) == {}
    box.smtp_host = "smtp.third.test"
    assert list(errors_of(box)) == ["smtp_password"]
