"""The operator's own domains, connected with no click per mailbox, end to end on loopback:
a Google service account with domain-wide delegation (JWT bearer grant; the test server's
stand-in for Google's, tests/oauth_server/grants.py) and a Microsoft 365 application with
app-only access (client credentials, the mailbox granted to its service principal). The
mailboxes are added through the API with their address alone, send over XOAUTH2 through
the introspecting SMTP server and are engaged in Dovecot; a mailbox the application was
not granted is refused by the SMTP server and pauses alone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import crypto, oauth
from accounts import status as mailbox_status
from accounts.models import Mailbox, MailboxToken, OAuthCredential
from tests import dovecot
from tests.clock import morning_of
from tests.oauth import AuthorizationServer, database_text
from tests.oauth_smtp import OAuthSMTPServer
from tests.test_engine_smtp import engine_for
from warmup.engine.engage import engage_pass
from warmup.engine.planner import plan_cycle
from warmup.models import SendLog

pytestmark = pytest.mark.skipif(
    not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"
)

CEO = "ceo@delegated-e2e.test"
SHARED = "shared@m365-e2e.test"
PRIVATE = "private@m365-e2e.test"  # in the tenant, not granted to the application


@pytest.fixture(scope="module")
def grants(authorization_server: AuthorizationServer) -> dict[str, Any]:
    """At the provider: the users, the service account, the application granted SHARED."""
    server = authorization_server
    for user in (CEO, SHARED, PRIVATE):
        server.add_user(user, "the-users-own-password-1")
    key = server.add_service_account("warmup e2e delegation", ["delegated-e2e.test"])
    app = server.add_client("m365 e2e app-only", grant="client-credentials")
    server.grant_mailbox(app, SHARED)
    return {"key": key, "app": app}


@pytest.fixture
def stack(
    authorization_server: AuthorizationServer, grants: dict[str, Any], settings: Any
) -> Iterator[dict[str, Any]]:
    server = authorization_server
    key, app = grants["key"], grants["app"]
    with (
        OAuthSMTPServer(server.introspection) as smtp,
        dovecot.Dovecot({}, introspection=server.introspection) as imap,
    ):
        preset = (("127.0.0.1", smtp.port, "none"), ("127.0.0.1", imap.imap_port, "none"))
        settings.WARMUP = dataclasses.replace(
            settings.WARMUP,
            allow_private_hosts=True,
            oauth=dataclasses.replace(
                settings.WARMUP.oauth,
                google_discovery_url=server.discovery_url,
                microsoft_discovery_url=server.discovery_url,
                presets={"google": preset_of(*preset), "microsoft": preset_of(*preset)},
            ),
        )
        oauth.documents.clear()
        delegation = OAuthCredential(
            name="delegation", kind="google_delegated", domains="delegated-e2e.test"
        )
        delegation.secret_value = json.dumps(dict(key))
        delegation.save()
        tenant = OAuthCredential(
            name="tenant",
            kind="microsoft_app",
            client_id=app.client_id,
            tenant="contoso-e2e",
            domains="m365-e2e.test",
        )
        tenant.secret_value = app.secret
        tenant.save()
        yield {"smtp": smtp, "imap": imap, "key": key, "app": app}
    oauth.documents.clear()


def preset_of(smtp: tuple[str, int, str], imap: tuple[str, int, str]) -> Any:
    from warmup_project.config import MailPreset

    return MailPreset(smtp, imap)


def test_delegated_and_app_only_mailboxes_send_and_are_engaged_with_no_password(
    transactional_db: Any, owner: Any, stack: dict[str, Any]
) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    made = {}
    for address, method in (
        (CEO, "google_delegated"),
        (SHARED, "microsoft_app"),
        (PRIVATE, "microsoft_app"),
    ):
        answer = api.post(
            "/api/mailboxes/",
            {
                "email": address,
                "auth_method": method,
                "window_start_hour": 0,
                "window_end_hour": 24,
                "start_volume": 4,
            },
            format="json",
        )
        assert answer.status_code == 201, answer.json()
        made[address] = Mailbox.objects.get(pk=answer.json()["id"])
        assert (made[address].smtp_secret, made[address].smtp_host) == ("", "127.0.0.1")

    # The connection test logs in with each mailbox's token, SMTP and IMAP.
    for address in (CEO, SHARED):
        tried = api.post(f"/api/mailboxes/{made[address].pk}/test/").json()
        assert tried["smtp"]["ok"] and tried["imap"]["ok"], (address, tried)
    tried = api.post(f"/api/mailboxes/{made[PRIVATE].pk}/test/").json()
    assert not tried["smtp"]["ok"] and tried["smtp"]["reply"].startswith("535")
    stack["smtp"].token_logins.clear()

    now = timezone.now()
    plan_cycle(morning_of(now), floor=4, margin=dt.timedelta(minutes=15))
    SendLog.objects.update(scheduled_at=now - dt.timedelta(minutes=1))
    stats = engine_for(now).run_cycle(plan=False)

    smtp, imap = stack["smtp"], stack["imap"]
    assert stats.outcomes["sent"] == 8, stats.line()
    assert sorted({m.login for m in smtp.received}) == [CEO, SHARED]
    assert all(t.mechanism == "XOAUTH2" for t in smtp.token_logins)
    # The application was never granted PRIVATE: refused, a fresh token, refused again,
    # and that mailbox alone pauses with the server's answer.
    refused = [t for t in smtp.token_logins if t.user == PRIVATE]
    assert len(refused) == 2 and not any(t.accepted for t in refused)
    for box in made.values():
        box.refresh_from_db()
    assert made[PRIVATE].status == mailbox_status.PAUSED
    assert made[PRIVATE].status_reason.startswith("SMTP login refused")
    assert made[CEO].status == made[SHARED].status == mailbox_status.ACTIVE
    # The delegated token is the mailbox's, the app-only one the application's.
    assert MailboxToken.objects.get(pk=made[CEO].pk).access_secret
    assert OAuthCredential.objects.get(name="tenant").access_secret

    # The service account's key, the application's secret and every token got are in
    # the database encrypted only.
    dump = database_text()
    secrets = [
        stack["key"]["private_key"].split("-----")[2].strip()[:64],  # the key's body
        stack["app"].secret,
        crypto.decrypt(MailboxToken.objects.get(pk=made[CEO].pk).access_secret, what="t"),
        crypto.decrypt(OAuthCredential.objects.get(name="tenant").access_secret, what="t"),
    ]
    assert all(secrets) and not [s for s in secrets if s in dump] and CEO in dump

    for got in smtp.received:
        imap.deliver(got.rcpt_tos[0], got.data)
    for address in (CEO, SHARED):
        engaged = engage_pass(
            timezone.now(),
            settings.SECRET_KEY,
            concurrency=1,
            every=dt.timedelta(minutes=15),
            allow_private=True,
            mailbox_id=made[address].pk,
        )
        (result,) = engaged.results
        assert result.error == "" and result.inbox >= 1, (address, result)


def test_a_mailbox_outside_every_credentials_domains_is_refused_by_the_api(
    transactional_db: Any, owner: Any, stack: dict[str, Any]
) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    answer = api.post(
        "/api/mailboxes/",
        {"email": "someone@not-delegated.test", "auth_method": "google_delegated"},
        format="json",
    )
    assert answer.status_code == 400
    assert "no enabled google_delegated credentials serve not-delegated.test" in str(answer.json())
    elsewhere = api.post(
        "/api/mailboxes/",
        {
            "email": "x@delegated-e2e.test",
            "auth_method": "google_delegated",
            "smtp_host": "smtp.attacker.test",
        },
        format="json",
    )
    assert elsewhere.status_code == 400 and "stolen token" in str(elsewhere.json())
    consent = api.post(
        "/api/mailboxes/",
        {"email": "y@delegated-e2e.test", "auth_method": "oauth2"},
        format="json",
    )
    assert consent.status_code == 400 and "connect" in str(consent.json())
    assert Mailbox.objects.count() == 0


def test_a_csv_of_delegated_addresses_sends_with_no_password(
    transactional_db: Any,
    owner: Any,
    stack: dict[str, Any],
    authorization_server: AuthorizationServer,
    tmp_path: Any,
) -> None:
    """`email,auth_method` rows and nothing else: the mailboxes send over XOAUTH2."""
    addresses = [f"csv{n}@delegated-e2e.test" for n in range(3)]
    for address in addresses:
        authorization_server.add_user(address, "the-users-own-password-1")
    recipient = Mailbox(owner=owner, email=SHARED, auth_method="microsoft_app")
    recipient.apply_preset()
    recipient.save()
    csv = tmp_path / "delegated.csv"
    csv.write_text("email,auth_method\n" + "".join(f"{a},google_delegated\n" for a in addresses))
    out = io.StringIO()
    call_command("import_mailboxes", str(csv), owner=owner.get_username(), stdout=out)
    assert Mailbox.objects.filter(auth_method="google_delegated").count() == 3, out.getvalue()
    assert not Mailbox.objects.exclude(smtp_secret="").exists()
    Mailbox.objects.update(window_start_hour=0, window_end_hour=24, start_volume=2)

    now = timezone.now()
    plan_cycle(morning_of(now), floor=2, margin=dt.timedelta(minutes=15))
    SendLog.objects.filter(sender__email__in=addresses).update(
        scheduled_at=now - dt.timedelta(minutes=1)
    )
    SendLog.objects.filter(sender__email=SHARED).delete()
    stats = engine_for(now).run_cycle(plan=False)

    smtp = stack["smtp"]
    assert stats.outcomes["sent"] == 6, stats.line()
    assert sorted(m.login for m in smtp.received) == sorted(addresses * 2)
    assert {t.mechanism for t in smtp.token_logins} == {"XOAUTH2"}
