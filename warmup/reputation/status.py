"""A checked target's one-word state, as the API, the admin and the metrics show it.

Derived, never stored, in SQL (so that lists filter and sort on it in the database):
`listed` while it is on a blacklist (listed_since), else `failing` while an
authentication record fails (failing_since: the grace period runs, then its mailboxes
pause), else `warning` when any check's last verdict is warn or error, else `ok`.
"""

from __future__ import annotations

from django.db.models import BooleanField, Case, Expression, Func, IntegerField, Q, Value, When

from warmup.models import Verdict
from warmup.reputation.results import ADDRESS_CHECKS, DOMAIN_CHECKS

LISTED, FAILING, WARNING, OK = "listed", "failing", "warning", "ok"
# Worst first: the order lists and the admin show them in by default.
STATUSES = (LISTED, FAILING, WARNING, OK)


# Every check a target may hold (a domain's, then an address's that a domain lacks).
CHECKS = (*DOMAIN_CHECKS, *(c for c in ADDRESS_CHECKS if c not in DOMAIN_CHECKS))


_WARNED = ", ".join(f"'{v}'" for v in (Verdict.WARN.value, Verdict.ERROR.value))


class _AnyCheckWarned(Func):
    """Whether any check's last verdict in `checks` is warn or error: never NULL, so that
    its negation ("not warned") holds for a target with a check missing. A key lookup per
    known check: some 2.5 times quicker than a JSON path over every key, and the status is
    computed for every row a list sorts (50,000 domains). Names and verdicts are this
    module's constants, not input."""

    template = (
        "coalesce("
        + " OR ".join(f"%(expressions)s -> '{c}' ->> 'verdict' IN ({_WARNED})" for c in CHECKS)
        + ", false)"
    )
    output_field = BooleanField()


_WHEN = {
    LISTED: Q(listed_since__isnull=False),
    FAILING: Q(failing_since__isnull=False),
    WARNING: Q(_AnyCheckWarned("checks")),
}


def status_expression() -> Expression:
    """The status of a ReputationTarget row, as a SQL expression."""
    return Case(
        *(When(condition, then=Value(status)) for status, condition in _WHEN.items()),
        default=Value(OK),
    )


def rank_expression() -> Expression:
    """0 for listed … 3 for ok: the default order, worst first."""
    return Case(
        *(When(condition, then=Value(STATUSES.index(s))) for s, condition in _WHEN.items()),
        default=Value(STATUSES.index(OK)),
        output_field=IntegerField(),
    )


def having_status(status: str) -> Q:
    """The rows whose status is `status` (one of STATUSES)."""
    earlier = STATUSES[: STATUSES.index(status)]
    matches = _WHEN.get(status, Q())
    for worse in earlier:
        matches &= ~_WHEN[worse]
    return matches
