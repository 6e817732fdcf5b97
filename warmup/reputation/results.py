"""What a check finds, as the checks return it and `check_domains --json` prints it (a
contract operators script against): one object per target,
`{"domain": D, "checks": {NAME: {"verdict": V, "detail": …}}}` or
`{"address": IP, "checks": {…}}`, V one of pass · warn · fail · error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from warmup.models import ReputationTarget, Verdict

# The checks of each kind of target, in the order they are shown.
DOMAIN_CHECKS = ("mx", "spf", "dkim", "dmarc", "dnsbl")
ADDRESS_CHECKS = ("ptr", "dnsbl")
# Of a domain's checks, those whose failure pauses its mailboxes after the grace period.
AUTHENTICATION_CHECKS = ("spf", "dkim", "dmarc")


@dataclass(frozen=True)
class CheckResult:
    verdict: str  # a Verdict value
    detail: str = ""
    # For a DNSBL check: the lists that list the target (a listing holds the ramp).
    listed_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.verdict not in Verdict.values:
            raise ValueError(f"{self.verdict!r} is not a verdict ({', '.join(Verdict.values)})")

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"verdict": self.verdict, "detail": self.detail}
        if self.listed_on:
            shown["listed_on"] = list(self.listed_on)
        return shown


@dataclass(frozen=True)
class TargetResult:
    kind: str  # ReputationTarget.DOMAIN or ReputationTarget.ADDRESS
    name: str
    checks: dict[str, CheckResult] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        key = "domain" if self.kind == ReputationTarget.DOMAIN else "address"
        return {key: self.name, "checks": {n: c.as_json() for n, c in self.checks.items()}}
