# Two full indexes of the send log become partial ones, so the updates of a slot
# (claimed, handed to SMTP, recorded: never HOT) write fewer index entries. On a send
# log of many partitions the new indexes are built on each with writes to `logs`
# blocked meanwhile: run it with the engine stopped (README, Send log partitions).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_mailbox_email_domain_index"),
        ("warmup", "0015_logs_partitioned_by_day"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="sendlog",
            name="idx_logs_sender_timestamp",
        ),
        migrations.RemoveIndex(
            model_name="sendlog",
            name="idx_logs_status_timestamp",
        ),
        migrations.AddIndex(
            model_name="sendlog",
            index=models.Index(
                condition=models.Q(("sent_at__isnull", False)),
                fields=["sender", "sent_at"],
                name="idx_logs_sender_sent",
            ),
        ),
        migrations.AddIndex(
            model_name="sendlog",
            index=models.Index(
                condition=models.Q(("status", "sending")),
                fields=["worker", "claimed_at"],
                name="idx_logs_sending",
            ),
        ),
    ]
