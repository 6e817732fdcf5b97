"""signed_in(): the user of a request that authentication let through, never an anonymous
one written as an owner or an actor."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from warmup_project.permissions import signed_in


def test_signed_in_gives_the_user_back() -> None:
    user = User(username="owner")
    assert signed_in(user) is user


def test_signed_in_refuses_an_anonymous_user() -> None:
    with pytest.raises(PermissionDenied):
        signed_in(AnonymousUser())
