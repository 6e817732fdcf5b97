"""The operators' admin: secrets never rendered, actions logged, read-only tables stay
read-only, and changelists cost the same number of queries whatever their length."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, Mailbox, OwnerPlan
from metrics.models import MetricSnapshot
from tests.test_api_mailboxes import ENDPOINT_CHANGES
from warmup.admin import CappedCountPaginator
from warmup.models import DailyStat, EngineState, RateWindow, SendLog, Worker

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
_usernames = itertools.count(1)


def secrets_of(box: Mailbox) -> list[str]:
    """Everything that must never be rendered: both plaintexts and both stored tokens."""
    box.refresh_from_db()
    found = [box.smtp_password, box.imap_password, box.smtp_secret, box.imap_secret]
    assert all(found), "the mailbox under test must have both passwords stored"
    return found


def assert_no_secret(html: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in html


def mailbox_form(owner: Any, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "owner": owner.pk,
        "email": "new.box@example.test",
        "display_name": "",
        "provider": "other",
        "auth_method": "password",
        "smtp_host": "smtp.example.test",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "smtp_username": "new.box",
        "smtp_password": "",
        "imap_host": "imap.example.test",
        "imap_port": 993,
        "imap_security": "ssl",
        "imap_username": "new.box",
        "imap_password": "",
        "warmup_enabled": "on",
        "status": "active",
        "status_reason": "",
        "start_volume": 10,
        "daily_increase": 5,
        "daily_max": 50,
        "reply_rate": 0.35,
        "file_sent_copies": "on",
        "delete_old_warmup_mail": "on",
        "warmup_started_on": "",
        "timezone": "UTC",
        "window_start_hour": 8,
        "window_end_hour": 18,
        "window_weekdays": 127,
    }
    data.update(overrides)
    return data


def form_of(box: Mailbox, **overrides: Any) -> dict[str, Any]:
    """The change form as a browser would post it back untouched (passwords blank)."""
    return mailbox_form(
        box.owner,
        email=box.email,
        smtp_username=box.smtp_username,
        imap_username=box.imap_username,
        **overrides,
    )


def mailbox_url(name: str, *args: Any) -> str:
    return reverse(f"admin:accounts_mailbox_{name}", args=args)


def make_send_logs(sender: Mailbox, recipient: Mailbox, count: int, first_slot: int = 0) -> None:
    SendLog.objects.bulk_create(
        SendLog(
            sender=sender,
            recipient=recipient,
            day=TODAY,
            slot_no=first_slot + n,
            status="sent",
            scheduled_at=NOW,
            timestamp=NOW,
        )
        for n in range(count)
    )


def run_action(client: Client, action: str, boxes: list[Mailbox]) -> Any:
    return client.post(
        mailbox_url("changelist"),
        {"action": action, "_selected_action": [box.pk for box in boxes], "index": 0},
        follow=True,
    )


@pytest.fixture
def populated(make_mailbox: Any, owner: Any, admin_user: Any) -> Mailbox:
    """One row in every table the admin shows; returns the mailbox whose secrets are checked."""
    box = make_mailbox(smtp_password="smtp-plain-Xq9", imap_password="imap-plain-Zr7")
    other = make_mailbox()
    make_send_logs(box, other, 3)
    DailyStat.objects.create(mailbox=box, date=TODAY, quota=30, sent=3)
    AuditEvent.objects.create(created_at=NOW, actor=admin_user, actor_name="admin", action="stop")
    EngineState.load()
    Worker.objects.create(name="host:1:abc", host="host", pid=1, started_at=NOW, heartbeat_at=NOW)
    RateWindow.objects.create(key="global:hour", window_start=NOW, used=7)
    MetricSnapshot.objects.create(taken_at=NOW)
    OwnerPlan.for_owner(owner)
    return box


# Pages for staff


def test_our_models_are_registered() -> None:
    for model in (
        Mailbox,
        OwnerPlan,
        SendLog,
        DailyStat,
        AuditEvent,
        EngineState,
        Worker,
        RateWindow,
        LogEntry,
        MetricSnapshot,
    ):
        assert admin.site.is_registered(model), model


def test_every_changelist_renders_without_secrets(admin_client: Client, populated: Mailbox) -> None:
    secrets = secrets_of(populated)
    # A change made through the admin, so LogEntry's changelist has a row about it.
    response = admin_client.post(
        mailbox_url("change", populated.pk), form_of(populated, display_name="Renamed")
    )
    assert response.status_code == 302
    assert secrets_of(populated) == secrets

    checked = 0
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_no_secret(response.content.decode(), secrets)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("page", ["add", "change", "history", "delete"])
def test_mailbox_pages_render_without_secrets(
    admin_client: Client, populated: Mailbox, page: str
) -> None:
    # Set new passwords through the form first: the history then holds that change.
    response = admin_client.post(
        mailbox_url("change", populated.pk),
        form_of(populated, smtp_password="smtp-new-Kd2", imap_password="imap-new-Lp4"),
    )
    assert response.status_code == 302
    secrets = secrets_of(populated)
    assert secrets[:2] == ["smtp-new-Kd2", "imap-new-Lp4"]

    url = mailbox_url("add") if page == "add" else mailbox_url(page, populated.pk)
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert_no_secret(html, secrets)
    if page == "change":
        assert "stored: yes" in html
        assert 'type="password"' in html
    if page == "history":
        assert "Changed SMTP password and IMAP password." in html


def test_log_entry_page_holds_field_names_only(admin_client: Client, populated: Mailbox) -> None:
    admin_client.post(
        mailbox_url("change", populated.pk),
        form_of(populated, smtp_password="smtp-new-Kd2"),
    )
    entry = LogEntry.objects.get(object_id=str(populated.pk), action_flag=CHANGE)
    assert entry.get_change_message() == "Changed SMTP password."
    response = admin_client.get(reverse("admin:admin_logentry_change", args=[entry.pk]))
    assert response.status_code == 200
    assert_no_secret(response.content.decode(), secrets_of(populated))


def test_view_only_staff_never_sees_the_decrypted_password(
    client: Client, django_user_model: Any, make_mailbox: Any
) -> None:
    # For a view-only user Django renders every field read-only; a read-only
    # "smtp_password" would go through the model property and print the plaintext.
    box = make_mailbox()
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_mailbox"))
    client.force_login(viewer)

    response = client.get(mailbox_url("change", box.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_secret(html, secrets_of(box))
    assert "stored: yes" in html
    assert 'type="password"' not in html


# Passwords through the form


def test_add_form_stores_encrypted_passwords(admin_client: Client, owner: Any) -> None:
    response = admin_client.post(
        mailbox_url("add"),
        mailbox_form(owner, smtp_password=" smtp typed ", imap_password="imap-typed"),
    )

    assert response.status_code == 302
    box = Mailbox.objects.get(email="new.box@example.test")
    assert box.smtp_secret and box.imap_secret
    assert "smtp typed" not in box.smtp_secret
    assert box.smtp_password == " smtp typed "  # not stripped: spaces may be part of it
    assert box.imap_password == "imap-typed"
    entry = LogEntry.objects.get(object_id=str(box.pk))
    assert "typed" not in entry.change_message


def test_add_form_requires_both_passwords_and_never_echoes_them(
    admin_client: Client, owner: Any
) -> None:
    response = admin_client.post(
        mailbox_url("add"), mailbox_form(owner, smtp_password="smtp-typed-Qw1")
    )

    assert response.status_code == 200  # the form again, with its errors
    assert response.context["adminform"].form.errors["imap_password"]
    assert "smtp-typed-Qw1" not in response.content.decode()
    assert not Mailbox.objects.filter(email="new.box@example.test").exists()


def test_edit_with_blank_passwords_keeps_the_stored_ones(
    admin_client: Client, make_mailbox: Any
) -> None:
    box = make_mailbox(smtp_password="keep-smtp", imap_password="keep-imap")
    tokens = (box.smtp_secret, box.imap_secret)

    response = admin_client.post(mailbox_url("change", box.pk), form_of(box, daily_max=60))

    assert response.status_code == 302
    box.refresh_from_db()
    assert box.daily_max == 60
    assert (box.smtp_secret, box.imap_secret) == tokens
    assert (box.smtp_password, box.imap_password) == ("keep-smtp", "keep-imap")


def test_edit_with_one_new_password_replaces_only_that_one(
    admin_client: Client, make_mailbox: Any
) -> None:
    box = make_mailbox(smtp_password="old-smtp", imap_password="keep-imap")
    imap_token = box.imap_secret

    admin_client.post(mailbox_url("change", box.pk), form_of(box, smtp_password="new-smtp"))

    box.refresh_from_db()
    assert box.smtp_password == "new-smtp"
    assert box.imap_secret == imap_token


def test_status_changed_in_the_form_records_when_and_why(
    admin_client: Client, make_mailbox: Any
) -> None:
    box = make_mailbox()

    admin_client.post(mailbox_url("change", box.pk), form_of(box, status="disabled"))

    box.refresh_from_db()
    assert box.status == "disabled"
    assert box.status_changed_at is not None
    assert box.status_reason == "set to disabled by admin in admin"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("smtp_host", "a..b"),
        ("imap_host", "x" * 64 + ".test"),
        ("smtp_host", "smtp.example.test\r\nRSET"),
        ("smtp_port", 0),
        ("imap_port", 65536),
        ("display_name", "Ann\r\nBcc: x@y"),
        ("smtp_username", "new.box\r\nRSET"),
        ("imap_username", "new.box\r\na1 LOGOUT"),
        ("smtp_password", "smtp-typed-Qw1\r\nRSET"),
        ("imap_password", "imap-typed-Qw1\na1 LOGOUT"),
    ],
)
def test_add_form_refuses_hostile_values_with_a_message_on_the_field(
    admin_client: Client, owner: Any, field: str, value: Any
) -> None:
    data = mailbox_form(owner, smtp_password="smtp-typed-Qw1", imap_password="imap-typed-Qw1")
    data[field] = value
    response = admin_client.post(mailbox_url("add"), data)

    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field], errors
    assert "Constraint" not in errors[field][0]
    assert "typed-Qw1" not in response.content.decode()
    assert not Mailbox.objects.filter(email="new.box@example.test").exists()


@pytest.mark.parametrize(("change", "password"), ENDPOINT_CHANGES)
def test_moving_to_another_server_needs_its_password_again(
    admin_client: Client, make_mailbox: Any, change: dict[str, Any], password: str
) -> None:
    box = make_mailbox(smtp_password="old-smtp-Xq9", imap_password="old-imap-Zr7")
    ((field, value),) = change.items()
    before = (getattr(box, field), box.smtp_secret, box.imap_secret)

    refused = admin_client.post(mailbox_url("change", box.pk), {**form_of(box), **change})

    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert list(errors) == [password], errors
    assert "again" in errors[password][0]
    assert_no_secret(refused.content.decode(), ["old-smtp-Xq9", "old-imap-Zr7", *before[1:]])
    box.refresh_from_db()
    assert (getattr(box, field), box.smtp_secret, box.imap_secret) == before

    accepted = admin_client.post(
        mailbox_url("change", box.pk), {**form_of(box), **change, password: "typed-new"}
    )

    assert accepted.status_code == 302
    box.refresh_from_db()
    assert getattr(box, field) == value
    assert getattr(box, password) == "typed-new"


# Actions


def test_pause_changes_status_and_logs_each_changed_mailbox(
    admin_client: Client, make_mailbox: Any
) -> None:
    active = [make_mailbox(), make_mailbox()]
    already = make_mailbox(status="paused", status_reason="circuit breaker")

    response = run_action(admin_client, "pause", [*active, already])

    assert response.status_code == 200
    assert "Paused 2 mailboxes." in response.content.decode()
    for box in active:
        box.refresh_from_db()
        assert box.status == "paused"
        assert box.status_reason == "paused by admin in admin"
        assert box.status_changed_at is not None
    already.refresh_from_db()
    assert already.status_reason == "circuit breaker"  # untouched: it was paused already
    entries = LogEntry.objects.filter(action_flag=CHANGE)
    assert sorted(entries.values_list("object_id", flat=True)) == sorted(
        str(box.pk) for box in active
    )
    assert {e.change_message for e in entries} == {
        "Status set to paused: paused by admin in admin."
    }
    assert {e.content_type for e in entries} == {ContentType.objects.get_for_model(Mailbox)}


def test_resume_sets_active(admin_client: Client, make_mailbox: Any) -> None:
    paused = make_mailbox(status="paused")
    errored = make_mailbox(status="error")

    response = run_action(admin_client, "resume", [paused, errored])

    assert "Resumed 2 mailboxes." in response.content.decode()
    assert set(Mailbox.objects.values_list("status", flat=True)) == {"active"}
    assert LogEntry.objects.filter(action_flag=CHANGE).count() == 2


def test_disable_and_enable_warmup(admin_client: Client, make_mailbox: Any) -> None:
    box = make_mailbox()
    before = Mailbox.objects.get(pk=box.pk).updated_at

    response = run_action(admin_client, "disable_warmup", [box])
    assert "Warmup disabled for 1 mailbox." in response.content.decode()
    box.refresh_from_db()
    assert box.warmup_enabled is False
    assert box.updated_at > before

    run_action(admin_client, "enable_warmup", [box])
    box.refresh_from_db()
    assert box.warmup_enabled is True
    assert list(LogEntry.objects.order_by("pk").values_list("change_message", flat=True)) == [
        "Warmup disabled (admin action).",
        "Warmup enabled (admin action).",
    ]


def test_enable_warmup_skips_mailboxes_capped_below_the_floor(
    admin_client: Client, make_mailbox: Any, settings: Any
) -> None:
    low = make_mailbox(warmup_enabled=False, daily_max=settings.WARMUP.min_daily_quota - 1)
    ok = make_mailbox(warmup_enabled=False)

    response = run_action(admin_client, "enable_warmup", [low, ok])

    html = response.content.decode()
    assert "Warmup enabled for 1 mailbox." in html
    assert "1 mailbox left disabled" in html
    low.refresh_from_db()
    ok.refresh_from_db()
    assert (low.warmup_enabled, ok.warmup_enabled) == (False, True)
    assert list(LogEntry.objects.values_list("object_id", flat=True)) == [str(ok.pk)]


def test_delete_cascades_through_read_only_history(admin_client: Client, make_mailbox: Any) -> None:
    # SendLog/DailyStat admins refuse deletes; that must not block deleting their mailbox.
    box, other = make_mailbox(), make_mailbox()
    make_send_logs(box, other, 2)
    DailyStat.objects.create(mailbox=box, date=TODAY)

    response = admin_client.post(mailbox_url("delete", box.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Mailbox.objects.filter(pk=box.pk).exists()
    assert not SendLog.objects.filter(sender_id=box.pk).exists()
    assert not DailyStat.objects.exists()


# Who may enter


ADMIN_URLS = [
    "admin:index",
    "admin:accounts_mailbox_changelist",
    "admin:accounts_mailbox_add",
    "admin:warmup_sendlog_changelist",
    "admin:warmup_enginestate_changelist",
    "admin:admin_logentry_changelist",
]


@pytest.mark.parametrize("url_name", ADMIN_URLS)
def test_non_staff_user_is_sent_to_login(
    client: Client, django_user_model: Any, url_name: str
) -> None:
    user = django_user_model.objects.create_user("plain", password="x", is_staff=False)
    client.force_login(user)

    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url_name", ADMIN_URLS)
def test_anonymous_is_sent_to_login(client: Client, url_name: str) -> None:
    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_non_staff_cannot_run_actions(
    client: Client, django_user_model: Any, make_mailbox: Any
) -> None:
    box = make_mailbox()
    client.force_login(django_user_model.objects.create_user("plain", password="x"))

    response = client.post(
        mailbox_url("changelist"), {"action": "pause", "_selected_action": [box.pk]}
    )

    assert response.status_code == 302
    box.refresh_from_db()
    assert box.status == "active"
    assert not LogEntry.objects.exists()


def test_non_staff_cannot_read_mailbox_pages(
    client: Client, django_user_model: Any, make_mailbox: Any
) -> None:
    box = make_mailbox()
    client.force_login(django_user_model.objects.create_user("plain", password="x"))

    response = client.get(mailbox_url("change", box.pk))

    assert response.status_code == 302
    assert_no_secret(response.content.decode(), secrets_of(box))


# Read-only tables


def test_send_log_is_view_only(admin_client: Client, make_mailbox: Any) -> None:
    box, other = make_mailbox(), make_mailbox()
    make_send_logs(box, other, 1)
    log = SendLog.objects.get()

    assert admin_client.get(reverse("admin:warmup_sendlog_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:warmup_sendlog_delete", args=[log.pk])).status_code == 403
    )
    view = admin_client.get(reverse("admin:warmup_sendlog_change", args=[log.pk]))
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    changed = admin_client.post(
        reverse("admin:warmup_sendlog_change", args=[log.pk]), {"status": "failed"}
    )
    assert changed.status_code == 403
    log.refresh_from_db()
    assert log.status == "sent"


@pytest.mark.parametrize(
    "model", [SendLog, DailyStat, AuditEvent, Worker, RateWindow, LogEntry, MetricSnapshot]
)
def test_read_only_admins_refuse_add_change_delete(rf: Any, admin_user: Any, model: Any) -> None:
    request = rf.get("/")
    request.user = admin_user
    model_admin = admin.site.get_model_admin(model)

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)


def test_engine_state_edits_running_and_reason_only(admin_client: Client, admin_user: Any) -> None:
    # The changelist creates the singleton, so there is always a switch to flip.
    assert admin_client.get(reverse("admin:warmup_enginestate_changelist")).status_code == 200
    state = EngineState.objects.get()
    url = reverse("admin:warmup_enginestate_change", args=[state.pk])

    response = admin_client.post(
        # "running" left out: an unticked checkbox is not posted at all.
        url,
        {"reason": "provider incident", "last_cycle_at": "2000-01-01"},
    )

    assert response.status_code == 302
    state.refresh_from_db()
    assert state.running is False
    assert state.reason == "provider incident"
    assert state.changed_by == admin_user
    assert state.changed_at is not None
    assert state.last_cycle_at is None  # read-only: the posted value is ignored
    assert admin_client.get(reverse("admin:warmup_enginestate_add")).status_code == 403
    delete_url = reverse("admin:warmup_enginestate_delete", args=[state.pk])
    assert admin_client.get(delete_url).status_code == 403


# Owner plans


def test_owner_plan_limits_are_validated(admin_client: Client, owner: Any) -> None:
    response = admin_client.post(
        reverse("admin:accounts_ownerplan_add"),
        {"owner": owner.pk, "name": "tiny", "max_mailboxes": -1, "max_daily_quota": 10},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not OwnerPlan.objects.exists()


def test_user_page_edits_the_owner_plan_inline(admin_client: Client, owner: Any) -> None:
    response = admin_client.get(reverse("admin:auth_user_change", args=[owner.pk]))

    assert response.status_code == 200
    assert 'name="plan-TOTAL_FORMS"' in response.content.decode()


# Query counts


def changelist_queries(client: Client, url: str, rows: int) -> int:
    client.get(url)  # warm per-process caches (content types, site) out of the count
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == rows
    return len(ctx.captured_queries)


def add_send_logs(make_mailbox: Any, count: int) -> None:
    for _ in range(count):
        make_send_logs(make_mailbox(), make_mailbox(), 1)


def add_daily_stats(make_mailbox: Any, count: int) -> None:
    for _ in range(count):
        DailyStat.objects.create(mailbox=make_mailbox(), date=TODAY)


def add_log_entries(make_mailbox: Any, count: int) -> None:
    # A different user per row: a missing select_related would cost one query each.
    for _ in range(count):
        user = get_user_model().objects.create_user(f"operator{next(_usernames)}")
        LogEntry.objects.log_actions(user.pk, [make_mailbox()], CHANGE, "test")


def add_mailboxes(make_mailbox: Any, count: int) -> None:
    for _ in range(count):
        make_mailbox()


@pytest.mark.parametrize(
    ("url_name", "add_rows"),
    [
        ("admin:warmup_sendlog_changelist", add_send_logs),
        ("admin:warmup_dailystat_changelist", add_daily_stats),
        ("admin:admin_logentry_changelist", add_log_entries),
        ("admin:accounts_mailbox_changelist", add_mailboxes),
    ],
)
def test_changelist_query_count_does_not_grow_with_rows(
    admin_client: Client, make_mailbox: Any, url_name: str, add_rows: Any
) -> None:
    url = reverse(url_name)
    model = admin_client.get(url).context["cl"].model

    add_rows(make_mailbox, 5)
    queries_for_5 = changelist_queries(admin_client, url, model.objects.count())
    add_rows(make_mailbox, 45)
    queries_for_50 = changelist_queries(admin_client, url, model.objects.count())

    assert model.objects.count() >= 50
    assert queries_for_50 == queries_for_5


def test_capped_count_says_so(admin_client: Client, make_mailbox: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    add_daily_stats(make_mailbox, 5)

    response = admin_client.get(reverse("admin:warmup_dailystat_changelist"))

    assert response.context["cl"].result_count == 3
    assert "3+ daily stats" in response.content.decode()
    paginator = CappedCountPaginator(DailyStat.objects.order_by("pk"), 2)
    assert (paginator.count, paginator.is_capped, paginator.num_pages) == (3, True, 2)
    two = DailyStat.objects.order_by("pk").filter(pk__in=DailyStat.objects.values("pk")[:2])
    exact = CappedCountPaginator(two, 2)
    assert (exact.count, exact.is_capped) == (2, False)
