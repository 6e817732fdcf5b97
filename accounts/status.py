"""One normalised set of mailbox statuses, and the mapping from legacy spellings.

The seed stored free text (`ACTIVE`, ` Active`, `enabled`, `PAUSED`, `failed`, `Error`,
empty…). Anything that is not clearly one of ours becomes `paused` with a reason, so a
mailbox never starts sending because of a value nobody understood.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import Count

ACTIVE = "active"
PAUSED = "paused"
ERROR = "error"
DISABLED = "disabled"
STATUSES = (ACTIVE, PAUSED, ERROR, DISABLED)
CHOICES = [(s, s.capitalize()) for s in STATUSES]

_SYNONYMS = {
    ACTIVE: {"active", "enabled", "enable", "running", "ok", "on", "warming", "warmup"},
    PAUSED: {"paused", "pause", "suspended", "stopped", "on hold", "hold"},
    ERROR: {"error", "errored", "failed", "failure", "fail", "bounced", "invalid"},
    DISABLED: {"disabled", "disable", "inactive", "off", "deleted", "archived"},
}
_LOOKUP = {spelling: status for status, words in _SYNONYMS.items() for spelling in words}


def normalize(raw: str | None) -> tuple[str, str]:
    """(status, reason) for a legacy value; reason is "" when the mapping is obvious."""
    cleaned = " ".join((raw or "").replace("_", " ").replace("-", " ").split()).lower()
    if raw is None or not cleaned:
        return PAUSED, "legacy status was empty; paused until an operator resumes it"
    status = _LOOKUP.get(cleaned)
    if status is None:
        return PAUSED, f"legacy status {raw.strip()[:40]!r} was not recognised; paused"
    return status, ""


@dataclass(frozen=True)
class StatusChange:
    before: str
    after: str
    count: int


def normalize_mailbox_statuses(mailbox_model: Any, *, dry_run: bool = False) -> list[StatusChange]:
    """Rewrite every non-normalised status of `mailbox_model`'s table, one UPDATE per
    distinct legacy value. Takes the model class so the data migration can pass its
    historical model. Returns what changed (or would change)."""
    counts = Counter(
        {
            row["status"]: row["n"]
            for row in mailbox_model.objects.values("status").annotate(n=Count("id"))
        }
    )
    changes = []
    for before, count in sorted(counts.items(), key=lambda item: str(item[0])):
        if before in STATUSES:
            continue
        after, reason = normalize(before)
        changes.append(StatusChange(before=before, after=after, count=count))
        if not dry_run:
            update: dict[str, Any] = {"status": after}
            if reason:
                update["status_reason"] = reason
            mailbox_model.objects.filter(status=before).update(**update)
    return changes
