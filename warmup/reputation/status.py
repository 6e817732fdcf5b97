"""A checked target's one-word state, as the API, the admin and the metrics show it.

Stored by PostgreSQL as the target's `rank` (a generated column, ReputationTarget.rank,
written with the row), so that lists filter and sort on it through an index: `listed`
while it is on a blacklist (listed_since), else `failing` while an authentication record
fails (failing_since: the grace period runs, then its mailboxes pause), else `warning`
when any check's last verdict is warn or error, else `ok`.
"""

from __future__ import annotations

from django.db.models import Case, Expression, Q, Value, When

from warmup.reputation.results import ADDRESS_CHECKS, DOMAIN_CHECKS

LISTED, FAILING, WARNING, OK = "listed", "failing", "warning", "ok"
# Worst first: the order lists and the admin show them in by default, and the rank's.
STATUSES = (LISTED, FAILING, WARNING, OK)


# Every check a target may hold (a domain's, then an address's that a domain lacks).
CHECKS = (*DOMAIN_CHECKS, *(c for c in ADDRESS_CHECKS if c not in DOMAIN_CHECKS))


def status_expression() -> Expression:
    """The status of a ReputationTarget row, as a SQL expression."""
    return Case(*(When(rank=rank, then=Value(status)) for rank, status in enumerate(STATUSES)))


def having_status(status: str) -> Q:
    """The rows whose status is `status` (one of STATUSES)."""
    return Q(rank=STATUSES.index(status))
