"""Vacuum the send log often.

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


class Migration(migrations.Migration):
    dependencies = [("warmup", "0001_initial")]

    operations = [migrations.RunSQL(TUNE, RESET)]
