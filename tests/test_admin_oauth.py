"""The admin for logins by token: OAuth credentials with a write-only secret, token
mailboxes (their auth method, their tokens panel, their preset servers) and connecting a
mailbox by consent for an owner staff choose."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts import crypto, oauth
from accounts.models import ENDPOINT_FIELDS, ConnectState, Mailbox, MailboxToken, OAuthCredential
from tests.oauth import AuthorizationServer
from tests.test_admin import assert_no_secret, mailbox_form, mailbox_url
from warmup_project.config import OAuthConfig

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)
PRIVATE_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)
# The part of the key that must never be rendered: its base64 body, not the PEM armour.
KEY_BODY = PRIVATE_KEY.splitlines()[5]
SERVICE_ACCOUNT = json.dumps(
    {
        "type": "service_account",
        "client_email": "warmup@acme-project.iam.gserviceaccount.com",
        "private_key_id": "key-id-Pk7",
        "private_key": PRIVATE_KEY,
        "token_uri": "https://oauth2.googleapis.com/token",
    }
)
CLIENT_SECRET = "ms-client-Secret-Vw3"
GOOGLE_HOSTS = {
    "smtp_host": "smtp.gmail.com",
    "smtp_port": 465,
    "smtp_security": "ssl",
    "imap_host": "imap.gmail.com",
    "imap_port": 993,
    "imap_security": "ssl",
}


def credential_url(name: str, *args: Any) -> str:
    return reverse(f"admin:accounts_oauthcredential_{name}", args=args)


def credential_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "acme google",
        "kind": "google_delegated",
        "client_id": "",
        "tenant": "",
        "domains": "acme.test\nacme-sales.test",
        "enabled": "on",
        "service_account_key": "",
        "client_secret": "",
    }
    data.update(overrides)
    return data


def form_errors(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response
    return dict(response.context["adminform"].form.errors)


def never_shown(credential: OAuthCredential) -> list[str]:
    """What no page may hold: the key (its body, its id), the secrets and their tokens."""
    credential.refresh_from_db()
    found = [KEY_BODY, SERVICE_ACCOUNT, CLIENT_SECRET, credential.secret]
    if credential.access_secret:
        found += [credential.access_secret, crypto.decrypt(credential.access_secret, what="t")]
    return [value for value in found if value]


def staff(django_user_model: Any, name: str, *codenames: str) -> Any:
    user = django_user_model.objects.create_user(name, password="x", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.fixture
def google_credential(admin_client: Client) -> OAuthCredential:
    response = admin_client.post(
        credential_url("add"), credential_form(service_account_key=SERVICE_ACCOUNT)
    )
    assert response.status_code == 302, form_errors(response)
    return OAuthCredential.objects.get(name="acme google")


# OAuth credentials


def test_google_key_is_stored_encrypted_and_names_the_client(
    google_credential: OAuthCredential,
) -> None:
    assert google_credential.client_id == "warmup@acme-project.iam.gserviceaccount.com"
    assert google_credential.secret_value == SERVICE_ACCOUNT
    assert KEY_BODY not in google_credential.secret
    assert google_credential.domain_list == ["acme.test", "acme-sales.test"]


@pytest.mark.parametrize("page", ["changelist", "change", "history", "delete"])
def test_credential_pages_never_render_the_secret(
    admin_client: Client, google_credential: OAuthCredential, page: str
) -> None:
    # A cached access token, as accounts.tokens leaves it: its expiry shows, it does not.
    OAuthCredential.objects.filter(pk=google_credential.pk).update(
        access_secret=crypto.encrypt("ya29.Cached-Access-Token-Hh5"),
        expires_at=NOW,
        refresh_after=NOW,
    )
    secrets = never_shown(google_credential)
    assert "ya29.Cached-Access-Token-Hh5" in secrets

    url = (
        credential_url(page) if page == "changelist" else credential_url(page, google_credential.pk)
    )
    response = admin_client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_secret(html, secrets)
    if page in ("changelist", "change"):
        assert "acme google" in html
        assert "March 10, 2025" in html  # the token's expiry
    if page == "change":
        assert 'name="service_account_key"' in html
        assert 'type="password"' in html
        assert "secret stored" in html.lower()


def test_a_bad_key_is_refused_without_being_echoed(admin_client: Client) -> None:
    bad = json.dumps(
        {
            "type": "service_account",
            "client_email": "x@acme.iam.gserviceaccount.com",
            "private_key": "Not-A-Key-Zz9",
        }
    )
    response = admin_client.post(credential_url("add"), credential_form(service_account_key=bad))

    assert form_errors(response) == {
        "service_account_key": ["its private_key is not an RSA key in PEM"]
    }
    assert "Not-A-Key-Zz9" not in response.content.decode()
    assert not OAuthCredential.objects.exists()


def test_a_valid_key_is_not_echoed_when_another_field_is_wrong(admin_client: Client) -> None:
    response = admin_client.post(
        credential_url("add"),
        credential_form(service_account_key=SERVICE_ACCOUNT, domains="not a domain!"),
    )

    assert list(form_errors(response)) == ["domains"]
    html = response.content.decode()
    assert KEY_BODY not in html
    assert "key-id-Pk7" not in html
    assert not OAuthCredential.objects.exists()


def test_google_credentials_need_a_key(admin_client: Client) -> None:
    response = admin_client.post(credential_url("add"), credential_form())
    assert list(form_errors(response)) == ["service_account_key"]


def test_microsoft_app_needs_client_id_tenant_and_secret(admin_client: Client) -> None:
    response = admin_client.post(
        credential_url("add"),
        credential_form(name="acme ms", kind="microsoft_app", client_secret=CLIENT_SECRET),
    )
    assert set(form_errors(response)) == {"client_id", "tenant"}
    assert CLIENT_SECRET not in response.content.decode()

    response = admin_client.post(
        credential_url("add"),
        credential_form(
            name="acme ms", kind="microsoft_app", client_id="app-id-1", tenant="acme.test"
        ),
    )
    assert list(form_errors(response)) == ["client_secret"]

    response = admin_client.post(
        credential_url("add"),
        credential_form(
            name="acme ms",
            kind="microsoft_app",
            client_id="app-id-1",
            tenant="acme.test",
            client_secret=CLIENT_SECRET,
        ),
    )
    assert response.status_code == 302
    credential = OAuthCredential.objects.get(name="acme ms")
    assert (credential.client_id, credential.tenant) == ("app-id-1", "acme.test")
    assert credential.secret_value == CLIENT_SECRET
    html = admin_client.get(credential_url("change", credential.pk)).content.decode()
    assert_no_secret(html, never_shown(credential))


def test_a_change_without_a_new_key_keeps_the_stored_one_and_its_token(
    admin_client: Client, google_credential: OAuthCredential
) -> None:
    OAuthCredential.objects.filter(pk=google_credential.pk).update(
        access_secret=crypto.encrypt("cached"), expires_at=NOW, generation=3
    )
    stored = OAuthCredential.objects.get(pk=google_credential.pk)

    response = admin_client.post(
        credential_url("change", stored.pk),
        # The client id is the key's: what is typed there is not taken.
        credential_form(domains="acme.test", client_id="typed@elsewhere.test"),
    )

    assert response.status_code == 302, form_errors(response)
    again = OAuthCredential.objects.get(pk=stored.pk)
    assert again.domain_list == ["acme.test"]
    assert again.secret == stored.secret
    assert again.client_id == "warmup@acme-project.iam.gserviceaccount.com"
    assert (again.access_secret, again.generation) == (stored.access_secret, 3)


def test_a_new_identity_drops_the_cached_token(
    admin_client: Client, google_credential: OAuthCredential
) -> None:
    OAuthCredential.objects.filter(pk=google_credential.pk).update(
        access_secret=crypto.encrypt("cached"), expires_at=NOW, refresh_after=NOW, generation=3
    )
    refused = admin_client.post(
        credential_url("change", google_credential.pk),
        credential_form(kind="microsoft_app", client_id="app-id-1", tenant="acme.test"),
    )
    # A secret belongs to its kind: the key does not become a client secret.
    assert list(form_errors(refused)) == ["client_secret"]

    response = admin_client.post(
        credential_url("change", google_credential.pk),
        credential_form(
            kind="microsoft_app", client_id="app-id-1", tenant="acme.test", client_secret="new"
        ),
    )

    assert response.status_code == 302
    again = OAuthCredential.objects.get(pk=google_credential.pk)
    assert again.secret_value == "new"
    assert (again.access_secret, again.expires_at, again.refresh_after) == ("", None, None)
    assert again.generation == 4  # a refresh under way loses its compare-and-save


def test_view_only_staff_sees_no_secret_input(
    client: Client, django_user_model: Any, google_credential: OAuthCredential
) -> None:
    client.force_login(staff(django_user_model, "viewer", "view_oauthcredential"))

    response = client.get(credential_url("change", google_credential.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_secret(html, never_shown(google_credential))
    assert 'name="service_account_key"' not in html


# Token mailboxes


def token_mailbox(make_mailbox: Any, **fields: Any) -> Mailbox:
    box = make_mailbox(
        email="ann@acme.test",
        provider="gmail",
        auth_method="google_delegated",
        smtp_username="ann@acme.test",
        imap_username="ann@acme.test",
        smtp_password="",
        imap_password="",
        **{**GOOGLE_HOSTS, **fields},
    )
    MailboxToken.objects.create(
        mailbox=box,
        access_secret=crypto.encrypt("ya29.Mailbox-Access-Tt1"),
        refresh_secret=crypto.encrypt("1//Mailbox-Refresh-Rr2"),
        expires_at=NOW,
        connected_at=NOW,
        refreshes=41,
        refresh_failures=2,
        last_error="invalid_grant: Too-Many-Refreshes-Ee4",
    )
    return box


def token_form(box: Mailbox, **overrides: Any) -> dict[str, Any]:
    values = {
        "email": box.email,
        "provider": box.provider,
        "auth_method": box.auth_method,
        "smtp_username": box.email,
        "imap_username": box.email,
        **GOOGLE_HOSTS,
    }
    return mailbox_form(box.owner, **{**values, **overrides})


def test_changelist_shows_and_filters_by_auth_method(
    admin_client: Client, make_mailbox: Any
) -> None:
    token_mailbox(make_mailbox)
    make_mailbox(email="bob@else.test")

    everything = admin_client.get(mailbox_url("changelist"))
    only_tokens = admin_client.get(
        mailbox_url("changelist") + "?auth_method__exact=google_delegated"
    )

    assert "Google domain-wide delegation" in everything.content.decode()
    assert [box.email for box in everything.context["cl"].result_list] != []
    assert [box.email for box in only_tokens.context["cl"].result_list] == ["ann@acme.test"]


def test_token_mailbox_page_shows_the_tokens_panel_never_a_token(
    admin_client: Client, make_mailbox: Any
) -> None:
    box = token_mailbox(make_mailbox)
    row = MailboxToken.objects.get(pk=box.pk)

    response = admin_client.get(mailbox_url("change", box.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Tokens" in html
    assert "41" in html and "Too-Many-Refreshes-Ee4" in html
    assert_no_secret(
        html,
        [
            "ya29.Mailbox-Access-Tt1",
            "1//Mailbox-Refresh-Rr2",
            row.access_secret,
            row.refresh_secret,
        ],
    )
    assert 'type="password"' not in html  # no password to give


def test_token_mailbox_edit_needs_no_password(admin_client: Client, make_mailbox: Any) -> None:
    box = token_mailbox(make_mailbox)

    response = admin_client.post(mailbox_url("change", box.pk), token_form(box, daily_max=60))

    assert response.status_code == 302, form_errors(response)
    box.refresh_from_db()
    assert box.daily_max == 60
    assert (box.smtp_secret, box.imap_secret) == ("", "")


@pytest.mark.parametrize(
    ("field", "value"),
    [("smtp_host", "smtp.attacker.test"), ("imap_port", 143), ("smtp_username", "other@acme.test")],
)
def test_token_mailbox_keeps_its_preset_servers(
    admin_client: Client, make_mailbox: Any, field: str, value: Any
) -> None:
    box = token_mailbox(make_mailbox)

    response = admin_client.post(mailbox_url("change", box.pk), token_form(box, **{field: value}))

    errors = form_errors(response)  # a form error, not a 500
    assert list(errors) == [field]
    assert "stolen token" in errors[field][0]
    box.refresh_from_db()
    assert getattr(box, field) != value


def test_token_mailbox_refuses_a_password(admin_client: Client, make_mailbox: Any) -> None:
    box = token_mailbox(make_mailbox)
    response = admin_client.post(
        mailbox_url("change", box.pk), token_form(box, smtp_password="typed-Pw-Yy6")
    )
    assert list(form_errors(response)) == ["smtp_password"]
    assert "typed-Pw-Yy6" not in response.content.decode()


def test_add_delegated_mailbox_takes_the_preset(
    admin_client: Client, owner: Any, google_credential: OAuthCredential
) -> None:
    blank = dict.fromkeys([*ENDPOINT_FIELDS["smtp"], *ENDPOINT_FIELDS["imap"]], "")
    data = mailbox_form(owner, email="Cat@Acme.test", auth_method="google_delegated", **blank)

    response = admin_client.post(mailbox_url("add"), data)

    assert response.status_code == 302, form_errors(response)
    box = Mailbox.objects.get(email="cat@acme.test")
    assert {name: getattr(box, name) for name in GOOGLE_HOSTS} == GOOGLE_HOSTS
    assert (box.smtp_username, box.imap_username) == ("cat@acme.test", "cat@acme.test")
    assert (box.provider, box.smtp_secret, box.imap_secret) == ("gmail", "", "")


def test_add_delegated_mailbox_needs_credentials_for_its_domain(
    admin_client: Client, owner: Any, google_credential: OAuthCredential
) -> None:
    data = mailbox_form(owner, email="dan@elsewhere.test", auth_method="google_delegated")
    errors = form_errors(admin_client.post(mailbox_url("add"), data))
    assert list(errors) == ["auth_method"]
    assert "elsewhere.test" in errors["auth_method"][0]


def test_consent_mailbox_is_connected_not_added(admin_client: Client, owner: Any) -> None:
    data = mailbox_form(owner, email="eve@gmail.com", provider="gmail", auth_method="oauth2")
    errors = form_errors(admin_client.post(mailbox_url("add"), data))
    assert list(errors) == ["auth_method"]
    assert "Connect Google" in errors["auth_method"][0]


def test_switching_a_token_mailbox_to_passwords_needs_both(
    admin_client: Client, make_mailbox: Any
) -> None:
    box = token_mailbox(make_mailbox)
    response = admin_client.post(
        mailbox_url("change", box.pk), token_form(box, auth_method="password")
    )
    assert set(form_errors(response)) == {"smtp_password", "imap_password"}


# Connecting by consent for an owner


@pytest.fixture
def consent_app(authorization_server: AuthorizationServer, settings: Any) -> Iterator[Any]:
    client = authorization_server.add_client(
        "warmup admin", redirect_uris=("http://testserver/oauth/google/callback",)
    )
    settings.WARMUP = dataclasses.replace(
        settings.WARMUP,
        oauth=OAuthConfig(
            google_client_id=client.client_id,
            google_client_secret=client.secret,
            google_discovery_url=authorization_server.discovery_url,
        ),
    )
    oauth.documents.clear()
    yield client
    oauth.documents.clear()


def connect_url() -> str:
    return reverse("admin:accounts_mailbox_connect")


def test_changelist_offers_to_connect(admin_client: Client) -> None:
    html = admin_client.get(mailbox_url("changelist")).content.decode()
    assert f"{connect_url()}?provider=google" in html
    assert f"{connect_url()}?provider=microsoft" in html


def test_connect_sends_staff_to_the_provider_for_the_chosen_owner(
    client: Client,
    django_user_model: Any,
    owner: Any,
    consent_app: Any,
    authorization_server: AuthorizationServer,
) -> None:
    client.force_login(staff(django_user_model, "operator", "add_mailbox"))
    assert client.get(connect_url() + "?provider=google").status_code == 200

    response = client.post(connect_url(), {"owner": owner.pk, "provider": "google"})

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        authorization_server.authorize_url
    )
    query = parse_qs(location.query)
    assert query["client_id"] == [consent_app.client_id]
    assert query["redirect_uri"] == ["http://testserver/oauth/google/callback"]
    assert query["code_challenge_method"] == ["S256"]
    state = ConnectState.objects.get()
    assert (state.owner, state.provider) == (owner, "google")
    assert state.redirect_uri == "http://testserver/oauth/google/callback"
    assert state.verifier_secret not in response["Location"]


def test_connect_refused_is_an_admin_message(
    admin_client: Client, owner: Any, consent_app: Any
) -> None:
    # No Microsoft application is configured.
    response = admin_client.post(
        connect_url(), {"owner": owner.pk, "provider": "microsoft"}, follow=True
    )

    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("no microsoft application is configured" in m for m in messages), messages
    assert not ConnectState.objects.exists()


def test_connect_needs_add_mailbox(
    client: Client, django_user_model: Any, owner: Any, consent_app: Any
) -> None:
    client.force_login(staff(django_user_model, "viewer", "view_mailbox", "change_mailbox"))
    assert client.post(connect_url(), {"owner": owner.pk, "provider": "google"}).status_code == 403
    html = client.get(mailbox_url("changelist")).content.decode()
    assert "Connect Google" not in html

    client.force_login(django_user_model.objects.create_user("plain", password="x"))
    response = client.post(connect_url(), {"owner": owner.pk, "provider": "google"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not ConnectState.objects.exists()


def test_a_connection_staff_started_comes_back_to_the_admin(
    client: Client,
    django_user_model: Any,
    owner: Any,
    consent_app: Any,
    authorization_server: AuthorizationServer,
) -> None:
    address = "connected-by-staff@staff-connect.test"
    authorization_server.add_user(address, "the-users-password-1")
    client.force_login(staff(django_user_model, "operator2", "add_mailbox", "change_mailbox"))
    to_provider = client.post(connect_url(), {"owner": owner.pk, "provider": "google"})
    # The owner consents in their own browser at the provider; it lands on our callback.
    browser = authorization_server.browser(address, "the-users-password-1")
    callback = urlsplit(authorization_server.consent(browser, to_provider["Location"]))
    back = client.get(callback.path, dict(parse_qsl(callback.query)))
    assert back.status_code == 302
    assert back["Location"].startswith(
        "http://testserver" + reverse("admin:accounts_mailbox_connected") + "?mailbox="
    )
    landed = client.get(back["Location"], follow=True)
    box = Mailbox.objects.get(email=address)
    assert landed.redirect_chain[-1][0] == reverse("admin:accounts_mailbox_change", args=[box.pk])
    assert "Connected." in [str(m) for m in landed.context["messages"]]
    assert box.owner == owner and box.auth_method == "oauth2"
    # The same answer again: refused, and the admin says why.
    again = client.get(callback.path, dict(parse_qsl(callback.query)), follow=True)
    assert any("used_state" in str(m) for m in again.context["messages"])
