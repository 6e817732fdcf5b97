"""Guessing passwords and replaying tokens: the admin login and the token endpoints share
one throttle per client address, counted in the database cache every process shares (two
gunicorn servers here); a refresh token works once; a password change voids every token;
`migrate` alone makes the cache's table."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client
from rest_framework.test import APIClient

from tests.test_api_mailboxes import PASSWORD, user
from tests.test_deployment import ROOT, gunicorn, make_user_with_mailbox, request
from warmup_project.logins import token_digest

BUDGET = 20  # REST_FRAMEWORK's DEFAULT_THROTTLE_RATES["auth"]: 20/minute


@pytest.fixture(autouse=True)
def fresh_throttle(db: Any) -> None:
    cache.clear()  # no login attempts counted yet


def api_login(username: str, password: str, **extra: str) -> Any:
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", **extra
    )


def admin_login(client: Client, username: str, password: str, **extra: str) -> Any:
    form = {"username": username, "password": password, "next": "/admin/"}
    return client.post("/admin/login/", form, **extra)


@pytest.mark.django_db
def test_the_admin_login_is_throttled_and_shares_the_apis_budget(settings: Any) -> None:
    """10 wrong passwords at the admin, 10 at the API: the 21st attempt from that address
    is refused at both doors, the right password included; another address is not."""
    staff = user("operator", staff=True)
    browser = Client()
    for _ in range(BUDGET // 2):
        page = admin_login(browser, staff.username, "wrong")
        assert page.status_code == 200 and b"Please enter the correct username" in page.content
        assert api_login(staff.username, "wrong").status_code == 401

    refused = admin_login(browser, staff.username, PASSWORD)
    assert refused.status_code == 429
    assert "Too many login attempts from your address" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "_auth_user_id" not in browser.session  # not logged in
    api = api_login(staff.username, PASSWORD)
    assert api.status_code == 429 and api.json()["error"] == "throttled"
    assert "Retry-After" in api

    # Counted per client address: another one has its own budget.
    assert api_login(staff.username, PASSWORD, REMOTE_ADDR="198.51.100.4").status_code == 200
    other = admin_login(Client(), staff.username, PASSWORD, REMOTE_ADDR="198.51.100.5")
    assert other.status_code == 302 and other["Location"] == "/admin/"
    # Behind nginx (NUM_PROXIES=1) the address nginx appended is the client's; what the
    # client wrote before it changes nothing.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    forged = {"HTTP_X_FORWARDED_FOR": "203.0.113.99, 127.0.0.1"}
    assert api_login(staff.username, PASSWORD, **forged).status_code == 429
    other_client = {"HTTP_X_FORWARDED_FOR": "127.0.0.1, 203.0.113.8"}
    assert api_login(staff.username, PASSWORD, **other_client).status_code == 200


@pytest.mark.django_db
def test_the_admin_alone_refuses_the_21st_attempt_until_the_minute_is_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    now = [1_000_000.0]
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: now[0])
    staff = user("operator", staff=True)
    browser = Client()
    for _ in range(BUDGET + 10):
        admin_login(browser, staff.username, "wrong")
    assert admin_login(browser, staff.username, PASSWORD).status_code == 429
    now[0] += 61
    assert admin_login(browser, staff.username, PASSWORD).status_code == 302


def form_login(port: int, username: str, password: str) -> int:
    """The admin's login form as a browser posts it (the CSRF cookie from the page, the
    Origin a browser sends) to a server with production settings."""
    https = {"X-Forwarded-Proto": "https"}
    status, headers, _ = request(port, "GET", "/admin/login/", headers=https)
    assert status == 200, status
    match = re.search(r"csrftoken=([^;]+)", headers["set-cookie"])
    assert match is not None
    body = urlencode(
        {
            "csrfmiddlewaretoken": match.group(1),
            "username": username,
            "password": password,
            "next": "/admin/",
        }
    )
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection_.request(
        "POST",
        "/admin/login/",
        body=body,
        headers={
            **https,
            "Host": "127.0.0.1",
            "Origin": "https://127.0.0.1",
            "Cookie": f"csrftoken={match.group(1)}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    response = connection_.getresponse()
    response.read()
    connection_.close()
    return response.status


def token_login(port: int, username: str, password: str) -> int:
    body = {"username": username, "password": password}
    return request(
        port, "POST", "/api/auth/token/", body=body, headers={"X-Forwarded-Proto": "https"}
    )[0]


def test_the_count_is_shared_by_every_process(transactional_db: Any, make_mailbox: Any) -> None:
    """Two gunicorn servers (production settings) on one database: 10 guesses at one's
    API, 10 at the other's admin, and the 21st is refused by both."""
    username, password = make_user_with_mailbox(make_mailbox)
    get_user_model().objects.filter(username=username).update(is_staff=True)
    with gunicorn(workers=1) as api_port, gunicorn(workers=1) as admin_port:
        for _ in range(BUDGET // 2):
            assert token_login(api_port, username, "wrong") == 401
            assert form_login(admin_port, username, "wrong") == 200  # the form, with an error
        assert token_login(api_port, username, password) == 429
        assert form_login(admin_port, username, password) == 429
        assert token_login(admin_port, username, password) == 429


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """`work(i)` for i in range(count), in `count` threads started together, each on its
    own database connection."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_attempts_at_the_same_moment_get_no_more_than_the_budget() -> None:
    """Eight clients of one address guessing at once (eight connections, as eight gunicorn
    threads would be): never more than 20 attempts get through in the minute."""
    user("alice")

    def guesses(i: int) -> list[int]:
        return [api_login("alice", f"wrong-{i}-{n}").status_code for n in range(6)]

    statuses = Counter(s for batch in in_threads(8, guesses) for s in batch)
    assert statuses == {401: BUDGET, 429: 8 * 6 - BUDGET}


# --- tokens ------------------------------------------------------------------------------


def token_pair(username: str) -> dict[str, str]:
    response = api_login(username, PASSWORD)
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str) -> Any:
    return APIClient().post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def with_access(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.django_db
def test_a_refresh_token_works_once() -> None:
    user("alice")
    pair = token_pair("alice")
    first = refresh(pair["refresh"])
    assert first.status_code == 200
    again = refresh(pair["refresh"])
    assert again.status_code == 401 and again.json()["error"] == "token_not_valid"
    # The first use returned a working access token and a new refresh token, good once.
    renewed = first.json()
    assert with_access(renewed["access"]).get("/api/mailboxes/").status_code == 200
    assert refresh(renewed["refresh"]).status_code == 200
    assert refresh(renewed["refresh"]).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_one_refresh_token_used_twice_at_the_same_moment_works_once() -> None:
    user("alice")
    spent = token_pair("alice")["refresh"]
    statuses = in_threads(4, lambda i: refresh(spent).status_code)
    assert sorted(statuses) == [200, 401, 401, 401]


@pytest.mark.django_db
def test_a_password_change_voids_every_token() -> None:
    alice = user("alice")
    pair = token_pair("alice")
    assert with_access(pair["access"]).get("/api/mailboxes/").status_code == 200
    alice.set_password("a-new-password-after-a-leak")
    alice.save()
    denied = with_access(pair["access"]).get("/api/mailboxes/")
    assert denied.status_code == 401 and "password has been changed" in denied.json()["detail"]
    assert refresh(pair["refresh"]).status_code == 401
    # The new password's tokens work.
    fresh = api_login("alice", "a-new-password-after-a-leak").json()
    assert with_access(fresh["access"]).get("/api/mailboxes/").status_code == 200
    assert refresh(fresh["refresh"]).status_code == 200


@pytest.mark.django_db
def test_a_refresh_token_of_a_deleted_or_inactive_user_is_a_401() -> None:
    for name, end in (("gone", "delete"), ("idle", "deactivate")):
        account = user(name)
        pair = token_pair(name)
        if end == "delete":
            account.delete()
        else:
            account.is_active = False
            account.save()
        response = refresh(pair["refresh"])
        assert response.status_code == 401, (name, response.content)
        assert response.json()["detail"]
        assert with_access(pair["access"]).get("/api/mailboxes/").status_code == 401


@pytest.mark.django_db
def test_the_admin_lists_outstanding_tokens_without_the_tokens(admin_client: Client) -> None:
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    user("alice")
    pair = token_pair("alice")
    row = OutstandingToken.objects.get(user__username="alice")
    for url in (
        "/admin/token_blacklist/outstandingtoken/",
        f"/admin/token_blacklist/outstandingtoken/{row.pk}/change/",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert pair["refresh"] not in page.content.decode()
        assert pair["refresh"].split(".")[2] not in page.content.decode()  # nor its signature


@pytest.mark.django_db
def test_daily_maintenance_deletes_expired_refresh_tokens() -> None:
    import datetime as dt

    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from warmup import tasks

    user("alice")
    spent = token_pair("alice")["refresh"]
    live = refresh(spent).json()["refresh"]
    OutstandingToken.objects.exclude(token=token_digest(live)).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert "2 expired token rows deleted" in tasks.maintenance()  # the token, its blacklisting
    assert list(OutstandingToken.objects.values_list("token", flat=True)) == [token_digest(live)]


@pytest.mark.django_db
def test_the_database_keeps_no_refresh_token_only_its_digest() -> None:
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    user("alice")
    issued = token_pair("alice")["refresh"]
    renewed = refresh(issued).json()["refresh"]  # rotated: a second row
    stored = list(OutstandingToken.objects.values_list("token", flat=True))
    assert sorted(stored) == sorted([token_digest(issued), token_digest(renewed)])
    for token in (issued, renewed):
        assert not OutstandingToken.objects.filter(token__contains=token.split(".")[2]).exists()
    assert refresh(issued).status_code == 401  # the blacklist still knows it


# --- the cache's table ---------------------------------------------------------------------


def test_migrate_alone_makes_the_cache_table() -> None:
    """On a new database, as a deployment runs it: `manage.py migrate` and nothing else."""
    import psycopg

    from tests.test_run_warmup import database_url

    name = f"{connection.settings_dict['NAME']}_fresh_migrate"
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            env = {
                **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
                "DATABASE_URL": database_url(name),
                "DEBUG": "true",
            }
            done = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            with psycopg.connect(database_url(name)) as fresh:
                found = fresh.execute("SELECT to_regclass('cache') IS NOT NULL").fetchone()
            assert found == (True,)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
