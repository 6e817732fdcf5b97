"""Normalise legacy status spellings once, before the status CHECK constraint (0003)."""

from django.db import migrations

from accounts.status import normalize_mailbox_statuses


def forwards(apps, schema_editor):
    normalize_mailbox_statuses(apps.get_model("accounts", "Mailbox"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
