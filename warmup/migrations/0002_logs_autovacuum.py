"""Vacuum the send log often on PostgreSQL.

Every claim moves a row out of the partial claim index (status planned → sending), so
the index fills with dead entries the claim query must step over. PostgreSQL's default
(vacuum at 20% dead rows) would let ~600,000 of them pile up at 3 M rows a day; 1% keeps
the claim scan short."""

from django.db import migrations

TUNE = (
    "ALTER TABLE logs SET (autovacuum_vacuum_scale_factor = 0.01, "
    "autovacuum_analyze_scale_factor = 0.01)"
)
RESET = "ALTER TABLE logs RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)"


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TUNE)


def reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RESET)


class Migration(migrations.Migration):
    dependencies = [("warmup", "0001_initial")]

    operations = [migrations.RunPython(tune, reset)]
