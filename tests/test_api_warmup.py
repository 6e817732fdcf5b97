"""The engine's API: control (staff with its permissions, audited), quota, one mailbox's
performance and the metrics JSON, each with its isolation between users."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import AuditEvent
from tests.test_api_mailboxes import client_for, mailbox_of, user
from warmup.models import DailyStat, EngineState, Worker

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttle() -> None:
    cache.clear()


# The permissions of an operator who runs the engine and reads every mailbox.
OPERATOR = (
    "accounts.view_mailbox",
    "warmup.view_enginestate",
    "warmup.change_enginestate",
    "metrics.view_metricsnapshot",
)


@pytest.fixture
def people() -> dict[str, Any]:
    """alice with 3 mailboxes (one at quota), bob with 1, and a staff member with the
    permissions of an operator."""
    alice, bob = user("alice"), user("bob")
    today = timezone.now().date()
    boxes = [mailbox_of(alice, n) for n in range(3)] + [mailbox_of(bob, 9)]
    for box, sent in zip(boxes, (30, 5, 0, 12), strict=True):
        box.window_start_hour, box.window_end_hour = 0, 24
        box.save()
        DailyStat.objects.create(
            mailbox=box, date=today, quota=30, reserved=30, sent=sent, quota_met=sent >= 30
        )
        DailyStat.objects.create(
            mailbox=box,
            date=today - dt.timedelta(days=1),
            quota=30,
            sent=28,
            failed=2,
            quota_met=False,
        )
    operator = user("root", staff=True, perms=OPERATOR)
    return {"alice": alice, "bob": bob, "boxes": boxes, "staff": operator}


def test_control_is_for_staff_with_permission_and_audited(people: dict[str, Any]) -> None:
    alice = client_for(people["alice"])
    assert alice.get("/api/warmup/control").status_code == 403
    assert alice.post("/api/warmup/control", {"action": "stop"}, format="json").status_code == 403
    assert EngineState.load().running

    staff = client_for(people["staff"])
    Worker.objects.create(
        name="h:1:a",
        host="h",
        pid=1,
        started_at=timezone.now(),
        heartbeat_at=timezone.now() - dt.timedelta(hours=1),
    )
    state = staff.get("/api/warmup/control").json()
    assert state["running"] is True
    # No cycle has run in this database: the cycle rule decides, and says so.
    assert (state["health"]["level"], state["health"]["rule"]) == (0, "cycle")
    assert state["health"]["detail"] == "no engine cycle has run yet"
    assert [(w["name"], w["alive"]) for w in state["workers"]] == [("h:1:a", False)]

    stopped = staff.post(
        "/api/warmup/control", {"action": "stop", "reason": "db upgrade"}, format="json"
    )
    assert stopped.status_code == 200
    assert (stopped.json()["running"], stopped.json()["changed_by"]) == (False, "root")
    assert stopped.json()["health"]["rule"] == "engine"  # first of the critical rules
    assert staff.post("/api/warmup/control", {"action": "trigger"}, format="json").json()[
        "trigger_requested_at"
    ]
    assert staff.post("/api/warmup/control", {"action": "start"}, format="json").json()["running"]
    bad = staff.post("/api/warmup/control", {"action": "explode"}, format="json")
    assert bad.status_code == 400 and "action" in bad.json()["fields"]
    events = list(AuditEvent.objects.order_by("id"))
    assert [e.action for e in events] == ["engine.stop", "engine.trigger", "engine.start"]
    assert {e.actor_name for e in events} == {"root"}
    assert events[0].remote_addr == "127.0.0.1" and events[0].detail == {"reason": "db upgrade"}


def test_the_audited_address_is_the_clients_behind_a_proxy(
    people: dict[str, Any], settings: Any
) -> None:
    """With no proxy a client's X-Forwarded-For is ignored (it could say anything); behind
    nginx (NUM_PROXIES=1) the address nginx appended is the client's."""
    staff = client_for(people["staff"])
    forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.7"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    staff.post("/api/warmup/control", {"action": "trigger"}, format="json", **forwarded)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    staff.post("/api/warmup/control", {"action": "trigger"}, format="json", **forwarded)
    staff.post(
        "/api/warmup/control",
        {"action": "trigger"},
        format="json",
        HTTP_X_FORWARDED_FOR="not-an-address",
    )
    addresses = list(AuditEvent.objects.order_by("id").values_list("remote_addr", flat=True))
    assert addresses == ["127.0.0.1", "198.51.100.7", None]


def test_quota_shows_only_the_users_mailboxes_with_pace(people: dict[str, Any]) -> None:
    alice = client_for(people["alice"])
    body = alice.get("/api/warmup/quota?ordering=-remaining").json()
    assert body["count"] == 3
    rows = body["results"]
    assert [r["remaining"] for r in rows] == [30, 25, 0]
    assert {r["email"] for r in rows} == {b.email for b in people["boxes"][:3]}
    assert rows[2]["pace"] == "met" and rows[2]["quota_met"] is True
    behind = alice.get("/api/warmup/quota?status=behind").json()
    assert behind["count"] == 2
    met = alice.get("/api/warmup/quota?status=met").json()
    assert [r["sent"] for r in met["results"]] == [30]
    staff = client_for(people["staff"])
    assert staff.get("/api/warmup/quota").json()["count"] == 4


@pytest.mark.parametrize("field", ["mailbox_id", "email", "remaining", "sent", "streak"])
@pytest.mark.parametrize("sign", ["", "-"])
def test_quota_orderings_break_ties_by_mailbox_id_the_same_way(
    people: dict[str, Any], field: str, sign: str
) -> None:
    rows = client_for(people["staff"]).get(f"/api/warmup/quota?ordering={sign}{field}").json()
    keys = [(r[field], r["mailbox_id"]) for r in rows["results"]]
    assert len(keys) == 4
    assert keys == sorted(keys, reverse=sign == "-")


@pytest.mark.parametrize(
    "query", ["status=sideways", "ordering=password", "ordering=-owner", "page=x", "page_size=0"]
)
def test_quota_refuses_unknown_query_values(people: dict[str, Any], query: str) -> None:
    response = client_for(people["alice"]).get(f"/api/warmup/quota?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid"


def test_a_day_planned_ahead_is_not_history_yet(people: dict[str, Any]) -> None:
    box = people["boxes"][1]
    tomorrow = timezone.now().astimezone(zoneinfo.ZoneInfo(box.timezone)).date() + dt.timedelta(
        days=1
    )
    DailyStat.objects.create(mailbox=box, date=tomorrow, quota=30, reserved=30)
    body = client_for(people["alice"]).get(f"/api/warmup/mailbox?id={box.id}").json()
    assert tomorrow.isoformat() not in {d["date"] for d in body["last_30_days"]["days"]}
    assert len(body["last_30_days"]["days"]) == 2


def test_one_mailboxs_performance_and_isolation(people: dict[str, Any]) -> None:
    alice = client_for(people["alice"])
    box = people["boxes"][1]
    body = alice.get(f"/api/warmup/mailbox?id={box.id}").json()
    assert body["email"] == box.email
    assert (body["today"]["sent"], body["today"]["remaining"]) == (5, 25)
    history = body["last_30_days"]
    assert (history["sent"], history["failed"]) == (33, 2)
    assert history["failure_rate"] == round(2 / 35, 4)
    assert len(history["days"]) == 2
    bobs = people["boxes"][3]
    missing = alice.get(f"/api/warmup/mailbox?id={bobs.id}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert alice.get("/api/warmup/mailbox?id=abc").status_code == 400
    listed = alice.get("/api/warmup/mailbox").json()
    assert [m["id"] for m in listed["results"]] == [b.id for b in people["boxes"][:3]]


def test_a_mailbox_list_costs_the_same_queries_whatever_its_length(
    people: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    alice = client_for(people["alice"])
    for n in range(10, 40):
        mailbox_of(people["alice"], n)
    with django_assert_max_num_queries(12):
        assert alice.get("/api/warmup/mailbox?page_size=100").json()["count"] == 33
    with django_assert_max_num_queries(12):
        assert alice.get("/api/warmup/quota?page_size=100").json()["count"] == 3


def test_metrics_json_is_for_staff_with_permission(people: dict[str, Any]) -> None:
    assert client_for(people["alice"]).get("/api/warmup/metrics").status_code == 403
    body = client_for(people["staff"]).get("/api/warmup/metrics").json()
    assert (body["total_mailboxes"], body["active_mailboxes"]) == (4, 4)
    assert body["sent_today"] == 30 + 5 + 0 + 12
    assert body["quota_completion_rate"] == 0.25


def test_staff_without_permissions_see_what_any_owner_sees(people: dict[str, Any]) -> None:
    """A staff account with no model permission: its own mailboxes only, and 403 from
    engine control and the metrics. With the view permission alone, control is read-only."""
    bare = user("clerk", staff=True)
    own = mailbox_of(bare, 5)
    clerk = client_for(bare)
    assert clerk.get("/api/warmup/control").status_code == 403
    stop = clerk.post("/api/warmup/control", {"action": "stop"}, format="json")
    assert stop.status_code == 403 and stop.json()["error"] == "permission_denied"
    assert EngineState.load().running
    assert clerk.get("/api/warmup/metrics").status_code == 403
    assert clerk.get("/api/warmup/metrics?format=prometheus").status_code == 403
    assert clerk.get("/api/warmup/quota").json()["count"] == 0  # its mailbox has no quota yet
    listed = clerk.get("/api/warmup/mailbox").json()
    assert [m["id"] for m in listed["results"]] == [own.id]
    bobs = people["boxes"][3]
    assert clerk.get(f"/api/warmup/mailbox?id={bobs.id}").status_code == 404

    watcher = client_for(user("watcher", staff=True, perms=["warmup.view_enginestate"]))
    assert watcher.get("/api/warmup/control").status_code == 200
    assert watcher.post("/api/warmup/control", {"action": "stop"}, format="json").status_code == 403
    assert watcher.get("/api/warmup/quota").json()["count"] == 0
    assert EngineState.load().running and not AuditEvent.objects.exists()

    # The mailbox permission opens every owner's quotas and performance, nothing else.
    reader = client_for(user("reader", staff=True, perms=["accounts.view_mailbox"]))
    assert reader.get("/api/warmup/quota").json()["count"] == 4
    assert reader.get(f"/api/warmup/mailbox?id={bobs.id}").json()["email"] == bobs.email
    assert reader.get("/api/warmup/control").status_code == 403


def test_the_schema_and_docs_are_served(people: dict[str, Any]) -> None:
    staff = client_for(people["staff"])
    schema = staff.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/warmup/control", "/api/warmup/quota", "/api/mailboxes/{id}/pause/"):
        assert path in text
    assert "smtp_password" in text  # documented as write-only input
    docs = staff.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    # No internet needed: nothing is loaded from another host. (A bare "cdn" search failed
    # once on a random CSRF token that happened to contain those letters.)
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page)
    assert "https://" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page


def test_quota_shows_each_mailboxs_own_local_today() -> None:
    # Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart: never the same date.
    import zoneinfo

    owner = user("alice")
    now = timezone.now()
    expected = {}
    for n, tz in enumerate(("Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC")):
        box = mailbox_of(owner, n)
        box.timezone = tz
        box.save()
        local_today = now.astimezone(zoneinfo.ZoneInfo(tz)).date()
        for offset in (-2, -1, 0, 1, 2):
            day = now.date() + dt.timedelta(days=offset)
            sent = 10 + offset  # tells the rows apart
            if day <= local_today:  # no row exists for a date a mailbox has not reached
                DailyStat.objects.create(mailbox=box, date=day, quota=30, sent=sent)
            if day == local_today:
                expected[box.email] = (day.isoformat(), sent)
    rows = client_for(owner).get("/api/warmup/quota").json()["results"]
    assert {r["email"]: (r["date"], r["sent"]) for r in rows} == expected


@pytest.mark.parametrize(
    ("now", "local_todays"),
    [
        # Kiritimati (UTC+14) turns to 2 June at 10:00 UTC, when Pago Pago (UTC-11) is at
        # 23:00 on 31 May.
        (dt.datetime(2026, 6, 1, 9, 59, 59, tzinfo=dt.UTC), ("2026-06-01", "2026-05-31")),
        (dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC), ("2026-06-02", "2026-05-31")),
    ],
    ids=["before Kiritimati's midnight", "at it"],
)
def test_a_mailboxs_performance_is_of_its_own_local_today(
    now: dt.datetime, local_todays: tuple[str, str]
) -> None:
    from warmup.api import histories, performance

    owner = user("alice")
    boxes = []
    for n, tz in enumerate(("Pacific/Kiritimati", "Pacific/Pago_Pago")):
        box = mailbox_of(owner, n)
        box.timezone = tz
        box.save()
        boxes.append(box)
        for day in range(28, 35):  # 28 May to 3 June, each its own `sent`
            date = dt.date(2026, 5, 1) + dt.timedelta(days=day - 1)
            DailyStat.objects.create(
                mailbox=box, date=date, quota=30, sent=day, streak=n, quota_met=day == 32
            )
    history = histories(boxes, now)
    for box, local_today in zip(boxes, local_todays, strict=True):
        got = performance(box, now, history[box.id])
        assert got.today is not None
        assert (got.today.stat.date.isoformat(), got.today.stat.sent) == (
            local_today,
            int(local_today[-2:]) + (31 if local_today.startswith("2026-06") else 0),
        )
        assert got.today.stat.mailbox is box and got.today.stat.streak == boxes.index(box)
        assert got.days[-1]["date"].isoformat() == local_today  # later days: not yet
    # A mailbox whose local today has no row yet has no Today, and its days end before.
    DailyStat.objects.filter(mailbox=boxes[0], date__gte=dt.date(2026, 6, 1)).delete()
    early = performance(boxes[0], now, histories(boxes, now)[boxes[0].id])
    assert early.today is None and early.days[-1]["date"] == dt.date(2026, 5, 31)


@pytest.mark.parametrize(
    "zones",
    # Three dates: UTC+14 and UTC-11 are always on two, and the three UTC+0 zones are
    # most of them, so staff's count takes the other zones' mailboxes away.
    [
        ("Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC", "Europe/London", "Africa/Abidjan"),
        ("UTC",),
    ],
    ids=["three dates", "one date"],
)
@pytest.mark.parametrize("status", ["all", "met", "behind"])
def test_quota_pages_are_the_same_for_staff_and_owner_across_dates(
    status: str, zones: tuple[str, ...]
) -> None:
    """Staff's pages merge one index walk per local date and quota_met value (or read
    the one walk there is; by email, walk the mailboxes and probe each one's local
    date); an owner's sort their rows whole. Both must give each mailbox's own local
    today, in each ordering, page after page, as sorting those rows here does."""
    import random
    import zoneinfo

    owner = user("alice")
    staff = user("root", staff=True, perms=OPERATOR)
    now = timezone.now()
    rng = random.Random(7)
    today = []
    local_todays = {}
    for n in range(14):
        box = mailbox_of(owner, n)
        box.timezone = zones[n % len(zones)]
        box.save()
        local_today = now.astimezone(zoneinfo.ZoneInfo(box.timezone)).date()
        local_todays[box.id] = local_today.isoformat()
        for age in range(3):
            sent = rng.choice((0, 5, 30, 30))
            stat = DailyStat.objects.create(
                mailbox=box,
                date=local_today - dt.timedelta(days=age),
                quota=30 if n != 5 else 0,  # no quota: not listed
                sent=sent,
                quota_met=sent >= 30,
                streak=rng.randint(0, 3),
            )
            if age == 0 and stat.quota > 0:
                today.append(stat)
    wanted = [s for s in today if status == "all" or s.quota_met == (status == "met")]
    keys = {
        "mailbox_id": lambda s: s.mailbox_id,
        "email": lambda s: s.mailbox.email,
        "remaining": lambda s: max(s.quota - s.sent, 0),
        "sent": lambda s: s.sent,
        "streak": lambda s: s.streak,
    }
    for name, key in keys.items():
        for sign in ("", "-"):
            expected = [
                s.mailbox_id
                for s in sorted(wanted, key=lambda s: (key(s), s.mailbox_id), reverse=sign == "-")
            ]
            for reader in (staff, owner):
                client, seen = client_for(reader), []
                for page in (1, 2, 3):
                    url = f"/api/warmup/quota?status={status}&ordering={sign}{name}"
                    response = client.get(f"{url}&page_size=5&page={page}")
                    if response.status_code == 404:  # past the last page
                        break
                    body = response.json()
                    assert body["count"] == len(expected)
                    assert all(r["date"] == local_todays[r["mailbox_id"]] for r in body["results"])
                    seen += [r["mailbox_id"] for r in body["results"]]
                assert seen == expected, (reader.username, name, sign)
                # The last page, read from the end for staff, holds what paging found.
                last = client.get(f"{url}&page_size=5&page=last").json()["results"]
                assert [r["mailbox_id"] for r in last] == expected[-(len(expected) % 5 or 5) :]
                assert all(r["date"] == local_todays[r["mailbox_id"]] for r in last)


@pytest.mark.parametrize("ordering", ["email", "-email", "mailbox_id", "sent"])
def test_a_time_zone_new_since_the_zones_were_read_is_listed_on_the_one_date(
    ordering: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every zone in use on one date: staff's list filters by that date alone, so a
    mailbox in a zone the request did not see (new meanwhile) is counted and listed in
    every ordering, by email too."""
    from warmup import api

    owner = user("alice")
    staff = user("root", staff=True, perms=OPERATOR)
    today = timezone.now().date()
    for n, zone in enumerate(("UTC", "Etc/UTC")):  # always on the same date
        box = mailbox_of(owner, n)
        box.timezone = zone
        box.save()
        DailyStat.objects.create(mailbox=box, date=today, quota=30, sent=n)
    monkeypatch.setattr(api, "timezones_in_use", lambda: ["UTC"])
    body = client_for(staff).get(f"/api/warmup/quota?ordering={ordering}").json()
    assert body["count"] == 2 and len(body["results"]) == 2, body


def test_a_long_quota_list_counts_by_the_planners_estimate(
    people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from warmup_project import api as shared

    assert shared.estimated_count(DailyStat.objects.filter(quota__gt=0)) >= 1  # a plan, read
    monkeypatch.setattr(shared, "EXACT_COUNT_UP_TO", 10)
    monkeypatch.setattr(shared, "estimated_count", lambda rows: 12_345)
    body = client_for(people["staff"]).get("/api/warmup/quota").json()
    assert body["count"] == 12_345 and len(body["results"]) == 4
    # Under the limit, counted.
    monkeypatch.setattr(shared, "estimated_count", lambda rows: 10)
    assert client_for(people["staff"]).get("/api/warmup/quota").json()["count"] == 4
    # An owner's list is counted row by row whatever its length.
    assert client_for(people["alice"]).get("/api/warmup/quota").json()["count"] == 3


def test_the_last_page_by_an_estimate_holds_the_lists_last_rows(
    people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above EXACT_COUNT_UP_TO the last page is the last by the estimate; read from the
    end, it holds the last rows there are (as many as that page holds by the count),
    however far the estimate is from the rows, and links to no page before it (the one
    numbered so holds other rows)."""
    from warmup_project import api as shared

    monkeypatch.setattr(shared, "EXACT_COUNT_UP_TO", 0)
    staff = client_for(people["staff"])
    ids = sorted(b.id for b in people["boxes"])
    for estimate, held in ((7, 1), (5, 2), (402, 3)):
        monkeypatch.setattr(shared, "estimated_count", lambda rows, n=estimate: n)
        body = staff.get("/api/warmup/quota?page_size=3&page=last&ordering=-mailbox_id").json()
        assert body["count"] == estimate and body["next"] is None and body["previous"] is None
        assert [r["mailbox_id"] for r in body["results"]] == ids[::-1][-held:], estimate


def test_an_estimate_below_the_rows_hides_none_of_them(
    people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from warmup_project import api as shared

    monkeypatch.setattr(shared, "EXACT_COUNT_UP_TO", 0)
    monkeypatch.setattr(shared, "estimated_count", lambda rows: 1)
    staff = client_for(people["staff"])
    first = staff.get("/api/warmup/quota?page_size=3").json()
    assert first["count"] == 1
    assert len(first["results"]) == 3 and first["next"] is not None
    second = staff.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert staff.get("/api/warmup/quota?page_size=3&page=3").status_code == 404
    seen = {r["mailbox_id"] for r in first["results"] + second["results"]}
    assert seen == {b.id for b in people["boxes"]}
