"""Connecting a mailbox by its owner's consent (`oauth2`): the authorization-code flow with
PKCE at Google or Microsoft, for the platforms that embed us through the API and for
staff in the admin.

`start` keeps the PKCE verifier and the ID token's nonce server-side (ConnectState, the
verifier encrypted) and gives the provider a `state` that is signed, bound to the owner
and the provider, expires after CONNECT_TTL and is taken once. `finish` (the callback)
checks all of that, trades the code for tokens, takes the address from the verified ID
token, and creates or updates that owner's mailbox with its provider's servers and the
tokens, encrypted. Anything wrong raises ConnectRefused with a code for the return URL
and a message, and creates nothing."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.core import signing
from django.db import transaction

from accounts import crypto, oauth, tokens
from accounts import status as mailbox_status
from accounts.models import (
    AUTH_OAUTH2,
    RECONNECT_NEEDED,
    Actor,
    ConnectState,
    Mailbox,
    OwnerPlan,
)

PROVIDERS = ("google", "microsoft")
CONNECT_TTL = dt.timedelta(minutes=10)
_SALT = "warmup.oauth.connect"


@dataclass
class ConnectRefused(Exception):
    """`code` goes to the return URL (`?error=CODE`); `message` says what was wrong;
    `return_url` is the connection's own, once it is known."""

    code: str
    message: str
    return_url: str = ""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Connected(NamedTuple):
    mailbox: Mailbox
    return_url: str  # the connection's own, or empty: WARMUP_OAUTH_RETURN_URL


def start(
    owner: Any, provider: str, redirect_uri: str, now: dt.datetime, *, return_url: str = ""
) -> str:
    """The provider's authorization URL for `owner` to connect a mailbox; the callback
    will send the browser to `return_url` (default: WARMUP_OAUTH_RETURN_URL)."""
    if provider not in PROVIDERS:
        raise ConnectRefused("unknown_provider", f"{provider!r} is not google or microsoft.")
    verifier = secrets.token_urlsafe(64)
    state = ConnectState.objects.create(
        key=secrets.token_urlsafe(32),
        owner=owner,
        provider=provider,
        redirect_uri=redirect_uri,
        return_url=return_url,
        verifier_secret=crypto.encrypt(verifier),
        nonce=secrets.token_urlsafe(24),
        created_at=now,
    )
    signed = signing.dumps({"k": state.key, "o": owner.pk, "p": provider}, salt=_SALT)
    try:
        return oauth.authorization_url(
            provider,
            redirect_uri=redirect_uri,
            state=signed,
            nonce=state.nonce,
            code_verifier=verifier,
        )
    except oauth.ProviderError as exc:
        state.delete()
        raise ConnectRefused("provider_unavailable", str(exc)) from None


def finish(provider: str, query: dict[str, str], now: dt.datetime) -> Connected:
    """The callback: the provider's answer in `query` (code and state, or error)."""
    state = None
    try:
        state = _take_state(provider, query.get("state", ""), now) if query.get("state") else None
        return Connected(_finish(provider, query, state, now), state.return_url if state else "")
    except ConnectRefused as refused:
        refused.return_url = state.return_url if state else refused.return_url
        raise


def _finish(
    provider: str, query: dict[str, str], state: ConnectState | None, now: dt.datetime
) -> Mailbox:
    if query.get("error"):
        raise ConnectRefused(
            "access_denied" if query["error"] == "access_denied" else "provider_error",
            f"{provider} answered {query['error'][:100]}",
        )
    if not query.get("code") or state is None:
        raise ConnectRefused("invalid_request", "the callback lacks code or state.")
    verifier = crypto.decrypt(state.verifier_secret, what="PKCE verifier of a connection")
    try:
        grant = oauth.exchange_code(
            provider,
            code=query["code"],
            redirect_uri=state.redirect_uri,
            code_verifier=verifier,
            now=now,
        )
    except oauth.ProviderError as exc:
        raise ConnectRefused("token_exchange_failed", str(exc)) from None
    if not grant.id_token:
        raise ConnectRefused("invalid_id_token", f"{provider} gave no ID token (scope openid).")
    if not grant.refresh_token:
        raise ConnectRefused(
            "no_refresh_token", f"{provider} gave no refresh token (offline access refused)."
        )
    try:
        identity = oauth.verify_id_token(provider, grant.id_token, nonce=state.nonce, now=now)
    except oauth.ProviderError as exc:
        raise ConnectRefused("invalid_id_token", str(exc)) from None
    return _connect(state.owner, provider, identity, grant, now)


def _take_state(provider: str, signed: str, now: dt.datetime) -> ConnectState:
    """The connection `signed` names, taken for good: a second use is refused. Its age is
    judged by `now` against when it was started (CONNECT_TTL)."""
    try:
        payload = signing.loads(signed, salt=_SALT)
    except signing.BadSignature:
        raise ConnectRefused("bad_state", "the state is not one we issued.") from None
    state = (
        ConnectState.objects.select_related("owner").filter(key=payload.get("k")).first()
        if isinstance(payload, dict)
        else None
    )
    if state is None or state.owner_id != payload.get("o") or state.provider != provider:
        raise ConnectRefused(
            "bad_state", "the state names no connection started by that owner here."
        )
    if state.created_at <= now - CONNECT_TTL:
        raise ConnectRefused(
            "expired_state", "the connection was started too long ago.", state.return_url
        )
    if not ConnectState.objects.filter(key=state.key, used_at__isnull=True).update(used_at=now):
        raise ConnectRefused(
            "used_state", "this connection was already finished.", state.return_url
        )
    return state


def _connect(
    owner: Any, provider: str, identity: oauth.Identity, grant: oauth.Grant, now: dt.datetime
) -> Mailbox:
    with transaction.atomic():
        plan = OwnerPlan.lock_for(owner)
        box = Mailbox.objects.select_for_update().filter(email=identity.email).first()
        if box is not None and box.owner_id != owner.pk:
            raise ConnectRefused(
                "address_taken", f"{identity.email} is connected by another owner."
            )
        if box is None:
            if Mailbox.objects.filter(owner=owner).count() >= plan.max_mailboxes:
                raise ConnectRefused(
                    "plan_limit", f"your plan allows {plan.max_mailboxes} mailboxes."
                )
            box = Mailbox(owner=owner, email=identity.email)
        box.log_in_by_token(AUTH_OAUTH2, provider)
        if box._state.adding:
            box.save()
        else:
            box.save_settings()
        tokens.save_consent(box, grant, identity.subject, now)
    if box.status == mailbox_status.PAUSED and box.status_reason.startswith(RECONNECT_NEEDED):
        box.resume(Actor(owner, "oauth"), now)  # connected again: it sends again
    return box
