"""Engine control through the database: every worker reads EngineState each loop, so a
stop, start or trigger reaches all of them within one loop, on any machine. The API's
control endpoint and `manage.py engine` both come here; each action is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from accounts.models import AuditEvent
from warmup.models import EngineState

ACTIONS = ("start", "stop", "trigger")


def apply(
    action: str,
    now: dt.datetime,
    *,
    actor: Any = None,
    actor_name: str = "",
    remote_addr: str | None = None,
    reason: str = "",
) -> EngineState:
    """Start, stop or trigger the engine; returns the new state. `actor` is a user or None
    (a management command: `actor_name` says who)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}: expected one of {', '.join(ACTIONS)}")
    with transaction.atomic():
        state = EngineState.load()
        state = EngineState.objects.select_for_update().get(id=state.id)
        if action == "trigger":
            state.trigger_requested_at = now
        else:
            state.running = action == "start"
            state.reason = reason
            state.changed_at = now
            state.changed_by = actor
        state.save()
        AuditEvent.objects.create(
            created_at=now,
            actor=actor,
            actor_name=actor_name or getattr(actor, "get_username", lambda: "")(),
            action=f"engine.{action}",
            target_type="engine",
            detail={"reason": reason} if reason else {},
            remote_addr=remote_addr,
        )
    return state
