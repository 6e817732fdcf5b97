"""Schemathesis against the OpenAPI schema, through the WSGI app in this process: every
operation, authenticated as staff, a bounded number of generated requests each. No
request may cause a server error, and every documented response must match its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.test_api_mailboxes import mailbox_of, user

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """Django closes old connections at the start and end of each request; under a test's
    transaction that would close it. Django's test client turns this off; schemathesis
    calls the WSGI app directly, so it is turned off here."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db: Any) -> str:
    cache.clear()
    staff = user("root", staff=True)
    for n in range(3):
        mailbox_of(staff, n)
    return str(AccessToken.for_user(staff))


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_within_its_schema(case: Any, staff_token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {staff_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
