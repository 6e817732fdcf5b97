"""The pool's shape: whom each mailbox exchanges warmup mail with, over the last 7 days
(168 hours) of accepted sends, kept on the mailbox like its deliverability:

- partners = distinct mailboxes it sent to or received from;
- same-owner share = of the warmup mail it received, the share sent by mailboxes of its
  own owner (an owner warming its mailboxes among themselves is a closed loop that
  builds no reputation with anyone else);
- same-provider share = of the warmup mail it received, the share sent by mailboxes of
  its own provider (`Mailbox.provider`, as pairing reads it: "other" is one provider);
- reciprocity = the share of its partners it both sent to and received from.

A share is None when the mailbox received nothing, reciprocity when it had no partner.
One statement (warmup.sql.POOL_FIGURES) reads the week's sends once, whatever the
number of mailboxes; the daily task warmup.tasks.refresh_pool refreshes every mailbox,
then keeps the network's figures (warmup.models.PoolShape: median and 5th percentile of
partners, means of the shares and reciprocity, 95th percentile of the same-owner share)
for the metrics.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.db import connection, transaction

from accounts.models import POOL_FIELDS, Mailbox
from warmup import sql
from warmup.models import PoolShape, SendStatus

WINDOW = dt.timedelta(days=7)


class PoolCounts(NamedTuple):
    """One mailbox's counts over the window, as POOL_FIGURES returns them."""

    mailbox_id: int
    partners: int
    reciprocal: int
    received: int
    same_owner: int
    same_provider: int


class PoolFigures(NamedTuple):
    partners: int
    same_owner_share: float | None
    same_provider_share: float | None
    reciprocity: float | None


def figures(c: PoolCounts | None) -> PoolFigures:
    """The figures of one mailbox's counts (None: no accepted send in or out)."""
    if c is None:
        return PoolFigures(0, None, None, None)
    return PoolFigures(
        partners=c.partners,
        same_owner_share=c.same_owner / c.received if c.received else None,
        same_provider_share=c.same_provider / c.received if c.received else None,
        reciprocity=c.reciprocal / c.partners if c.partners else None,
    )


def pool_counts(now: dt.datetime) -> dict[int, PoolCounts]:
    """The counts of every mailbox that sent or received in the 7 days up to `now`."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.POOL_WORK_MEM)
        cursor.execute(sql.POOL_FIGURES, [SendStatus.SENT.value, now - WINDOW, now])
        return {row[0]: PoolCounts(*row) for row in cursor.fetchall()}


# The network's figures (warmup.models.PoolShape), in the order POOL_SHAPE returns them.
POOL_SHAPE_FIELDS = (
    "mailboxes",
    "partners_median",
    "partners_p5",
    "same_owner_share",
    "same_owner_share_p95",
    "same_provider_share",
    "reciprocity",
)


def record_pool_shape(now: dt.datetime) -> PoolShape:
    """The network's figures from the mailboxes' own, kept as of `now`."""
    with connection.cursor() as cursor:
        cursor.execute(sql.POOL_SHAPE)
        values = dict(zip(POOL_SHAPE_FIELDS, cursor.fetchone(), strict=True))
    shape, _ = PoolShape.objects.update_or_create(refreshed_at=now, defaults=values)
    return shape


def update_pool(now: dt.datetime) -> int:
    """Refresh every mailbox's pool figures, then the network's (record_pool_shape);
    returns how many mailboxes were updated."""
    counts = pool_counts(now)
    rows = [
        (box_id, *figures(counts.get(box_id)))
        for box_id in Mailbox.objects.order_by("id").values_list("id", flat=True)
    ]
    updated = sql.update_rows(Mailbox, ("id", *POOL_FIELDS), rows)
    record_pool_shape(now)
    return updated
