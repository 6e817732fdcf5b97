from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from accounts.models import Mailbox
from tests.oauth import AuthorizationServer

_counter = itertools.count(1)


def pytest_report_header(config: pytest.Config) -> str:
    db = connection.settings_dict
    return f"database: PostgreSQL {db['NAME']} on {db['HOST'] or 'localhost'}"


@pytest.fixture(autouse=True)
def empty_cache_after_committed_tests(
    request: pytest.FixtureRequest, django_db_blocker: Any
) -> Iterator[None]:
    """The database cache (the login throttle's counts) is no model's table, so the flush
    after a transactional test leaves it: emptied after every test that committed, so
    that no test starts with another's login attempts counted."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if {"transactional_db", "live_server"} & set(request.fixturenames) or (
        marker is not None and marker.kwargs.get("transaction")
    ):
        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture(scope="session")
def authorization_server(django_db_setup: Any) -> Iterator[AuthorizationServer]:
    """The OAuth 2.0 / OpenID Connect authorization server (tests/oauth.py), started once for
    the session in its own process, with its own database `<test database>_oauth` on the
    tests' PostgreSQL (dropped after). Tokens of applications registered without their own
    lifetime live an hour."""
    with AuthorizationServer(
        connection.settings_dict, f"{connection.settings_dict['NAME']}_oauth"
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def no_remembered_providers() -> Iterator[None]:
    """What a process remembers of the OAuth providers (discovery documents and key sets,
    outages) is forgotten between tests."""
    from accounts import oauth, tokens

    yield
    oauth.documents.clear()
    tokens.outages.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # PBKDF2's deliberate slowness costs ~0.5 s per user created; tests need none of it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(
        username=f"owner{next(_counter)}", password="owner-password-1"
    )


@pytest.fixture
def make_mailbox(owner: Any) -> Any:
    """Creates a saved mailbox; keyword arguments override the defaults."""

    def make(**fields: Any) -> Mailbox:
        n = next(_counter)
        values: dict[str, Any] = {
            "owner": owner,
            "email": f"box{n}@example{n % 7}.test",
            "smtp_host": "smtp.example.test",
            "smtp_username": f"box{n}",
            "imap_host": "imap.example.test",
            "imap_username": f"box{n}",
            "smtp_password": f"smtp-secret-{n}",
            "imap_password": f"imap-secret-{n}",
        }
        values.update(fields)
        return Mailbox.objects.create(**values)

    return make


@pytest.fixture(autouse=True)
def no_remembered_partitions() -> Iterator[None]:
    """The send log partitions a process has seen: a test's may have been rolled back."""
    from warmup import partitions

    partitions.forget()
    yield
    partitions.forget()
