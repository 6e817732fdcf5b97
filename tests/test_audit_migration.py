"""AuditEvent moved from warmup to accounts by state-only migrations: a database migrated
forward from the schema before the move keeps its audit rows, and the permissions granted
on the model (they hang on its content type) still hold."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import AuditEvent

BEFORE_THE_MOVE = [
    ("accounts", "0006_mailbox_field_validators"),
    ("warmup", "0007_one_reply_per_send"),
]


@pytest.mark.django_db(transaction=True)
def test_migrating_forward_keeps_the_audit_rows_and_permissions(django_user_model: Any) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    old = executor.loader.project_state(BEFORE_THE_MOVE).apps.get_model("warmup", "AuditEvent")
    row = old.objects.create(created_at=timezone.now(), actor_name="ops", action="engine.stop")
    # The content type as the old code had it, with a permission granted on it.
    content_type = ContentType.objects.get(model="auditevent")
    ContentType.objects.filter(id=content_type.id).update(app_label="warmup")
    operator = django_user_model.objects.create_user("operator", is_staff=True)
    operator.user_permissions.add(content_type.permission_set.get(codename="view_auditevent"))

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    moved = AuditEvent.objects.get(id=row.id)
    assert (moved.actor_name, moved.action) == ("ops", "engine.stop")
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(AuditEvent).id == content_type.id
    assert not ContentType.objects.filter(app_label="warmup", model="auditevent").exists()
    assert django_user_model.objects.get(id=operator.id).has_perm("accounts.view_auditevent")
