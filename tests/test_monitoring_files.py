"""docker/prometheus.yml, alerts.yml and the Grafana dashboard: valid for promtool,
every metric they name is one our exposition has, and a real Prometheus (Debian's
package) scrapes a live server with that configuration."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from metrics.exposition import exposition
from warmup_project.config import WarmupConfig
from warmup_project.db import db_now

DOCKER = Path(__file__).resolve().parent.parent / "docker"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(not PROMTOOL, reason="needs promtool (.ci/run installs it)")
METRIC = re.compile(r"\bwarmup_[a-z0-9_]+\b")


def promtool(*args: str, cwd: Path = DOCKER) -> str:
    assert PROMTOOL
    done = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def dashboard_exprs() -> list[str]:
    board = json.loads((DOCKER / "grafana" / "warmup-dashboard.json").read_text())
    # A row panel has no targets.
    return [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((DOCKER / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.mark.django_db
def test_every_metric_named_is_exported() -> None:
    text = exposition(db_now, WarmupConfig(enable_detailed_metrics=True)).decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {sample.name for sample in family.samples}  # _total, _bucket, _sum…
    used = {name for expr in dashboard_exprs() + alert_exprs() for name in METRIC.findall(expr)}
    assert used - names == set()
    assert {"warmup_system_health", "warmup_sends_total", "warmup_mailbox_quota_fill"} <= used
    logins = {
        "warmup_mailboxes_by_auth_method",
        "warmup_token_refreshes_total",
        "warmup_token_refresh_failures_total",
        "warmup_mailboxes_reconnect_needed",
    }
    assert logins <= {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    assert {"warmup_mailboxes_reconnect_needed", "warmup_token_refresh_failures_total"} <= {
        name for expr in alert_exprs() for name in METRIC.findall(expr)
    }
    reputation = {
        "warmup_domains",
        "warmup_domains_failing",
        "warmup_listed_servers",
        "warmup_listed_domains",
        "warmup_mailboxes_dns_paused",
        "warmup_mailboxes_ramp_held",
        "warmup_mailboxes_dmarc_flagged",
    }
    assert reputation <= {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    assert {
        "warmup_domains_failing",
        "warmup_listed_servers",
        "warmup_listed_domains",
        "warmup_mailboxes_dns_paused",
    } <= {name for expr in alert_exprs() for name in METRIC.findall(expr)}
    pool = {"warmup_pool_partners_median", "warmup_pool_partners_p5"}
    pool |= {"warmup_pool_same_owner_share", "warmup_pool_same_owner_share_p95"}
    assert pool <= {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}


def test_the_dashboard_has_the_panels_operators_need() -> None:
    board = json.loads((DOCKER / "grafana" / "warmup-dashboard.json").read_text())
    titles = " | ".join(p["title"] for p in board["panels"]).lower()
    for wanted in ("system health", "send rate per hour", "quota completion", "top mailboxes"):
        assert wanted in titles
    assert "failure rate" in titles and "worker distribution" in titles
    for wanted in ("by auth method", "token refreshes", "reconnect"):
        assert wanted in titles
    for wanted in ("reputation", "by check and verdict", "listed", "paused for dns"):
        assert wanted in titles
    assert "pool: distinct partners" in titles and "same-owner" in titles
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


@needs_promtool
def test_alert_rules_are_valid_and_behave() -> None:
    assert "SUCCESS: 9 rules found" in promtool("check", "rules", "alerts.yml")
    promtool("test", "rules", "alerts.test.yml")


@needs_promtool
def test_dashboard_expressions_parse(tmp_path: Path) -> None:
    # promtool has no expression checker; recording rules with these expressions are.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expr{n}", "expr": expr}
                    for n, expr in enumerate(dashboard_exprs())
                ],
            }
        ]
    }
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    promtool("check", "rules", "dashboard.yml", cwd=tmp_path)


@needs_promtool
def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    # The token file is mounted at run time; here a stand-in takes its place.
    token = tmp_path / "token"
    token.write_text("x" * 32)
    config = (DOCKER / "prometheus.yml").read_text()
    assert "/run/secrets/warmup_metrics_token" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/run/secrets/warmup_metrics_token", str(token))
    )
    shutil.copy(DOCKER / "alerts.yml", tmp_path / "alerts.yml")
    promtool("check", "config", "prometheus.yml", cwd=tmp_path)


@pytest.mark.skipif(not shutil.which("prometheus"), reason="needs prometheus (.ci/run installs it)")
def test_a_real_prometheus_scrapes_the_app_with_our_config(
    live_server: Any, transactional_db: Any, settings: Any, tmp_path: Path
) -> None:
    """docker/prometheus.yml, pointed at a live test server: Prometheus scrapes the
    metrics with the bearer token and loads the alert rules."""
    token = "scrape-token-for-the-test-0123456789"
    settings.WARMUP = dataclasses.replace(settings.WARMUP, metrics_token=token)
    (tmp_path / "token").write_text(token)
    host = live_server.url.removeprefix("http://")
    config = (
        (DOCKER / "prometheus.yml")
        .read_text()
        .replace("/run/secrets/warmup_metrics_token", str(tmp_path / "token"))
        .replace('"web:8000"', f'"{host}"')
        .replace("scrape_interval: 30s", "scrape_interval: 1s")
        .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
        .replace("evaluation_interval: 30s", "evaluation_interval: 1s")
    )
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(DOCKER / "alerts.yml", tmp_path / "alerts.yml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        targets: dict[str, str] = {}
        while time.monotonic() < deadline:
            try:
                active = query(f"{api}/targets")["activeTargets"]
                targets = {t["labels"]["job"]: t["health"] for t in active}
                if targets and all(health == "up" for health in targets.values()):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert targets == {"warmup": "up", "warmup-django": "up"}
        result = query(f"{api}/query?query=warmup_system_health")["result"]
        assert [r["metric"]["job"] for r in result] == ["warmup"]
        assert float(result[0]["value"][1]) == 0  # no cycle has run: critical
        groups = query(f"{api}/rules")["groups"]
        assert {rule["name"] for g in groups for rule in g["rules"]} == {
            "WarmupSystemUnhealthy",
            "WarmupMailboxesBehindPace",
            "WarmupHighFailureRate",
            "WarmupMailboxesNeedReconnect",
            "WarmupDomainAuthenticationFailing",
            "WarmupServersListed",
            "WarmupDomainsListed",
            "WarmupMailboxesPausedForDNS",
            "WarmupTokenRefreshFailures",
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def query(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]
