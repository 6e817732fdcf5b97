"""Each health rule at its thresholds, and which rule decides the level."""

from __future__ import annotations

import dataclasses

import pytest

from metrics.health import CRITICAL, DEGRADED, HEALTHY, Facts, evaluate

GOOD = Facts(
    engine_running=True,
    last_cycle_age_s=30,
    interval_s=900,
    workers_registered=3,
    workers_alive=3,
    shards_expected=3,
    shards_alive=3,
    attempts_last_hour=1000,
    failed_last_hour=50,  # exactly 5 %: still healthy
    quotas_today=1000,
    on_pace_today=950,  # exactly 95 %: still healthy
    capacity_shortfall=0,
)


def test_all_rules_pass() -> None:
    health = evaluate(GOOD)
    assert (health.level, health.rule, health.name) == (HEALTHY, "all_rules_pass", "healthy")
    assert [c.rule for c in health.checks] == [
        "engine",
        "cycle",
        "workers",
        "failure_rate",
        "pace",
        "capacity",
    ]
    assert all(c.level == HEALTHY for c in health.checks)


@pytest.mark.parametrize(
    ("changes", "level", "rule"),
    [
        ({"engine_running": False}, CRITICAL, "engine"),
        ({"last_cycle_age_s": None}, CRITICAL, "cycle"),
        ({"last_cycle_age_s": 900 + 120}, HEALTHY, "all_rules_pass"),
        ({"last_cycle_age_s": 900 + 121}, DEGRADED, "cycle"),
        ({"last_cycle_age_s": 2700}, DEGRADED, "cycle"),
        ({"last_cycle_age_s": 2701}, CRITICAL, "cycle"),
        ({"workers_alive": 2, "shards_alive": 2}, DEGRADED, "workers"),
        ({"shards_alive": 2}, DEGRADED, "workers"),
        # django-q2 dispatch tasks leave no worker registered between runs: not a fault.
        (
            {"workers_registered": 0, "workers_alive": 0, "shards_expected": 0, "shards_alive": 0},
            HEALTHY,
            "all_rules_pass",
        ),
        ({"failed_last_hour": 51}, DEGRADED, "failure_rate"),
        ({"failed_last_hour": 250}, DEGRADED, "failure_rate"),
        ({"failed_last_hour": 251}, CRITICAL, "failure_rate"),
        ({"attempts_last_hour": 19, "failed_last_hour": 19}, HEALTHY, "all_rules_pass"),
        ({"on_pace_today": 949}, DEGRADED, "pace"),
        ({"on_pace_today": 500}, DEGRADED, "pace"),
        ({"on_pace_today": 499}, CRITICAL, "pace"),
        ({"quotas_today": 0, "on_pace_today": 0}, HEALTHY, "all_rules_pass"),
        ({"capacity_shortfall": 1}, DEGRADED, "capacity"),
    ],
)
def test_each_rule(changes: dict[str, object], level: int, rule: str) -> None:
    health = evaluate(dataclasses.replace(GOOD, **changes))
    assert (health.level, health.rule) == (level, rule), health.detail


def test_the_worst_level_wins_and_the_first_rule_of_it_is_named() -> None:
    facts = dataclasses.replace(GOOD, capacity_shortfall=10, on_pace_today=100, failed_last_hour=60)
    health = evaluate(facts)
    # failure_rate is degraded, pace critical, capacity degraded: pace decides.
    assert (health.level, health.rule) == (CRITICAL, "pace")
    assert health.detail == "100 of 1,000 mailboxes on pace (10.0%)"
    assert {c.rule: c.level for c in health.checks} == {
        "engine": HEALTHY,
        "cycle": HEALTHY,
        "workers": HEALTHY,
        "failure_rate": DEGRADED,
        "pace": CRITICAL,
        "capacity": DEGRADED,
    }
    degraded = evaluate(dataclasses.replace(GOOD, capacity_shortfall=10, failed_last_hour=60))
    assert (degraded.level, degraded.rule) == (DEGRADED, "failure_rate")
