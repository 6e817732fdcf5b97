"""Hostile input is a 400 in the API's error shape, never a 500: digits that are not ASCII
digits, numbers too long for int() or a bigint, JSON nested deep enough to exhaust the
parser's recursion, also from clients that have not logged in."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.test_api_mailboxes import client_for, mailbox_of, user

pytestmark = pytest.mark.django_db

NOT_WHOLE_NUMBERS = ["²", "¹", "٣", "0", "-1", "1.5", " 1", "9" * 19, "9" * 5000]


@pytest.fixture(autouse=True)
def fresh_throttle(db: Any) -> None:
    cache.clear()  # no login attempts counted yet


@pytest.fixture
def alice() -> APIClient:
    account = user("alice")
    mailbox_of(account, 1)
    return client_for(account)


@pytest.mark.parametrize("raw", NOT_WHOLE_NUMBERS)
@pytest.mark.parametrize("name", ["page", "page_size"])
@pytest.mark.parametrize("path", ["/api/mailboxes/", "/api/warmup/quota", "/api/warmup/mailbox"])
def test_page_and_page_size_take_whole_numbers_only(
    alice: APIClient, path: str, name: str, raw: str
) -> None:
    response = alice.get(path, {name: raw})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid" and name in body["fields"]


@pytest.mark.parametrize("raw", NOT_WHOLE_NUMBERS)
def test_a_mailbox_id_is_a_whole_number(alice: APIClient, raw: str) -> None:
    response = alice.get("/api/warmup/mailbox", {"id": raw})
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {"id": [f"must be a mailbox id, not {raw[:20]!r}."]}


def test_whole_numbers_still_work(alice: APIClient) -> None:
    assert alice.get("/api/mailboxes/", {"page": "1", "page_size": "500"}).status_code == 200
    assert alice.get("/api/warmup/mailbox", {"id": "9" * 18}).status_code == 404
    for url in ("/api/mailboxes/", "/api/warmup/mailbox", "/api/warmup/quota", "/api/domains/"):
        for size in ("50", "500"):  # past the end, and past any offset a table may have
            assert alice.get(url, {"page": "9" * 18, "page_size": size}).status_code == 404


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/token/refresh/"])
def test_deeply_nested_json_is_a_400_before_any_login(path: str) -> None:
    response = APIClient().post(path, deep(50_000), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == {
        "error": "parse_error",
        "detail": "JSON parse error - nested deeper than 32 levels",
    }


def test_deeply_nested_json_is_a_400_for_a_logged_in_user(alice: APIClient) -> None:
    body = '{"email": ' + deep(50_000) + "}"
    response = alice.post("/api/mailboxes/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "parse_error"


def test_nesting_within_the_limit_and_brackets_in_strings_are_parsed() -> None:
    from warmup_project.api import MAX_JSON_DEPTH

    nested = '{"username": ' + deep(MAX_JSON_DEPTH - 1) + ', "password": "x"}'
    response = APIClient().post("/api/auth/token/", nested, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid"
    in_a_string = '{"username": "alice", "password": "' + deep(5_000) + '\\" ]"}'
    response = APIClient().post("/api/auth/token/", in_a_string, content_type="application/json")
    assert response.status_code == 401  # parsed: a wrong password


@pytest.mark.parametrize(
    ("text", "deeper_than_2"),
    [
        ('[[["x"]]]', True),
        ('[["x"]]', False),
        ('{"a": "[[[[", "b": "\\"[[[["}', False),  # brackets in strings, an escaped quote
        ('[["unterminated [[[[', False),  # the json module stops at the string
        ("[[[ not json", True),
        ('\\"' * 100_000, False),  # no quadratic rescans of unterminated strings
        ("", False),
    ],
)
def test_nesting_depth(text: str, deeper_than_2: bool) -> None:
    from warmup_project.api import nested_deeper_than

    assert nested_deeper_than(2, text) is deeper_than_2


def test_hostile_numbers_in_a_mailbox_path_are_a_404(alice: APIClient) -> None:
    for raw in ["²", "9" * 19, "9" * 5000]:
        assert alice.get(f"/api/mailboxes/{raw}/").status_code == 404
