"""The mailboxes' time zone index holds their ids too: warmup.api counts a local date's
DailyStat rows by the ids of the mailboxes in its zones, read from the index alone
(accounts.sql.timezones_in_use walks it as it walked the (timezone) index it replaces)."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without blocking the engine's writes to the mailboxes (their state, per batch).
    atomic = False

    dependencies = [("accounts", "0013_mailbox_email_domain_index")]

    operations = [
        AddIndexConcurrently(
            model_name="mailbox",
            index=models.Index(fields=["timezone", "id"], name="idx_mailboxes_timezone_id"),
        ),
        RemoveIndexConcurrently(model_name="mailbox", name="idx_mailboxes_timezone"),
    ]
