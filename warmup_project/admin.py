"""simplejwt's outstanding tokens in the admin without the token itself: a live refresh
token is a login, and the admin shows no secret. (INSTALLED_APPS lists the blacklist app
before this one, so its registration is there to replace.)"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from rest_framework_simplejwt.token_blacklist.admin import OutstandingTokenAdmin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

admin.site.unregister(OutstandingToken)


@admin.register(OutstandingToken)
class TokenAdmin(OutstandingTokenAdmin):
    exclude = ("token",)

    def get_readonly_fields(self, *args: Any, **kwargs: Any) -> list[Any]:
        return [name for name in super().get_readonly_fields(*args, **kwargs) if name != "token"]
