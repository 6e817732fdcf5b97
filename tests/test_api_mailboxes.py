"""The mailbox API through real HTTP requests with real JWTs: CRUD, validation, the one
error shape, isolation between users, and tokens that must be refused."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import crypto
from accounts import status as mailbox_status
from accounts.models import (
    AUTH_GOOGLE_DELEGATED,
    AUTH_MICROSOFT_APP,
    AUTH_OAUTH2,
    AUTH_PASSWORD,
    Mailbox,
    MailboxToken,
    OwnerPlan,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def payload(**fields: Any) -> dict[str, Any]:
    values = {
        "email": "new@example.test",
        "smtp_host": "smtp.example.test",
        "smtp_username": "new",
        "smtp_password": "smtp-pass-1",
        "imap_host": "imap.example.test",
        "imap_username": "new",
        "imap_password": "imap-pass-1",
    }
    values.update(fields)
    return values


@pytest.fixture(autouse=True)
def fresh_throttle() -> None:
    cache.clear()


def user(name: str, *, staff: bool = False, perms: Iterable[str] = ()) -> Any:
    """A user with PASSWORD; `perms` are Django model permissions ("app_label.codename")."""
    account = get_user_model().objects.create_user(name, password=PASSWORD, is_staff=staff)
    for perm in perms:
        app_label, codename = perm.split(".")
        account.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return account


def client_for(account: Any) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/auth/token/", {"username": account.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def mailbox_of(owner: Any, n: int) -> Mailbox:
    box = Mailbox(
        owner=owner,
        email=f"{owner.username}{n}@d{n}.test",
        smtp_host="smtp.test",
        smtp_username="u",
        imap_host="imap.test",
        imap_username="u",
    )
    box.smtp_password = "s3cret-smtp"
    box.imap_password = "s3cret-imap"
    box.save()
    return box


def test_create_read_update_delete_with_write_only_passwords() -> None:
    alice = client_for(user("alice"))
    created = alice.post("/api/mailboxes/", payload(), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["owner"] == "alice"
    assert body["provider"] == "other"
    assert "smtp_password" not in body and "imap_password" not in body
    assert "smtp-pass-1" not in created.content.decode()
    box = Mailbox.objects.get(id=body["id"])
    assert box.smtp_password == "smtp-pass-1" and box.imap_password == "imap-pass-1"
    assert "smtp-pass-1" not in box.smtp_secret  # stored encrypted

    changed = alice.patch(
        f"/api/mailboxes/{box.id}/", {"daily_max": 60, "smtp_password": "new-pass"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    box.refresh_from_db()
    assert (box.daily_max, box.smtp_password, box.imap_password) == (60, "new-pass", "imap-pass-1")

    listed = alice.get("/api/mailboxes/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == box.id
    assert alice.delete(f"/api/mailboxes/{box.id}/").status_code == 204
    assert not Mailbox.objects.exists()


def token_mailbox(owner: Any, n: int, method: str = AUTH_OAUTH2) -> Mailbox:
    box = mailbox_of(owner, n)
    Mailbox.objects.filter(id=box.id).update(auth_method=method, provider="gmail")
    MailboxToken.objects.create(
        mailbox=box,
        refresh_secret=crypto.encrypt("secret-token-value"),
        access_secret=crypto.encrypt("secret-access-value"),
        expires_at=dt.datetime(2026, 6, 1, 13, tzinfo=dt.UTC),
        connected_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        refreshed_at=dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC),
        refreshes=7,
        refresh_failures=2,
        last_error="invalid_grant: Token has been expired or revoked.",
    )
    box.refresh_from_db()
    return box


def test_a_token_mailbox_shows_how_its_token_fares_never_the_token() -> None:
    alice = user("alice")
    box = token_mailbox(alice, 1)
    password_box = mailbox_of(alice, 2)
    unconnected = mailbox_of(alice, 3)
    Mailbox.objects.filter(id=unconnected.id).update(auth_method=AUTH_GOOGLE_DELEGATED)
    client = client_for(alice)
    answer = client.get(f"/api/mailboxes/{box.id}/")
    assert answer.status_code == 200
    assert answer.json()["token"] == {
        "connected_at": "2026-05-01T00:00:00Z",
        "refreshed_at": "2026-06-01T12:00:00Z",
        "expires_at": "2026-06-01T13:00:00Z",
        "refreshes": 7,
        "refresh_failures": 2,
        "last_error": "invalid_grant: Token has been expired or revoked.",
    }
    stored = MailboxToken.objects.get(mailbox=box)
    listed = client.get("/api/mailboxes/")
    for text in (answer.content.decode(), listed.content.decode()):
        for secret in ("secret-token-value", "secret-access-value"):
            assert secret not in text
        assert stored.refresh_secret not in text and stored.access_secret not in text
        assert "_secret" not in text
    assert client.get(f"/api/mailboxes/{password_box.id}/").json()["token"] is None
    assert client.get(f"/api/mailboxes/{unconnected.id}/").json()["token"] is None
    # A password mailbox left with a token row (it logged in by oauth2 once) shows none.
    Mailbox.objects.filter(id=box.id).update(auth_method=AUTH_PASSWORD)
    assert client.get(f"/api/mailboxes/{box.id}/").json()["token"] is None


def test_listing_token_mailboxes_costs_no_query_per_mailbox() -> None:
    alice = user("alice")
    client = client_for(alice)
    token_mailbox(alice, 1)
    mailbox_of(alice, 2)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/mailboxes/").status_code == 200
        return len(captured)

    few = queries()
    for n in range(3, 8):
        token_mailbox(alice, n, AUTH_MICROSOFT_APP)
    mailbox_of(alice, 9)
    listed = client.get("/api/mailboxes/").json()["results"]
    assert [box["token"] is not None for box in listed] == [True, False, *[True] * 5, False]
    assert queries() == few


def test_pause_and_resume() -> None:
    owner = user("alice")
    box = mailbox_of(owner, 1)
    box.consecutive_failures = 4
    box.save()
    alice = client_for(owner)
    paused = alice.post(f"/api/mailboxes/{box.id}/pause/")
    assert paused.status_code == 200
    assert (paused.json()["status"], paused.json()["status_reason"]) == (
        mailbox_status.PAUSED,
        "paused by alice",
    )
    resumed = alice.post(f"/api/mailboxes/{box.id}/resume/").json()
    assert (resumed["status"], resumed["consecutive_failures"]) == (mailbox_status.ACTIVE, 0)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"smtp_port": 0}, "smtp_port"),
        ({"imap_port": 65536}, "imap_port"),
        ({"smtp_port": "587; drop table"}, "smtp_port"),
        ({"smtp_security": "tls-ish"}, "smtp_security"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"window_start_hour": 18, "window_end_hour": 8}, "window_end_hour"),
        ({"window_end_hour": 25}, "window_end_hour"),
        ({"reply_rate": 1.5}, "reply_rate"),
        ({"reply_rate": "lots"}, "reply_rate"),
        ({"daily_max": 500}, "daily_max"),  # the plan allows 100
        ({"daily_max": 10}, "daily_max"),  # below WARMUP_MIN_DAILY_QUOTA
        ({"smtp_password": ""}, "smtp_password"),
        ({"warmup_enabled": "perhaps"}, "warmup_enabled"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(fields: dict[str, Any], field: str) -> None:
    alice = client_for(user("alice"))
    response = alice.post("/api/mailboxes/", payload(**fields), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid"
    assert field in body["fields"], body
    assert body["detail"]
    assert not Mailbox.objects.exists()


def test_a_duplicate_address_and_the_plan_limit_are_400s() -> None:
    owner = user("alice")
    OwnerPlan.objects.create(owner=owner, max_mailboxes=1)
    existing = mailbox_of(owner, 1)
    alice = client_for(owner)
    clash = alice.post("/api/mailboxes/", payload(email=existing.email.upper()), format="json")
    assert clash.status_code == 400 and "email" in clash.json()["fields"]
    over = alice.post("/api/mailboxes/", payload(), format="json")
    assert over.status_code == 400
    assert "plan allows 1 mailboxes" in over.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"smtp_host": "a..b"}, "smtp_host"),
        ({"imap_host": "x" * 64 + ".test"}, "imap_host"),
        ({"smtp_host": "smtp.example.test\r\nRSET"}, "smtp_host"),
        ({"imap_host": "imap example.test"}, "imap_host"),
        ({"display_name": "Ann\r\nBcc: x@y"}, "display_name"),
        ({"smtp_username": "new\r\nRSET"}, "smtp_username"),
        ({"imap_username": "new\r\na1 LOGOUT"}, "imap_username"),
        ({"smtp_password": "Hunter-77\r\nRSET"}, "smtp_password"),
        ({"imap_password": "Hunter-77\na1 LOGOUT"}, "imap_password"),
        ({"imap_password": "Hunter-77\x7f"}, "imap_password"),
    ],
)
def test_hostile_values_are_a_400_naming_the_field(fields: dict[str, Any], field: str) -> None:
    alice = client_for(user("alice"))
    response = alice.post("/api/mailboxes/", payload(**fields), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["error"], list(body["fields"])) == ("invalid", [field])
    assert "Hunter-77" not in response.content.decode()  # a password is never echoed
    assert not Mailbox.objects.exists()


ENDPOINT_CHANGES = [
    ({"smtp_host": "smtp.elsewhere.test"}, "smtp_password"),
    ({"smtp_port": 2525}, "smtp_password"),
    ({"smtp_security": "ssl"}, "smtp_password"),
    ({"smtp_username": "someone-else"}, "smtp_password"),
    ({"imap_host": "imap.elsewhere.test"}, "imap_password"),
    ({"imap_port": 143}, "imap_password"),
    ({"imap_security": "starttls"}, "imap_password"),
    ({"imap_username": "someone-else"}, "imap_password"),
]


@pytest.mark.parametrize(("change", "password"), ENDPOINT_CHANGES)
def test_moving_to_another_server_needs_its_password_again(
    change: dict[str, Any], password: str
) -> None:
    # Otherwise the stored password goes to whichever server the mailbox now names, and a
    # server of the caller's choosing reads it in clear from AUTH PLAIN or LOGIN.
    owner = user("alice")
    box = mailbox_of(owner, 1)
    ((field, value),) = change.items()
    before = (getattr(box, field), box.smtp_secret, box.imap_secret)
    alice = client_for(owner)
    url = f"/api/mailboxes/{box.id}/"

    refused = alice.patch(url, change, format="json")
    assert refused.status_code == 400, refused.content
    body = refused.json()
    assert (body["error"], list(body["fields"])) == ("invalid", [password])
    assert "again" in body["fields"][password][0]
    assert "s3cret" not in refused.content.decode()
    box.refresh_from_db()
    assert (getattr(box, field), box.smtp_secret, box.imap_secret) == before

    accepted = alice.patch(url, {**change, password: "for-the-new-server"}, format="json")
    assert accepted.status_code == 200, accepted.content
    box.refresh_from_db()
    assert getattr(box, field) == value
    assert getattr(box, password) == "for-the-new-server"


def test_an_update_that_keeps_the_servers_needs_no_password() -> None:
    owner = user("alice")
    box = mailbox_of(owner, 1)
    same = {
        "email": box.email,
        "smtp_host": box.smtp_host,
        "smtp_port": box.smtp_port,
        "smtp_security": box.smtp_security,
        "smtp_username": box.smtp_username,
        "imap_host": box.imap_host,
        "imap_port": box.imap_port,
        "imap_security": box.imap_security,
        "imap_username": box.imap_username,
        "display_name": "Alice",
    }
    response = client_for(owner).put(f"/api/mailboxes/{box.id}/", same, format="json")
    assert response.status_code == 200, response.content
    box.refresh_from_db()
    assert (box.display_name, box.smtp_password) == ("Alice", "s3cret-smtp")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("plan_row", [True, False], ids=["plan", "no-plan-row-yet"])
def test_parallel_creates_cannot_pass_the_plan_limit(plan_row: bool) -> None:
    owner = user("alice")
    if plan_row:
        OwnerPlan.objects.create(owner=owner, max_mailboxes=5)
    limit = 5 if plan_row else OwnerPlan._meta.get_field("max_mailboxes").get_default()
    for n in range(limit - 1):  # one place left
        mailbox_of(owner, n)
    start = threading.Barrier(8)
    responses: list[Any] = [None] * 8
    errors: list[BaseException] = []

    def create(n: int) -> None:
        try:
            client = APIClient()
            client.force_authenticate(owner)
            start.wait()
            responses[n] = client.post(
                "/api/mailboxes/", payload(email=f"parallel{n}@p{n}.test"), format="json"
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.status_code for r in responses) == [201] + [400] * 7
    for refused in (r for r in responses if r.status_code == 400):
        assert refused.json()["detail"] == f"your plan allows {limit} mailboxes."
    assert Mailbox.objects.filter(owner=owner).count() == limit
    assert OwnerPlan.objects.filter(owner=owner).count() == 1


@pytest.mark.parametrize(
    ("body", "content_type", "expected", "error"),
    [
        ("{not json", "application/json", 400, "parse_error"),
        ("[1, 2, 3]", "application/json", 400, "invalid"),
        ('"just a string"', "application/json", 400, "invalid"),
        ("email=x@y.z", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (json.dumps(payload(display_name="x" * 400_000)), "application/json", 400, "parse_error"),
    ],
)
def test_malformed_and_oversized_bodies_get_a_clear_error(
    body: str, content_type: str, expected: int, error: str
) -> None:
    alice = client_for(user("alice"))
    response = alice.generic("POST", "/api/mailboxes/", body, content_type=content_type)
    assert response.status_code == expected, response.content
    assert response.json()["error"] == error
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "query", ["page=abc", "page=0", "page_size=-5", "page_size=1e3", "page_size=last"]
)
def test_bad_pagination_values_are_400s(query: str) -> None:
    response = client_for(user("alice")).get(f"/api/mailboxes/?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid"


def test_page_size_is_capped() -> None:
    owner = user("alice")
    for n in range(3):
        mailbox_of(owner, n)
    body = client_for(owner).get("/api/mailboxes/?page_size=2").json()
    assert (body["count"], len(body["results"])) == (3, 2)


def test_pages_of_mailboxes_and_of_their_performance_go_by_id() -> None:
    # Both lists take a page's ids first, then load those mailboxes: in the same order.
    # The last page is read from the end, and holds the same rows in the same order.
    owner = user("alice")
    boxes = [mailbox_of(owner, n) for n in (3, 1, 2, 0, 4)]
    client = client_for(owner)
    for url in ("/api/mailboxes/", "/api/warmup/mailbox"):
        pages = [client.get(f"{url}?page_size=3&page={p}").json() for p in ("1", "2", "last")]
        assert [[m["id"] for m in page["results"]] for page in pages] == [
            [b.id for b in boxes[:3]],
            [b.id for b in boxes[3:]],
            [b.id for b in boxes[3:]],
        ]
        assert pages[2]["results"][0]["email"] == boxes[3].email
        assert pages[2]["next"] is None and pages[2]["previous"] is not None


@pytest.mark.parametrize("url", ["/api/mailboxes/", "/api/warmup/mailbox"])
def test_a_long_mailbox_list_is_counted_by_estimate_and_ends_by_its_rows(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above EXACT_COUNT_UP_TO a mailbox list's count is PostgreSQL's estimate: the pages
    go by the rows, and the last page is read from the end (no offset)."""
    import warmup_project.api

    owner = user("alice")
    ids = [mailbox_of(owner, n).id for n in range(5)]
    client = client_for(owner)
    monkeypatch.setattr(warmup_project.api, "EXACT_COUNT_UP_TO", 1)
    monkeypatch.setattr(warmup_project.api, "estimated_count", lambda rows: 4)
    first = client.get(f"{url}?page_size=3").json()
    assert first["count"] == 4 and [m["id"] for m in first["results"]] == ids[:3]
    second = client.get(first["next"]).json()  # beyond the estimate's 4, the 5th is there
    assert [m["id"] for m in second["results"]] == ids[3:] and second["next"] is None
    with CaptureQueriesContext(connection) as queries:
        last = client.get(f"{url}?page_size=3&page=last").json()
    assert [m["id"] for m in last["results"]] == ids[-1:] and last["previous"] is None
    walks = [q["sql"] for q in queries if q["sql"].startswith('SELECT "mailboxes"."id" AS')]
    assert len(walks) == 1 and "DESC" in walks[0] and "OFFSET" not in walks[0], walks
    # Under the limit, counted row by row.
    monkeypatch.setattr(warmup_project.api, "estimated_count", lambda rows: 1)
    assert client.get(url).json()["count"] == 5


def test_users_cannot_see_touch_or_create_each_others_mailboxes() -> None:
    alice, bob = user("alice"), user("bob")
    bobs = mailbox_of(bob, 1)
    mailbox_of(alice, 2)
    as_alice = client_for(alice)
    url = f"/api/mailboxes/{bobs.id}/"
    for method, path in [
        ("get", url),
        ("put", url),
        ("patch", url),
        ("delete", url),
        ("post", url + "pause/"),
        ("post", url + "resume/"),
    ]:
        response = getattr(as_alice, method)(path, payload(), format="json")
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["error"] == "not_found"
    bobs.refresh_from_db()
    assert bobs.status == mailbox_status.ACTIVE and bobs.smtp_password == "s3cret-smtp"
    listed = as_alice.get("/api/mailboxes/?page_size=500&owner=bob&owner_id=" + str(bob.id))
    assert [m["email"] for m in listed.json()["results"]] == ["alice2@d2.test"]
    assert as_alice.get("/api/mailboxes/?page=2").status_code == 404
    # The owner is whoever creates it, whatever the body says.
    created = as_alice.post("/api/mailboxes/", payload(owner="bob"), format="json")
    assert created.status_code == 201
    assert Mailbox.objects.get(id=created.json()["id"]).owner == alice
    # Staff who may view mailboxes see everyone's.
    staff = client_for(user("root", staff=True, perms=["accounts.view_mailbox"]))
    assert staff.get("/api/mailboxes/").json()["count"] == 3
    assert staff.get(url).status_code == 200


def test_staff_act_on_other_owners_mailboxes_only_with_the_permission_for_the_act() -> None:
    """is_staff alone is an admin login, not a licence: without the model permission for
    an act, a staff account does it to its own mailboxes only, as any owner does."""
    bob = user("bob")
    bobs = mailbox_of(bob, 1)
    url = f"/api/mailboxes/{bobs.id}/"

    def answers(account: Any) -> dict[str, int]:
        client = client_for(account)
        return {
            "list": client.get("/api/mailboxes/").json()["count"],
            "get": client.get(url).status_code,
            "patch": client.patch(url, {"daily_max": 40}, format="json").status_code,
            "pause": client.post(url + "pause/").status_code,
            "resume": client.post(url + "resume/").status_code,
            "test": client.post(url + "test/").status_code,
            "delete": client.delete(url).status_code,
        }

    bare = user("clerk", staff=True)
    mailbox_of(bare, 2)
    refused = {"get": 404, "patch": 404, "pause": 404, "resume": 404, "test": 404, "delete": 404}
    assert answers(bare) == {"list": 1, **refused}
    viewer = user("viewer", staff=True, perms=["accounts.view_mailbox"])
    assert answers(viewer) == {**refused, "list": 2, "get": 200}
    changer = user("changer", staff=True, perms=["accounts.change_mailbox"])
    changed = answers(changer)
    assert changed.pop("test") == 200  # the login test ran (and failed: no server there)
    assert changed == {
        "list": 0,
        "get": 404,
        "patch": 200,
        "pause": 200,
        "resume": 200,
        "delete": 404,
    }
    # A permission without is_staff is no staff power either.
    holder = user("holder", perms=["accounts.view_mailbox", "accounts.delete_mailbox"])
    assert answers(holder) == {"list": 0, **refused}
    bobs.refresh_from_db()
    assert bobs.daily_max == 40 and bobs.status == mailbox_status.ACTIVE
    deleter = user("deleter", staff=True, perms=["accounts.delete_mailbox"])
    assert answers(deleter) == {**refused, "list": 0, "delete": 204}
    assert not Mailbox.objects.filter(id=bobs.id).exists()
    # A superuser holds every permission.
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    assert client_for(root).get("/api/mailboxes/").json()["count"] == 1


def _forge(token: str, **changes: Any) -> str:
    header, body, signature = token.split(".")

    def decode(part: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    def encode(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    head, claims = decode(header), decode(body)
    if "alg" in changes:
        head["alg"] = changes.pop("alg")
        signature = ""
    claims.update(changes)
    return f"{encode(head)}.{encode(claims)}.{signature}"


def test_tampered_expired_and_unsigned_tokens_are_refused() -> None:
    alice, bob = user("alice"), user("bob")
    mailbox_of(bob, 1)
    good = str(AccessToken.for_user(alice))
    expired = AccessToken.for_user(alice)
    expired.set_exp(lifetime=-dt.timedelta(seconds=1))
    for token in [
        _forge(good, user_id=str(bob.id)),  # someone else's id, old signature
        str(expired),
        _forge(good, alg="none"),
        "not.a.token",
    ]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.get("/api/mailboxes/")
        assert response.status_code == 401, (token, response.content)
        assert response.json()["error"] in {"token_not_valid", "not_authenticated"}
    assert APIClient().get("/api/mailboxes/").status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {good}")
    assert client.get("/api/mailboxes/").status_code == 200


def test_token_endpoint_is_throttled_and_refresh_works() -> None:
    account = user("alice")
    client = APIClient()
    statuses = [
        client.post(
            "/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json"
        ).status_code
        for _ in range(25)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429
    cache.clear()
    pair = client.post(
        "/api/auth/token/", {"username": account.username, "password": PASSWORD}, format="json"
    ).json()
    refreshed = client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200 and refreshed.json()["access"]
    bad = client.post("/api/auth/token/refresh/", {"refresh": "junk"}, format="json")
    assert bad.status_code == 401
