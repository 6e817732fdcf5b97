"""AuditEvent now belongs to accounts (accounts.0007): drop it from warmup's state only,
the table and its rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_auditevent_from_warmup"),
        ("warmup", "0007_one_reply_per_send"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
