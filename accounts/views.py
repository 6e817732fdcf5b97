"""The providers' side of connecting a mailbox: GET /oauth/{provider}/callback, where the
user's browser lands after consenting (accounts.connect.finish does the work)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import connect

log = logging.getLogger("warmup.oauth")


@require_GET
def callback(request: HttpRequest, provider: str) -> HttpResponse:
    query = {key: request.GET.get(key, "") for key in ("code", "state", "error")}
    try:
        box, return_url = connect.finish(provider, query, timezone.now())
    except connect.ConnectRefused as exc:
        log.warning("connecting a %s mailbox refused: %s", provider, exc)
        refused: dict[str, object] = {"error": exc.code, "detail": exc.message}
        return _back(exc.return_url, {"error": exc.code}, refused, 400)
    log.info("mailbox %s (%s) connected by %s consent", box.pk, box.email, provider)
    done: dict[str, object] = {"mailbox": box.pk, "email": box.email}
    return _back(return_url, {"mailbox": str(box.pk)}, done, 200)


def _back(
    return_url: str, params: dict[str, str], body: dict[str, object], status: int
) -> HttpResponse:
    """To the connection's return URL, or WARMUP_OAUTH_RETURN_URL, with `params` added to
    its query; with neither, the outcome as JSON."""
    url = return_url or settings.WARMUP.oauth.return_url
    if not url:
        return JsonResponse(body, status=status)
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return HttpResponseRedirect(urlunsplit(parts._replace(query=query)))
