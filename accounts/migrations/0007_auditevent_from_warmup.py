"""AuditEvent moves from warmup to accounts, where the Mailbox methods that write it live
(accounts may not import warmup). State only: the table `audit_events` and its rows stay
as they are; warmup.0008 drops the model from warmup's state. The content type is renamed
rather than created anew, so permissions granted on it and admin history keep pointing at
it."""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def take_over_content_type(apps: Any, schema_editor: Any) -> None:
    _move_content_type(apps, "warmup", "accounts")


def give_back_content_type(apps: Any, schema_editor: Any) -> None:
    _move_content_type(apps, "accounts", "warmup")


def _move_content_type(apps: Any, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label=target, model="auditevent").exists():
        content_type.objects.filter(app_label=source, model="auditevent").update(app_label=target)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_mailbox_field_validators"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("warmup", "0001_initial"),  # created the table
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("created_at", models.DateTimeField(db_index=True)),
                        (
                            "actor_name",
                            models.CharField(
                                help_text="Kept if the user is deleted.", max_length=150
                            ),
                        ),
                        ("action", models.CharField(max_length=50)),
                        ("target_type", models.CharField(blank=True, max_length=50)),
                        ("target_id", models.CharField(blank=True, max_length=50)),
                        ("detail", models.JSONField(blank=True, default=dict)),
                        ("remote_addr", models.GenericIPAddressField(blank=True, null=True)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"db_table": "audit_events", "ordering": ["-created_at"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(take_over_content_type, give_back_content_type),
    ]
