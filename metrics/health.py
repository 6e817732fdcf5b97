"""System health, 2 healthy, 1 degraded, 0 critical: the worst verdict of six rules,
and the first rule (in this order) that gave it. Pure: the facts come from
metrics.reading, so each rule is tested on its own.

- engine: critical when stopped through the control API.
- cycle: critical when no cycle has run, or the last one is more than 3 intervals old;
  degraded when it is more than 1 interval + 2 minutes old.
- workers: degraded when a registered worker is silent (not yet reaped) or a shard has
  no live worker (other workers take its slots a minute late).
- failure_rate: of the last hour's attempts (judged from 20 up), critical above 25 %,
  degraded above 5 %.
- pace: of today's quotas, critical when fewer than 50 % are on pace, degraded below 95 %.
- capacity: degraded when today's quotas exceed what the limits and windows allow.

The interval is WARMUP_CRON_INTERVAL_MINUTES: planning runs that often, so even a
deployment that only dispatches through django-q2 cycles at least that often.
"""

from __future__ import annotations

from dataclasses import dataclass

from metrics.models import Health

CRITICAL, DEGRADED, HEALTHY = Health.CRITICAL.value, Health.DEGRADED.value, Health.HEALTHY.value
LEVEL_NAMES = {level.value: level.name.lower() for level in Health}
LEVEL_CHOICES = [(name, name) for name in LEVEL_NAMES.values()]
RULES = ("engine", "cycle", "workers", "failure_rate", "pace", "capacity")

CYCLE_GRACE_S = 120
CYCLE_CRITICAL_INTERVALS = 3
FAILURE_RATE_DEGRADED = 0.05
FAILURE_RATE_CRITICAL = 0.25
FAILURE_RATE_MIN_ATTEMPTS = 20
ON_PACE_DEGRADED = 0.95
ON_PACE_CRITICAL = 0.50


@dataclass(frozen=True)
class Facts:
    engine_running: bool
    last_cycle_age_s: float | None  # None: no cycle has ever run
    interval_s: int
    workers_registered: int
    workers_alive: int
    shards_expected: int  # the largest shard count a live worker declares
    shards_alive: int  # distinct shards with a live worker
    attempts_last_hour: int
    failed_last_hour: int
    quotas_today: int  # mailboxes with a quota on their local today
    on_pace_today: int  # of those, not behind their pace
    capacity_shortfall: int  # sends a day the limits and windows cannot fit


@dataclass(frozen=True)
class Check:
    rule: str
    level: int
    detail: str

    @property
    def name(self) -> str:
        return LEVEL_NAMES[self.level]


@dataclass(frozen=True)
class Verdict:
    level: int
    rule: str  # the rule that decided the level; "all_rules_pass" when healthy
    detail: str
    checks: tuple[Check, ...]

    @property
    def name(self) -> str:
        return LEVEL_NAMES[self.level]


def _engine(f: Facts) -> Check:
    if not f.engine_running:
        return Check("engine", CRITICAL, "the engine is stopped (control API)")
    return Check("engine", HEALTHY, "running")


def _cycle(f: Facts) -> Check:
    if f.last_cycle_age_s is None:
        return Check("cycle", CRITICAL, "no engine cycle has run yet")
    age = round(f.last_cycle_age_s)
    if f.last_cycle_age_s > CYCLE_CRITICAL_INTERVALS * f.interval_s:
        return Check("cycle", CRITICAL, f"last cycle {age} s ago (interval {f.interval_s} s)")
    if f.last_cycle_age_s > f.interval_s + CYCLE_GRACE_S:
        return Check("cycle", DEGRADED, f"last cycle {age} s ago (interval {f.interval_s} s)")
    return Check("cycle", HEALTHY, f"last cycle {age} s ago")


def _workers(f: Facts) -> Check:
    silent = f.workers_registered - f.workers_alive
    if silent > 0:
        return Check("workers", DEGRADED, f"{silent:,} of {f.workers_registered:,} workers silent")
    if f.shards_alive < f.shards_expected:
        return Check(
            "workers",
            DEGRADED,
            f"{f.shards_expected - f.shards_alive} of {f.shards_expected} shards have no "
            "live worker (others take their slots a minute late)",
        )
    return Check("workers", HEALTHY, f"{f.workers_alive} alive")


def failure_rate(f: Facts) -> float:
    return f.failed_last_hour / f.attempts_last_hour if f.attempts_last_hour else 0.0


def _failure_rate(f: Facts) -> Check:
    rate = failure_rate(f)
    detail = f"{f.failed_last_hour:,} of {f.attempts_last_hour:,} attempts failed in the last hour"
    if f.attempts_last_hour < FAILURE_RATE_MIN_ATTEMPTS:
        return Check("failure_rate", HEALTHY, detail + " (too few to judge)")
    if rate > FAILURE_RATE_CRITICAL:
        return Check("failure_rate", CRITICAL, detail)
    if rate > FAILURE_RATE_DEGRADED:
        return Check("failure_rate", DEGRADED, detail)
    return Check("failure_rate", HEALTHY, detail)


def on_pace_share(f: Facts) -> float:
    return f.on_pace_today / f.quotas_today if f.quotas_today else 1.0


def _pace(f: Facts) -> Check:
    share = on_pace_share(f)
    detail = f"{f.on_pace_today:,} of {f.quotas_today:,} mailboxes on pace ({share:.1%})"
    if share < ON_PACE_CRITICAL:
        return Check("pace", CRITICAL, detail)
    if share < ON_PACE_DEGRADED:
        return Check("pace", DEGRADED, detail)
    return Check("pace", HEALTHY, detail)


def _capacity(f: Facts) -> Check:
    if f.capacity_shortfall > 0:
        return Check(
            "capacity",
            DEGRADED,
            f"the limits fit {f.capacity_shortfall:,} sends a day fewer than today's quotas "
            "(manage.py warmup_capacity)",
        )
    return Check("capacity", HEALTHY, "the limits fit today's quotas")


def evaluate(facts: Facts) -> Verdict:
    checks = tuple(
        rule(facts) for rule in (_engine, _cycle, _workers, _failure_rate, _pace, _capacity)
    )
    worst = min(check.level for check in checks)
    if worst == HEALTHY:
        return Verdict(HEALTHY, "all_rules_pass", "every rule passes", checks)
    decider = next(check for check in checks if check.level == worst)
    return Verdict(worst, decider.rule, decider.detail, checks)
