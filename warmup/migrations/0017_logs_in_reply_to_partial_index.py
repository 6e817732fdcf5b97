# The index of a send's replies becomes partial (replies only), so a slot that is no
# reply writes no entry in it when planned, nor at its claim, start and record (updates
# that are never HOT). Like 0016, on a send log of many partitions it is built on each
# with writes to `logs` blocked meanwhile: run it with the engine stopped (README, Send
# log partitions). The new index comes first: dropping the old one locks `logs` against
# reads too, until the commit, which then comes at once.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_mailbox_email_domain_index"),
        ("warmup", "0016_logs_partial_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="sendlog",
            index=models.Index(
                condition=models.Q(("in_reply_to__isnull", False)),
                fields=["in_reply_to"],
                name="idx_logs_in_reply_to",
            ),
        ),
        migrations.AlterField(
            model_name="sendlog",
            name="in_reply_to",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="replies",
                to="warmup.sendlog",
            ),
        ),
    ]
