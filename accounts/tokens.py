"""Access tokens for the mailboxes that log in with one (accounts.models.TOKEN_METHODS):
read from the encrypted cache while they last, got again ahead of expiry.

One refresh at a time per mailbox (per credential for Microsoft app-only tokens, which
serve all of a tenant's mailboxes), across every worker and process: a PostgreSQL
session-level advisory lock, taken outside any transaction. It is not a row lock, and no
transaction is open while the provider is asked, so nothing waits on a row for an HTTP
call: the engine keeps sending and recording other mailboxes meanwhile. Whoever waited
for the lock reads the token the holder saved and asks the provider nothing. The save is
a compare-and-save on `generation`, so a connection made meanwhile (new tokens from the
owner's consent) is never overwritten by an older grant's.

Errors: `TokenRefused` (the provider refused the grant for good: the mailbox is paused
"reconnect needed: …" here, in one place) and `TokenUnavailable` (try later: defer,
pause nothing). Neither message holds a token."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from django.db import OperationalError, connection
from django.db.models import F

from accounts import crypto, oauth
from accounts.models import (
    AUTH_GOOGLE_DELEGATED,
    AUTH_MICROSOFT_APP,
    AUTH_OAUTH2,
    Mailbox,
    MailboxToken,
    OAuthCredential,
    TokenCache,
    TokenTotal,
)
from accounts.transport.account import Account
from warmup_project.sql import ADVISORY_LOCK, ADVISORY_UNLOCK

log = logging.getLogger("warmup.tokens")

# A token is got again at least this long before it expires, so a login never carries
# one that dies on the way (a session may last minutes) ...
REFRESH_AHEAD = dt.timedelta(minutes=5)
# ... at a moment drawn per token in the last SPREAD of its life before that: tokens
# issued together (a bulk connection, an import, a restart after an outage) would
# otherwise be refreshed together, hour after hour (benchmarks/token_refreshes.py).
SPREAD = 0.5
# Longest a process waits for another's refresh of the same token.
LOCK_WAIT_S = 30
# After a provider failed to answer (down, 5xx, our application refused), this process
# asks it nothing for this long: a batch of a hundred mailboxes whose tokens expire during
# an outage costs one timeout, not a hundred.
OUTAGE_PAUSE = dt.timedelta(seconds=60)
# Advisory lock namespaces (pg_advisory_lock(namespace, id)).
LOCK_MAILBOX_TOKEN = 0x70CE
LOCK_CREDENTIAL_TOKEN = 0x70CF


class TokenError(Exception):
    pass


class _Outages:
    """The token endpoints this process found failing, and until when it leaves them be;
    shared by its threads (engagement runs sessions in parallel)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, tuple[dt.datetime, str]] = {}

    def check(self, key: str, now: dt.datetime) -> None:
        with self._lock:
            until, reason = self._until.get(key, (now, ""))
        if now < until:
            raise TokenUnavailable(f"{reason} (not asked again until {until:%H:%M:%S} UTC)")

    def note(self, key: str, now: dt.datetime, reason: str) -> None:
        with self._lock:
            self._until[key] = (now + OUTAGE_PAUSE, reason)

    def clear(self) -> None:
        with self._lock:
            self._until.clear()


outages = _Outages()


class TokenRefused(TokenError):
    """The provider refused for good: the mailbox must be connected again."""


class TokenUnavailable(TokenError):
    """No token now (the provider is down, the credentials are missing, another process
    is still refreshing): try later."""


def login_account(
    box: Mailbox,
    side: str,
    now: dt.datetime,
    *,
    rejected: str = "",
    known: MailboxToken | None = None,
) -> Account:
    """Where and as whom `box` logs in on `side` ("smtp" or "imap"): its password, or a
    bearer token. `rejected` is a token the server just refused: a fresh one is got
    unless another process already replaced it. `known`: its token row as the caller
    read it already (the engine reads a batch's with the batch), so a token still good
    costs no query. Raises crypto.SecretError (a secret cannot be read), TokenRefused or
    TokenUnavailable."""
    account = box.smtp_account() if side == "smtp" else box.imap_account()
    if not box.uses_token:
        return account
    return account.with_token(access_token(box, now, rejected=rejected, known=known))


def access_token(
    box: Mailbox, now: dt.datetime, *, rejected: str = "", known: MailboxToken | None = None
) -> str:
    if box.auth_method == AUTH_MICROSOFT_APP:
        credential = _credential(box)
        endpoint = f"credential {credential.pk}"
        return _Cache(credential, LOCK_CREDENTIAL_TOKEN, credential.pk, endpoint).token(
            now, rejected, lambda: _app_grant(credential, now), on_refused=None
        )
    found = known if known is not None else MailboxToken.objects.filter(pk=box.pk).first()
    if box.auth_method == AUTH_GOOGLE_DELEGATED:
        row = found or MailboxToken.objects.get_or_create(mailbox_id=box.pk)[0]
        endpoint = f"delegation of {box.domain}"
        # The credentials are looked up only when a token must be got.
        grant = lambda: _delegated_grant(_credential(box), box.email, now)  # noqa: E731
    elif box.auth_method == AUTH_OAUTH2:
        if found is None or not found.refresh_secret:
            _refused(box, "no refresh token is stored: connect the mailbox", now)
        row = found
        endpoint = str(box.oauth_provider)  # the consent application of that provider
        grant = lambda: _refresh(box, now)  # noqa: E731
    else:
        raise ValueError(f"mailbox {box.pk} logs in with a password, not a token")
    return _Cache(row, LOCK_MAILBOX_TOKEN, box.pk, endpoint).token(
        now, rejected, grant, on_refused=lambda reason: _refused(box, reason, now)
    )


def _credential(box: Mailbox) -> OAuthCredential:
    credential = OAuthCredential.serving(box.auth_method, box.domain)
    if credential is None:
        raise TokenUnavailable(
            f"no enabled {box.get_auth_method_display()} credentials serve {box.domain} "
            "(admin: OAuth credentials)"
        )
    return credential


def _refused(box: Mailbox, reason: str, now: dt.datetime) -> NoReturn:
    Mailbox.objects.filter(pk=box.pk).require_reconnect(reason, now)
    raise TokenRefused(reason)


class _Cache:
    """One token cache row (a mailbox's, or a credential's) and its advisory lock."""

    def __init__(self, row: TokenCache, namespace: int, key: int, endpoint: str) -> None:
        self.row = row
        self.model: Any = type(row)  # MailboxToken or OAuthCredential
        self.namespace, self.key = namespace, key
        self.endpoint = endpoint  # whose outage stops this refresh (_Outages)
        self.what = f"access token of {row}"

    def token(self, now: dt.datetime, rejected: str, grant: Any, on_refused: Any) -> str:
        cached = self._usable(self.row, now, rejected)
        if cached:
            return cached
        outages.check(self.endpoint, now)
        with self._locked():
            row = self.model.objects.get(pk=self.row.pk)  # as the last holder left it
            cached = self._usable(row, now, rejected)
            if cached:
                return cached
            try:
                got: oauth.Grant = grant()
            except oauth.GrantRefused as exc:
                self._count_failure(now, str(exc))
                if on_refused is None:
                    # An operator's credentials, not one mailbox's consent: the operator
                    # fixes them; the mailboxes wait.
                    raise TokenUnavailable(str(exc)) from None
                on_refused(str(exc))
                raise  # on_refused raises; this is for the type checker
            except oauth.ProviderError as exc:
                self._count_failure(now, str(exc))
                outages.note(self.endpoint, now, str(exc))
                raise TokenUnavailable(str(exc)) from None
            self._save(row, got, now)
            return got.access_token

    def _usable(self, row: TokenCache, now: dt.datetime, rejected: str) -> str:
        if not row.access_secret or row.refresh_after is None or row.refresh_after <= now:
            return ""
        token = crypto.decrypt(row.access_secret, what=self.what)
        return "" if rejected and token == rejected else token

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if connection.in_atomic_block:
            # The lock would be fine, but the HTTP call would run inside the caller's
            # transaction, holding whatever it locked.
            raise RuntimeError("tokens are got outside a transaction")
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{LOCK_WAIT_S}s"])
            try:
                cursor.execute(ADVISORY_LOCK, [self.namespace, self.key])
            except OperationalError:
                raise TokenUnavailable(
                    f"another process has been getting the {self.what} for {LOCK_WAIT_S}s"
                ) from None
            finally:
                cursor.execute("SELECT set_config('lock_timeout', '0', false)")
            try:
                yield
            finally:
                cursor.execute(ADVISORY_UNLOCK, [self.namespace, self.key])

    def _save(self, row: TokenCache, got: oauth.Grant, now: dt.datetime) -> None:
        update: dict[str, Any] = {
            "access_secret": crypto.encrypt(got.access_token),
            "expires_at": got.expires_at,
            "refresh_after": refresh_after(got, now),
            "generation": F("generation") + 1,
        }
        if isinstance(row, MailboxToken):
            update.update(refreshed_at=now, refreshes=F("refreshes") + 1, last_error="")
            if got.refresh_token:  # rotated (Microsoft: every time): the old one is spent
                update["refresh_secret"] = crypto.encrypt(got.refresh_token)
        saved = self.model.objects.filter(pk=row.pk, generation=row.generation).update(**update)
        TokenTotal.add("refreshes")
        if not saved:
            log.info("%s: newer tokens were saved meanwhile; this grant is not kept", self.what)

    def _count_failure(self, now: dt.datetime, reason: str) -> None:
        log.warning("%s: %s", self.what, reason)
        TokenTotal.add("failures")
        if self.model is MailboxToken:
            MailboxToken.objects.filter(pk=self.row.pk).update(
                refresh_failures=F("refresh_failures") + 1,
                last_error=reason[:1000],
                last_error_at=now,
            )


def refresh_after(grant: oauth.Grant, now: dt.datetime) -> dt.datetime:
    """When a token got at `now` is got again: at a random moment of the last SPREAD of
    its life, and at the latest REFRESH_AHEAD before it expires (half its life, for
    short-lived ones). A 1-hour token: between 30 and 55 minutes after it was got."""
    life = grant.expires_at - now
    latest = grant.expires_at - min(REFRESH_AHEAD, life / 2)
    earliest = min(latest, grant.expires_at - life * SPREAD)
    return earliest + (latest - earliest) * random.random()


def _refresh(box: Mailbox, now: dt.datetime) -> oauth.Grant:
    provider = box.oauth_provider
    if provider is None:
        raise oauth.ProviderUnavailable(f"mailbox {box.pk} has no OAuth provider")
    row = MailboxToken.objects.get(pk=box.pk)
    refresh_token = crypto.decrypt(row.refresh_secret, what=f"refresh token of mailbox {box.pk}")
    return oauth.refresh(provider, refresh_token, now)


def _delegated_grant(credential: OAuthCredential, subject: str, now: dt.datetime) -> oauth.Grant:
    try:
        account = oauth.ServiceAccount.from_json(credential.secret_value)
    except ValueError as exc:
        raise oauth.ProviderUnavailable(f"credentials {credential.name!r}: {exc}") from None
    return oauth.delegated_grant(account, subject, now)


def _app_grant(credential: OAuthCredential, now: dt.datetime) -> oauth.Grant:
    return oauth.app_grant(credential.client_id, credential.secret_value, credential.tenant, now)


def save_consent(box: Mailbox, grant: oauth.Grant, subject: str, now: dt.datetime) -> None:
    """The tokens of a finished consent (a new connection or a reconnect), replacing
    whatever was stored; a refresh under way loses its compare-and-save."""
    values = {
        "refresh_secret": crypto.encrypt(grant.refresh_token),
        "access_secret": crypto.encrypt(grant.access_token),
        "expires_at": grant.expires_at,
        "refresh_after": refresh_after(grant, now),
        "scope": grant.scope,
        "subject": subject,
        "connected_at": now,
        "last_error": "",
    }
    updated = MailboxToken.objects.filter(pk=box.pk).update(
        generation=F("generation") + 1, **values
    )
    if not updated:
        MailboxToken.objects.create(mailbox_id=box.pk, **values)
