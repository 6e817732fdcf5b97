"""Every configuration mistake stops start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core import checks

from warmup_project import config
from warmup_project.checks import config_messages

GOOD_KEY = Fernet.generate_key().decode()
ROOT = Path(__file__).resolve().parent.parent


def problems_of(**env: str) -> dict[str, config.ConfigProblem]:
    """The errors of a development configuration (DEBUG on, as the tests run) plus `env`."""
    return {p.id: p for p in config.load({"DEBUG": "true", **env}).problems if p.is_error}


def test_defaults_are_the_seeds():
    warmup = config.load({}).warmup
    assert (warmup.batch_size, warmup.max_concurrent, warmup.batch_delay_ms) == (100, 20, 5000)
    assert (warmup.stagger_min_ms, warmup.stagger_max_ms) == (1000, 5000)
    assert (warmup.global_hourly_limit, warmup.global_minute_limit) == (10_000, 200)
    assert warmup.user_hourly_limit == 500
    assert warmup.cron_interval_minutes == 15
    assert warmup.min_daily_quota == 30
    assert warmup.metrics_retention_days == 30
    assert (warmup.worker_id, warmup.worker_count, warmup.distributed_mode) == (1, 1, False)


def test_good_values_are_read():
    loaded = config.load(
        {
            "DEBUG": "true",
            "WARMUP_BATCH_SIZE": " 250 ",
            "WARMUP_ENABLE_DETAILED_METRICS": "yes",
            "WARMUP_WORKER_ID": "3",
            "WARMUP_WORKER_COUNT": "3",
        }
    )
    assert [p for p in loaded.problems if p.is_error] == []
    assert loaded.warmup.batch_size == 250
    assert loaded.warmup.enable_detailed_metrics is True
    assert loaded.warmup.worker_id == 3


NUMBERS = (*config.INT_VARS, config.NUM_PROXIES)


@pytest.mark.parametrize("var", [v.name for v in NUMBERS])
def test_every_number_rejects_text(var):
    problem = problems_of(**{var: "abc"})[config.E_NOT_A_NUMBER]
    assert problem.variable == var
    assert "'abc' is not a whole number" in str(problem)


@pytest.mark.parametrize("var", NUMBERS)
def test_every_number_rejects_out_of_range(var):
    problem = problems_of(**{var.name: str(var.minimum - 1)})[config.E_OUT_OF_RANGE]
    assert problem.variable == var.name
    assert problems_of(**{var.name: str(var.maximum + 1)})[config.E_OUT_OF_RANGE]


def test_negative_minute_limit():
    problem = problems_of(WARMUP_GLOBAL_MINUTE_LIMIT="-5")[config.E_OUT_OF_RANGE]
    assert str(problem).startswith("WARMUP_GLOBAL_MINUTE_LIMIT: -5 is out of range")


@pytest.mark.parametrize("var", [v.name for v in config.BOOL_VARS] + ["DEBUG"])
def test_every_boolean_rejects_nonsense(var):
    assert problems_of(**{var: "maybe"})[config.E_NOT_A_BOOLEAN].variable == var


def test_stagger_min_above_max():
    problem = problems_of(WARMUP_STAGGER_MIN_MS="6000", WARMUP_STAGGER_MAX_MS="5000")
    assert problem[config.E_STAGGER_ORDER].variable == "WARMUP_STAGGER_MIN_MS"


def test_worker_id_above_count():
    problem = problems_of(WARMUP_WORKER_ID="4", WARMUP_WORKER_COUNT="3")
    assert problem[config.E_WORKER_ID].variable == "WARMUP_WORKER_ID"


def test_production_needs_secret_key_and_encryption_keys():
    problems = problems_of(DEBUG="false")
    assert problems[config.E_SECRET_KEY].variable == "SECRET_KEY"
    assert problems[config.E_NO_SECRET_KEYS].variable == "WARMUP_SECRET_KEYS"
    assert problems_of(DEBUG="false", **PRODUCTION) == {}


def test_bad_encryption_key_is_named_but_not_echoed():
    problem = problems_of(WARMUP_SECRET_KEYS=f"{GOOD_KEY},not-a-real-key-but-secret")[
        config.E_BAD_SECRET_KEY
    ]
    assert "key number 2" in str(problem)
    assert "not-a-real-key-but-secret" not in str(problem)


def test_debug_is_off_unless_switched_on_and_then_no_development_key_is_used():
    loaded = config.load({})
    assert loaded.debug is False
    errors = {p.id for p in loaded.problems if p.is_error}
    assert {config.E_SECRET_KEY, config.E_NO_SECRET_KEYS} <= errors
    # Nothing is signed or encrypted with a published key, even by code that never runs
    # the system checks.
    assert loaded.secret_key != config.DEV_SECRET_KEY and len(loaded.secret_key) >= 50
    assert loaded.warmup.secret_keys == () and not loaded.warmup.secret_keys_are_dev
    assert config.load({}).secret_key != loaded.secret_key
    assert loaded.allowed_hosts == ()
    # Naming the development key is no way round it.
    named = problems_of(DEBUG="false", **{**PRODUCTION, "SECRET_KEY": config.DEV_SECRET_KEY})
    assert list(named) == [config.E_SECRET_KEY]


def test_debug_derives_a_development_key_and_warns():
    loaded = config.load({"DEBUG": "true"})
    assert loaded.warmup.secret_keys_are_dev
    Fernet(loaded.warmup.secret_keys[0])  # a usable key
    assert [p.id for p in loaded.problems] == [config.W_DEV_SECRET_KEYS]


@pytest.mark.parametrize("url", ["mysql://u@h/db", "oracle://u@h/db", "not a url"])
def test_postgresql_is_the_only_database(url):
    problem = problems_of(DATABASE_URL=url)[config.E_DATABASE_URL]
    assert problem.variable == "DATABASE_URL"
    assert "PostgreSQL is the only database" in problem.message
    assert problems_of(WARMUP_DISTRIBUTED_MODE="true", DATABASE_URL="postgres://u@h/w") == {}


def test_database_url_is_required_with_debug_off_and_means_make_runs_server_with_it_on():
    production = config.load({"SECRET_KEY": "x" * 50, "WARMUP_SECRET_KEYS": GOOD_KEY})
    assert [(p.id, p.variable) for p in production.problems] == [
        (config.E_DATABASE_URL, "DATABASE_URL")
    ]
    development = config.load({"DEBUG": "true"}).database
    assert (development["HOST"], development["NAME"]) == (str(config.EMBEDDED_DATA), "warmup")


def test_a_unix_socket_folder_is_the_host():
    url = config.embedded_database_url(Path("/srv/warmup data/pg"))
    database = config.load({"DEBUG": "true", "DATABASE_URL": url}).database
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "/srv/warmup data/pg",
        "",
        "warmup",
    )
    assert database["OPTIONS"] == {"application_name": "warmup", "options": "-c jit=off"}


def test_the_url_s_own_server_options_follow_ours_so_they_win():
    url = "postgres://u@h/w?options=-c%20jit%3Don%20-c%20work_mem%3D64MB"
    database = config.load({"DEBUG": "true", "DATABASE_URL": url}).database
    assert database["OPTIONS"]["options"] == "-c jit=off -c jit=on -c work_mem=64MB"


@pytest.mark.django_db
def test_connections_start_with_jit_off():
    """The claim's plan passes jit_above_cost; compiling it took 35 ms of 37."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


PRODUCTION = {
    "SECRET_KEY": "x" * 50,
    "WARMUP_SECRET_KEYS": GOOD_KEY,
    "DATABASE_URL": "postgres://u@h/w",
}


def test_https_settings_are_read_with_debug_off():
    assert (config.load(PRODUCTION).ssl_redirect, config.load(PRODUCTION).hsts_seconds) == (
        True,
        31_536_000,
    )
    plain = config.load({**PRODUCTION, "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "9"})
    assert (plain.ssl_redirect, plain.hsts_seconds, plain.problems) == (False, 0, ())
    origins = config.load({**PRODUCTION, "CSRF_TRUSTED_ORIGINS": " https://a.example, ,https://b"})
    assert origins.csrf_trusted_origins == ("https://a.example", "https://b")


@pytest.mark.parametrize(
    ("name", "value", "problem_id"),
    [
        ("SECURE_HSTS_SECONDS", "abc", config.E_NOT_A_NUMBER),
        ("SECURE_HSTS_SECONDS", "-1", config.E_OUT_OF_RANGE),
        ("SECURE_SSL_REDIRECT", "perhaps", config.E_NOT_A_BOOLEAN),
    ],
)
def test_bad_https_settings_are_configuration_errors(name, value, problem_id):
    problems = {p.id: p for p in config.load({**PRODUCTION, name: value}).problems}
    assert list(problems) == [problem_id] and problems[problem_id].variable == name


def test_secrets_stay_out_of_repr():
    loaded = config.load(
        {
            "SECRET_KEY": "s3cr3t-value-xyz",
            "WARMUP_SECRET_KEYS": GOOD_KEY,
            "DATABASE_URL": "postgres://u:dbpass-xyz@h/db",
        }
    )
    text = repr(loaded)
    for secret in ("s3cr3t-value-xyz", GOOD_KEY, "dbpass-xyz"):
        assert secret not in text


def test_problems_become_system_check_errors():
    loaded = config.load({"DEBUG": "true", "WARMUP_BATCH_SIZE": "abc"})
    messages = config_messages(loaded.problems, {"timeout": 60, "retry": 90})
    errors = [m for m in messages if m.level == checks.ERROR]
    assert [(m.id, m.msg.split(":")[0]) for m in errors] == [("warmup.E001", "WARMUP_BATCH_SIZE")]


def test_q_cluster_timeout_must_stay_below_retry():
    messages = config_messages((), {"timeout": 300, "retry": 300})
    assert [m.id for m in messages] == ["warmup.E011"]


def fresh_environment(**env: str) -> dict[str, str]:
    """os.environ without the Warmup and Django settings the test run set (DEBUG, the
    test settings module): what a newly installed server has, plus `env`."""
    unset = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_") and k not in unset}
    return {**clean, **env}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = fresh_environment(**env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_py_refuses_to_start_with_a_bad_value():
    result = run_manage("check", DEBUG="true", WARMUP_BATCH_SIZE="abc")
    assert result.returncode != 0
    assert "warmup.E001" in result.stderr
    assert "WARMUP_BATCH_SIZE" in result.stderr


def test_wsgi_refuses_to_start_with_a_bad_value():
    result = subprocess.run(
        [sys.executable, "-c", "import warmup_project.wsgi"],
        cwd=ROOT,
        env={**os.environ, "WARMUP_STAGGER_MIN_MS": "9000", "WARMUP_STAGGER_MAX_MS": "10"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "warmup.E003" in result.stderr


def test_a_bad_https_setting_stops_manage_py_with_a_system_check_error():
    result = run_manage("check", **{**PRODUCTION, "SECURE_HSTS_SECONDS": "abc"})
    assert result.returncode != 0
    assert "warmup.E001" in result.stderr and "SECURE_HSTS_SECONDS: 'abc'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unset_debug_refuses_to_start_without_real_keys():
    """DEBUG unset is production: manage.py and the WSGI entry point (gunicorn) stop at
    start-up rather than sign JWTs with the published development key."""
    result = run_manage("check")
    assert result.returncode != 0
    assert "warmup.E008" in result.stderr and "warmup.E005" in result.stderr
    wsgi = subprocess.run(
        [sys.executable, "-c", "import warmup_project.wsgi"],
        cwd=ROOT,
        env=fresh_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wsgi.returncode != 0 and "warmup.E008" in wsgi.stderr


def test_production_settings_pass_check_deploy():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="k" * 30 + "Random-Enough-Production-Key-4f9a2",
        ALLOWED_HOSTS="warmup.example.com",
        WARMUP_SECRET_KEYS=GOOD_KEY,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_env_example_documents_every_variable():
    documented = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in (
        [v.name for v in config.INT_VARS]
        + [v.name for v in config.BOOL_VARS]
        + [
            "DATABASE_URL",
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            "WARMUP_SECRET_KEYS",
            "WARMUP_METRICS_TOKEN",
            "NUM_PROXIES",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "CSRF_TRUSTED_ORIGINS",
            "WARMUP_GOOGLE_CLIENT_ID",
            "WARMUP_GOOGLE_CLIENT_SECRET",
            "WARMUP_MICROSOFT_CLIENT_ID",
            "WARMUP_MICROSOFT_CLIENT_SECRET",
            "WARMUP_MICROSOFT_TENANT",
            "WARMUP_OAUTH_RETURN_URL",
            "WARMUP_GOOGLE_DISCOVERY_URL",
            "WARMUP_MICROSOFT_DISCOVERY_URL",
            "WARMUP_DNS_RESOLVERS",
            "WARMUP_DNSBL_ADDRESS_ZONES",
            "WARMUP_DNSBL_DOMAIN_ZONES",
            "WARMUP_SPAMHAUS_DQS_KEY",
            "WARMUP_TAG_MODE",
            "WARMUP_CONTENT_DIR",
            "WARMUP_THREAD_TURNS",
        ]
    ):
        assert f"{name}=" in documented, f"{name} missing from .env.example"
        assert f"`{name}`" in readme, f"{name} missing from README's configuration table"


def test_metrics_token_is_optional_but_long_when_set():
    assert config.load({}).warmup.metrics_token == ""
    short = "s3cret-but-short"
    problem = problems_of(WARMUP_METRICS_TOKEN=short)[config.E_METRICS_TOKEN]
    assert problem.variable == "WARMUP_METRICS_TOKEN"
    assert short not in problem.message  # a secret is never echoed
    good = "x" * config.METRICS_TOKEN_MIN
    loaded = config.load({"WARMUP_METRICS_TOKEN": good})
    assert loaded.warmup.metrics_token == good
    assert good not in repr(loaded)


def test_a_bad_hsts_value_is_refused_with_debug_on_too() -> None:
    # Not used with DEBUG on, but a typo shows in development before it reaches production.
    problem = problems_of(SECURE_HSTS_SECONDS="abc")[config.E_NOT_A_NUMBER]
    assert problem.variable == "SECURE_HSTS_SECONDS"


def test_oauth_settings_are_read_and_checked():
    loaded = config.load(
        {
            "DEBUG": "true",
            "WARMUP_GOOGLE_CLIENT_ID": "g-id",
            "WARMUP_GOOGLE_CLIENT_SECRET": "g-secret-value",
            "WARMUP_MICROSOFT_TENANT": "contoso.onmicrosoft.com",
            "WARMUP_OAUTH_RETURN_URL": "https://platform.example.com/connected",
        }
    )
    oauth = loaded.warmup.oauth
    assert oauth.client("google") == ("g-id", "g-secret-value")
    assert oauth.discovery_url("microsoft") == config.MICROSOFT_DISCOVERY_URL
    assert "g-secret-value" not in repr(loaded)
    assert not [p for p in loaded.problems if p.is_error]

    problems = problems_of(WARMUP_MICROSOFT_CLIENT_ID="m-id", WARMUP_OAUTH_RETURN_URL="ftp://x")
    assert problems[config.E_OAUTH_CLIENT].variable == "WARMUP_MICROSOFT_CLIENT_SECRET"
    assert problems[config.E_OAUTH_URL].variable == "WARMUP_OAUTH_RETURN_URL"
    tenant = problems_of(WARMUP_MICROSOFT_TENANT="a tenant/../x")[config.E_OAUTH_URL]
    assert tenant.variable == "WARMUP_MICROSOFT_TENANT"
    secret_only = problems_of(WARMUP_GOOGLE_CLIENT_SECRET="s3cret-value")[config.E_OAUTH_CLIENT]
    assert "s3cret-value" not in secret_only.message


def test_dns_settings_of_the_reputation_checks():
    loaded = config.load(
        {
            "WARMUP_DNS_RESOLVERS": "192.0.2.53, 127.0.0.1:5353, [::1]:5300",
            "WARMUP_DNSBL_DOMAIN_ZONES": "",
        }
    ).warmup
    assert loaded.dns_resolvers == (("192.0.2.53", 53), ("127.0.0.1", 5353), ("::1", 5300))
    assert loaded.dnsbl_address_zones == config.DNSBL_ADDRESS_ZONES  # unset: the defaults
    assert loaded.dnsbl_domain_zones == ()  # empty: none asked
    assert (loaded.dns_timeout_s, loaded.dns_concurrency, loaded.dns_grace_hours) == (5, 50, 72)
    assert problems_of(WARMUP_DNS_RESOLVERS="dns.google")[config.E_DNS_RESOLVERS]
    assert problems_of(WARMUP_DNS_RESOLVERS="127.0.0.1:99999")[config.E_DNS_RESOLVERS]
    assert problems_of(WARMUP_DNSBL_ADDRESS_ZONES="zen.spamhaus.org,not a zone")[
        config.E_DNSBL_ZONE
    ]


def test_spamhaus_dqs_key_is_a_secret():
    key = "abcdef0123456789abcdef0123"
    loaded = config.load({"WARMUP_SPAMHAUS_DQS_KEY": key})
    assert loaded.warmup.spamhaus_dqs_key == key
    assert key not in repr(loaded)
    bad = "abc$def"
    problem = problems_of(WARMUP_SPAMHAUS_DQS_KEY=bad)[config.E_DQS_KEY]
    assert bad not in problem.message
