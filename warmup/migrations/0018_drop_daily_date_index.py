# DailyStat's (date) index goes: every update of `sent` wrote an entry in it (such an
# update is never HOT), and idx_warmup_logs_today_id (date, quota_met, mailbox) serves
# the same look-ups by date. Dropping it is quick, with DailyStat locked meanwhile.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("warmup", "0017_logs_in_reply_to_partial_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="dailystat",
            name="idx_warmup_logs_date",
        ),
    ]
