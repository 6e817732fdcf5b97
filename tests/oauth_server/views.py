"""Exchange Online's mailbox permissions for app-only tokens, told to the resource servers.

A client-credentials token names no user, so DOT's introspection of it has no `username`.
In Exchange Online an application's service principal is granted mailboxes one by one
(Add-MailboxPermission; here models.MailboxPermission, `manage grant_mailbox`), and the
IMAP/SMTP login names the mailbox (XOAUTH2 `user=`). This introspection answers as DOT's
does, plus, for a live token, Entra ID's `idtyp` claim ("user", or "app" for an app-only
token), and for an app-only token `mailboxes`: the addresses its application was granted,
space separated (possibly none), for the resource server to hold the login to."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import unquote_plus

from django.http import JsonResponse
from oauth2_provider.models import get_access_token_model
from oauth2_provider.views import IntrospectTokenView, TokenView

from tests.oauth_server.models import MailboxPermission, TokenRequest


class MailboxIntrospectTokenView(IntrospectTokenView):
    @staticmethod
    def get_token_response(token_value: str | None = None) -> Any:
        response = IntrospectTokenView.get_token_response(token_value)
        answer = json.loads(response.content)
        if response.status_code != 200 or answer.get("active") is not True:
            return response
        if "username" in answer:
            answer["idtyp"] = "user"
            return JsonResponse(answer)
        checksum = hashlib.sha256((token_value or "").encode()).hexdigest()
        token = get_access_token_model().objects.get(token_checksum=checksum)
        granted = MailboxPermission.objects.filter(application_id=token.application_id)
        answer["idtyp"] = "app"
        answer["mailboxes"] = " ".join(sorted(granted.values_list("address", flat=True)))
        return JsonResponse(answer)


class CountingTokenView(TokenView):
    """DOT's token endpoint, each request noted first (models.TokenRequest)."""

    def post(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        client_id = request.POST.get("client_id", "")
        auth = request.META.get("HTTP_AUTHORIZATION", "")
        if not client_id and auth.startswith("Basic "):
            client_id = base64.b64decode(auth[6:]).decode(errors="replace").split(":", 1)[0]
        TokenRequest.objects.create(
            client_id=unquote_plus(client_id), grant_type=request.POST.get("grant_type", "")
        )
        return super().post(request, *args, **kwargs)
