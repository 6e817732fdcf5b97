"""Schemathesis against the OpenAPI schema, through the WSGI app in this process: every
operation, as a superuser, an owner and a staff account without permissions, a bounded
number of generated requests each (API_SCHEMA_EXAMPLES, default 10: a quick run for CI;
set it to 100 or more to search harder). No request may cause a server error, and every
documented response must match its schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
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

from tests.test_api_mailboxes import PASSWORD, mailbox_of, user

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
EXAMPLES = int(os.environ.get("API_SCHEMA_EXAMPLES", "10"))


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


@pytest.fixture(params=["superuser", "owner", "staff without permissions"])
def token(request: pytest.FixtureRequest, db: Any) -> str:
    """A JWT of an account with three mailboxes, beside another owner's three."""
    cache.clear()
    if request.param == "superuser":
        account = get_user_model().objects.create_superuser("root", password=PASSWORD)
    else:
        account = user("someone", staff=request.param != "owner")
    other = user("other")
    for n in range(3):
        mailbox_of(account, n)
        mailbox_of(other, n)
    return str(AccessToken.for_user(account))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_within_its_schema(case: Any, token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
