"""Configuration read once from the environment into typed, validated objects.

Nothing here raises on a bad value: every problem becomes a `ConfigProblem` naming the
variable, and `warmup_project.checks` turns them into Django system check messages
(`warmup.E001` …) so that `manage.py` commands, the WSGI/ASGI entry points and the
workers all stop at start-up with the same message.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import environ
from cryptography.fernet import Fernet

from warmup_project import content_files

BASE_DIR = Path(__file__).resolve().parent.parent
# `make run`'s embedded PostgreSQL keeps its data (and its socket) here between runs; with
# DEBUG on and no DATABASE_URL, this is the database.
EMBEDDED_DATA = BASE_DIR / "var" / "pg"

# Used only when DEBUG is on and SECRET_KEY is unset; refused otherwise (warmup.E008).
# DEBUG is off unless switched on: the test settings and `make run` switch it on.
DEV_SECRET_KEY = "warmup-development-secret-key-do-not-use-in-production"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Problem ids, one per kind of mistake; README lists them.
E_NOT_A_NUMBER = "warmup.E001"
E_OUT_OF_RANGE = "warmup.E002"
E_STAGGER_ORDER = "warmup.E003"
E_WORKER_ID = "warmup.E004"
E_NO_SECRET_KEYS = "warmup.E005"
E_BAD_SECRET_KEY = "warmup.E006"
# warmup.E007 is retired: it refused distributed mode on a database that cannot be shared,
# and PostgreSQL is now the only one.
E_SECRET_KEY = "warmup.E008"
E_DATABASE_URL = "warmup.E009"
E_NOT_A_BOOLEAN = "warmup.E010"
E_METRICS_TOKEN = "warmup.E012"
E_OAUTH_URL = "warmup.E013"
E_OAUTH_CLIENT = "warmup.E014"
E_DNS_RESOLVERS = "warmup.E015"
E_DNSBL_ZONE = "warmup.E016"
E_DQS_KEY = "warmup.E017"
E_THREAD_TURNS = "warmup.E018"
E_TAG_MODE = "warmup.E019"
E_CONTENT_DIR = "warmup.E020"
W_DEV_SECRET_KEYS = "warmup.W001"
METRICS_TOKEN_MIN = 24


@dataclass(frozen=True)
class ConfigProblem:
    id: str
    variable: str
    message: str

    @property
    def is_error(self) -> bool:
        return ".E" in self.id

    def __str__(self) -> str:
        return f"{self.variable}: {self.message}"


@dataclass(frozen=True)
class IntVar:
    """An integer WARMUP_* variable: its default, bounds and meaning (README, .env.example)."""

    name: str
    default: int
    minimum: int
    maximum: int
    help: str


@dataclass(frozen=True)
class BoolVar:
    name: str
    default: bool
    help: str


# Every WARMUP_* setting of the seed, with the seed's defaults, except
# WARMUP_ENABLE_DETAILED_METRICS (see its help).
INT_VARS: tuple[IntVar, ...] = (
    IntVar("WARMUP_BATCH_SIZE", 100, 1, 10_000, "Sends handed to the SMTP transport per batch."),
    IntVar("WARMUP_MAX_CONCURRENT", 20, 1, 1_000, "SMTP sends in flight at once per worker."),
    IntVar("WARMUP_BATCH_DELAY_MS", 5000, 0, 600_000, "Pause between two batches (ms)."),
    IntVar(
        "WARMUP_STAGGER_MIN_MS", 1000, 0, 600_000, "Least delay between starting two sends (ms)."
    ),
    IntVar(
        "WARMUP_STAGGER_MAX_MS", 5000, 0, 600_000, "Largest delay between starting two sends (ms)."
    ),
    IntVar(
        "WARMUP_GLOBAL_HOURLY_LIMIT",
        10_000,
        1,
        100_000_000,
        "Sends per clock hour, all workers together.",
    ),
    IntVar(
        "WARMUP_GLOBAL_MINUTE_LIMIT",
        200,
        1,
        10_000_000,
        "Sends per clock minute, all workers together.",
    ),
    IntVar(
        "WARMUP_USER_HOURLY_LIMIT",
        500,
        1,
        10_000_000,
        "Sends per clock hour for one owner's mailboxes together.",
    ),
    IntVar(
        "WARMUP_CRON_INTERVAL_MINUTES", 15, 1, 1_440, "Minutes between planning/dispatch cycles."
    ),
    IntVar(
        "WARMUP_MIN_DAILY_QUOTA", 30, 0, 10_000, "Floor of every enabled mailbox's daily quota."
    ),
    IntVar("WARMUP_METRICS_RETENTION_DAYS", 30, 1, 3_650, "Days of metric snapshots kept."),
    IntVar("WARMUP_WORKER_ID", 1, 1, 10_000, "This worker's shard, 1..WARMUP_WORKER_COUNT."),
    IntVar("WARMUP_WORKER_COUNT", 1, 1, 10_000, "Number of worker shards."),
    IntVar(
        "WARMUP_IMAP_CONCURRENCY",
        10,
        1,
        500,
        "IMAP sessions one engagement pass runs at once.",
    ),
    IntVar(
        "WARMUP_MAIL_RETENTION_DAYS",
        14,
        0,
        # Below the send log's 90 days (warmup.engine.maintenance): mail is recognised by
        # the Message-ID its send row keeps, and a row older than that is gone.
        80,
        "Days warmup mail stays in a mailbox's Warmup folder before engagement deletes it; "
        "0 keeps it.",
    ),
    IntVar(
        "WARMUP_HEARTBEAT_TIMEOUT_S",
        120,
        10,
        86_400,
        "A worker silent this long (s) is dead: its claimed slots are released.",
    ),
    IntVar(
        "WARMUP_SEND_DEADLINE_S",
        90,
        5,
        3_600,
        "Longest a batch's SMTP work may take (s); sends still open then are settled.",
    ),
    IntVar(
        "WARMUP_DNS_TIMEOUT_S",
        5,
        1,
        60,
        "Longest one DNS lookup of the reputation checks may take (s).",
    ),
    IntVar(
        "WARMUP_DNS_CONCURRENCY",
        50,
        1,
        1_000,
        "DNS lookups the reputation checks have in flight at once.",
    ),
    IntVar(
        "WARMUP_DNS_GRACE_HOURS",
        72,
        0,
        8_760,
        "Hours a domain's SPF, DKIM or DMARC may fail before its mailboxes pause.",
    ),
)
NUM_PROXIES = IntVar(
    "NUM_PROXIES",
    0,
    0,
    5,
    "Reverse proxies in front that append to X-Forwarded-For (1 behind docker/nginx.conf).",
)

# HTTPS settings, read with DEBUG off only (DEBUG serves plain HTTP on localhost).
SECURE_SSL_REDIRECT = BoolVar(
    "SECURE_SSL_REDIRECT",
    True,
    "Redirect plain HTTP to HTTPS, with Secure cookies and HSTS; false serves plain HTTP.",
)
SECURE_HSTS_SECONDS = IntVar(
    "SECURE_HSTS_SECONDS", 31_536_000, 0, 100_000_000, "HSTS max-age (s) when redirecting."
)

BOOL_VARS: tuple[BoolVar, ...] = (
    BoolVar(
        "WARMUP_ENABLE_DETAILED_METRICS",
        False,
        "Export one series per mailbox. The seed defaulted to on; off here because 100,000 "
        "mailboxes would mean 100,000 series per scrape.",
    ),
    BoolVar(
        "WARMUP_DISTRIBUTED_MODE",
        False,
        "Several workers share the database.",
    ),
    BoolVar(
        "WARMUP_ALLOW_PRIVATE_HOSTS",
        False,
        "Let mailboxes' SMTP/IMAP hosts be loopback, private or link-local addresses "
        "(a lab, the local sink); off, such hosts are refused after resolution.",
    ),
)


# DNS blacklists the reputation checks ask (README: Reputation). Spamhaus's zones are asked
# through its Data Query Service instead when WARMUP_SPAMHAUS_DQS_KEY is set.
DNSBL_ADDRESS_ZONES = ("zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net")
DNSBL_DOMAIN_ZONES = ("dbl.spamhaus.org", "multi.surbl.org")


# WARMUP_THREAD_TURNS: how long a conversation that gets a reply runs (messages, the first
# included) and each length's weight. Most stop after the reply, some go back and forth.
THREAD_TURNS = ((2, 40), (3, 30), (4, 20), (5, 10))
THREAD_TURNS_RANGE = (2, 10)


def parse_thread_turns(raw: str) -> tuple[tuple[tuple[int, int], ...], str]:
    """`TURNS:WEIGHT,…` as ((turns, weight), …) sorted by turns, or ((), why it is not)."""
    low, high = THREAD_TURNS_RANGE
    turns: dict[int, int] = {}
    for entry in (e.strip() for e in raw.split(",")):
        length, colon, weight = (part.strip() for part in entry.partition(":"))
        if not (colon and length.isdigit() and weight.isdigit()):
            return (), f"{entry[:40]!r} is not TURNS:WEIGHT (e.g. 2:40,3:30,4:20,5:10)."
        if not low <= int(length) <= high:
            return (), f"{length} turns is out of range: a thread has {low} to {high} messages."
        if int(length) in turns:
            return (), f"{length} turns is given twice."
        turns[int(length)] = int(weight)
    if not any(turns.values()):
        return (), "every weight is 0: at least one length needs a weight above 0."
    return tuple(sorted(turns.items())), ""


def _read_thread_turns(
    env: Mapping[str, str], problems: list[ConfigProblem]
) -> tuple[tuple[int, int], ...]:
    raw = env.get("WARMUP_THREAD_TURNS", "").strip()
    if not raw:
        return THREAD_TURNS
    turns, why = parse_thread_turns(raw)
    if why:
        problems.append(ConfigProblem(E_THREAD_TURNS, "WARMUP_THREAD_TURNS", why))
        return THREAD_TURNS
    return turns


GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
# {tenant} is WARMUP_MICROSOFT_TENANT: `common` (any organisation, the consent flow),
# `organizations`, or one tenant's id or domain.
MICROSOFT_DISCOVERY_URL = (
    "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
)


@dataclass(frozen=True)
class MailPreset:
    """A provider's servers, as (host, port, security) for SMTP and IMAP."""

    smtp: tuple[str, int, str]
    imap: tuple[str, int, str]


MAIL_PRESETS = {
    "google": MailPreset(("smtp.gmail.com", 465, "ssl"), ("imap.gmail.com", 993, "ssl")),
    "microsoft": MailPreset(
        ("smtp.office365.com", 587, "starttls"), ("outlook.office365.com", 993, "ssl")
    ),
}


@dataclass(frozen=True)
class OAuthConfig:
    """The OAuth 2.0 applications mailboxes connect through (issue "OAuth 2.0"): the
    consent flow's client of each provider, where each provider's OpenID Connect
    discovery document is read, and where a finished connection sends the browser.
    Operator credentials for delegation and app-only logins are rows (OAuthCredential),
    not settings. The secrets are never logged."""

    google_client_id: str = ""
    google_client_secret: str = field(default="", repr=False)
    microsoft_client_id: str = ""
    microsoft_client_secret: str = field(default="", repr=False)
    microsoft_tenant: str = "common"
    return_url: str = ""
    google_discovery_url: str = GOOGLE_DISCOVERY_URL
    microsoft_discovery_url: str = MICROSOFT_DISCOVERY_URL
    # Where token mailboxes log in: the providers' servers (a test points them at its own).
    presets: Mapping[str, MailPreset] = field(default_factory=lambda: dict(MAIL_PRESETS))

    def client(self, provider: str) -> tuple[str, str]:
        """(client id, secret) of the consent flow's application at `provider`."""
        if provider == "google":
            return self.google_client_id, self.google_client_secret
        return self.microsoft_client_id, self.microsoft_client_secret

    def discovery_url(self, provider: str) -> str:
        return self.google_discovery_url if provider == "google" else self.microsoft_discovery_url


@dataclass(frozen=True)
class WarmupConfig:
    """The engine's settings; `settings.WARMUP` holds the one instance."""

    batch_size: int = 100
    max_concurrent: int = 20
    batch_delay_ms: int = 5000
    stagger_min_ms: int = 1000
    stagger_max_ms: int = 5000
    global_hourly_limit: int = 10_000
    global_minute_limit: int = 200
    user_hourly_limit: int = 500
    cron_interval_minutes: int = 15
    min_daily_quota: int = 30
    metrics_retention_days: int = 30
    worker_id: int = 1
    worker_count: int = 1
    heartbeat_timeout_s: int = 120
    send_deadline_s: int = 90
    imap_concurrency: int = 10
    mail_retention_days: int = 14
    # The reputation checks' DNS: (address, port) of each resolver, none for the system's.
    dns_resolvers: tuple[tuple[str, int], ...] = ()
    dns_timeout_s: int = 5
    dns_concurrency: int = 50
    dns_grace_hours: int = 72
    dnsbl_address_zones: tuple[str, ...] = DNSBL_ADDRESS_ZONES
    dnsbl_domain_zones: tuple[str, ...] = DNSBL_DOMAIN_ZONES
    # A Spamhaus Data Query Service key. Never logged.
    spamhaus_dqs_key: str = field(default="", repr=False)
    # Conversation lengths (messages, the first included) and their weights.
    thread_turns: tuple[tuple[int, int], ...] = THREAD_TURNS
    enable_detailed_metrics: bool = False
    distributed_mode: bool = False
    allow_private_hosts: bool = False
    # Fernet keys, newest first: the first encrypts, all decrypt. Never logged.
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    secret_keys_are_dev: bool = False
    # A static bearer token for Prometheus to scrape /api/warmup/metrics. Never logged.
    metrics_token: str = field(default="", repr=False)
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    # What marks a warmup message (none · header · body · subject) and the operator's own
    # texts (WARMUP_CONTENT_DIR, read and checked at start).
    tag_mode: str = "none"
    content_dir: str = ""
    content_texts: content_files.CustomTexts = ()


@dataclass(frozen=True)
class Config:
    debug: bool
    secret_key: str = field(repr=False)
    allowed_hosts: tuple[str, ...]
    database: dict[str, Any] = field(repr=False)
    warmup: WarmupConfig
    problems: tuple[ConfigProblem, ...]
    # Reverse proxies in front of the app that append to X-Forwarded-For (nginx: 1). The
    # client's address is taken that many entries from the end; 0 ignores the header.
    num_proxies: int = 0
    # With DEBUG off: plain HTTP redirected to HTTPS (then Secure cookies and HSTS).
    ssl_redirect: bool = True
    hsts_seconds: int = 31_536_000
    csrf_trusted_origins: tuple[str, ...] = ()


def _attr(var_name: str) -> str:
    return var_name.removeprefix("WARMUP_").lower()


def parse_bool(raw: str) -> bool | None:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def dev_secret_key_from(secret_key: str) -> str:
    """A stable Fernet key derived from SECRET_KEY, for DEBUG set-ups only."""
    digest = hashlib.sha256(b"warmup-dev-secrets:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _read_secret_keys(
    env: Mapping[str, str], debug: bool, secret_key: str, problems: list[ConfigProblem]
) -> tuple[tuple[str, ...], bool]:
    raw = env.get("WARMUP_SECRET_KEYS", "").strip()
    if not raw:
        if debug:
            problems.append(
                ConfigProblem(
                    W_DEV_SECRET_KEYS,
                    "WARMUP_SECRET_KEYS",
                    "not set: mailbox passwords are encrypted with a development key "
                    "derived from SECRET_KEY. Set WARMUP_SECRET_KEYS before real use.",
                )
            )
            return (dev_secret_key_from(secret_key),), True
        problems.append(
            ConfigProblem(
                E_NO_SECRET_KEYS,
                "WARMUP_SECRET_KEYS",
                "must be set when DEBUG is off: one or more Fernet keys, comma-separated, "
                "newest first (make one with `manage.py generate_secret_key`).",
            )
        )
        return (), False
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            # The key itself is never echoed: it is a secret even when malformed.
            problems.append(
                ConfigProblem(
                    E_BAD_SECRET_KEY,
                    "WARMUP_SECRET_KEYS",
                    f"key number {position} is not a Fernet key "
                    "(32 bytes, url-safe base64: 44 characters ending in '=').",
                )
            )
    return keys, False


def embedded_database_url(socket_folder: Path) -> str:
    """The URL of the `warmup` database on an embedded server listening in `socket_folder`
    (a Unix socket only: no port to collide with, nothing on the network)."""
    return f"postgres://postgres@/warmup?host={quote(str(socket_folder), safe='/')}"


# Server settings every connection starts with (libpq's `options`).
SERVER_OPTIONS = "-c jit=off"


def database_of(url: str) -> dict[str, Any]:
    """The Django DATABASES entry for a PostgreSQL URL, with the options every connection
    of warmup gets (simulate_day --database); ValueError when it is not one."""
    problems: list[ConfigProblem] = []
    database = _read_database({"DATABASE_URL": url}, False, problems)
    if problems:
        raise ValueError(problems[0].message)
    return database


def _read_database(
    env: Mapping[str, str], debug: bool, problems: list[ConfigProblem]
) -> dict[str, Any]:
    url = env.get("DATABASE_URL", "").strip()
    if not url and debug:
        # `make run`'s server, so that `manage.py` in a second terminal finds it.
        url = embedded_database_url(EMBEDDED_DATA)
    try:
        with warnings.catch_warnings():  # an unknown scheme: the problem below says it
            warnings.simplefilter("ignore")
            database = environ.Env.db_url_config(url) if url else {}
    except Exception:  # django-environ raises several types for a malformed URL.
        database = {}
    if database.get("ENGINE") != "django.db.backends.postgresql":
        problems.append(
            ConfigProblem(
                E_DATABASE_URL,
                "DATABASE_URL",
                (f"scheme {url.split(':', 1)[0]!r} is not supported" if url else "not set")
                + ": PostgreSQL is the only database, postgres://USER:PASSWORD@HOST:PORT/NAME "
                "(or postgres://USER@/NAME?host=/SOCKET/FOLDER).",
            )
        )
        # A placeholder to build the settings with: the check above stops start-up.
        database = environ.Env.db_url_config("postgres://localhost/warmup")
    options = database.setdefault("OPTIONS", {})
    # A Unix socket's folder given as ?host=/path (the embedded server's URL) goes where
    # Django, libpq and the tests' own URLs look for it.
    if not database.get("HOST") and str(options.get("host", "")).startswith("/"):
        database["HOST"] = options.pop("host")
    options.setdefault("application_name", "warmup")
    # No JIT compilation: the engine's statements are short, but PostgreSQL's estimates
    # for the send log (millions of rows, most of them already sent) pass
    # jit_above_cost, and compiling took 35 ms of a 37 ms claim. In libpq's `options`
    # ours come first and any the URL gives (?options=...) after: the URL's setting wins.
    options["options"] = " ".join(filter(None, [SERVER_OPTIONS, options.get("options", "")]))
    database["CONN_MAX_AGE"] = 60
    database["CONN_HEALTH_CHECKS"] = True
    return database


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and url.isascii()


def _read_oauth(env: Mapping[str, str], problems: list[ConfigProblem]) -> OAuthConfig:
    def get(name: str) -> str:
        return env.get(name, "").strip()

    tenant = get("WARMUP_MICROSOFT_TENANT") or "common"
    if not tenant.replace("-", "").replace(".", "").isalnum():
        problems.append(
            ConfigProblem(
                E_OAUTH_URL,
                "WARMUP_MICROSOFT_TENANT",
                f"{tenant!r} is not a tenant: `common`, `organizations`, a tenant id or domain.",
            )
        )
        tenant = "common"
    oauth = OAuthConfig(
        google_client_id=get("WARMUP_GOOGLE_CLIENT_ID"),
        google_client_secret=get("WARMUP_GOOGLE_CLIENT_SECRET"),
        microsoft_client_id=get("WARMUP_MICROSOFT_CLIENT_ID"),
        microsoft_client_secret=get("WARMUP_MICROSOFT_CLIENT_SECRET"),
        microsoft_tenant=tenant,
        return_url=get("WARMUP_OAUTH_RETURN_URL"),
        google_discovery_url=get("WARMUP_GOOGLE_DISCOVERY_URL") or GOOGLE_DISCOVERY_URL,
        microsoft_discovery_url=get("WARMUP_MICROSOFT_DISCOVERY_URL") or MICROSOFT_DISCOVERY_URL,
    )
    for name, url in (
        ("WARMUP_OAUTH_RETURN_URL", oauth.return_url),
        ("WARMUP_GOOGLE_DISCOVERY_URL", oauth.google_discovery_url),
        ("WARMUP_MICROSOFT_DISCOVERY_URL", oauth.microsoft_discovery_url),
    ):
        if url and not _is_web_url(url):
            problems.append(
                ConfigProblem(E_OAUTH_URL, name, f"{url[:80]!r} is not an http(s) URL.")
            )
    for provider in ("GOOGLE", "MICROSOFT"):
        client_id, secret = (
            get(f"WARMUP_{provider}_CLIENT_ID"),
            get(f"WARMUP_{provider}_CLIENT_SECRET"),
        )
        if bool(client_id) != bool(secret):
            missing = "SECRET" if client_id else "ID"
            problems.append(
                ConfigProblem(
                    E_OAUTH_CLIENT,
                    f"WARMUP_{provider}_CLIENT_{missing}",
                    f"must be set with WARMUP_{provider}_CLIENT_"
                    f"{'ID' if missing == 'SECRET' else 'SECRET'}: the consent flow needs both.",
                )
            )
    return oauth


def parse_nameserver(entry: str) -> tuple[str, int] | None:
    """`IP`, `IP:PORT` or `[IPv6]:PORT` as (address, port); None when it is none of them."""
    entry = entry.strip()
    host, port = entry, 53
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        if not port_text.isdigit():
            return None
        port = int(port_text)
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        return None
    return (address, port) if 0 < port < 65_536 else None


def is_domain_name(name: str) -> bool:
    """A DNS name of two labels or more (letters, digits, hyphens; underscores for zones)."""
    labels = name.split(".")
    return len(labels) >= 2 and all(
        0 < len(label) < 64
        and label.replace("-", "").replace("_", "").isalnum()
        and label.isascii()
        for label in labels
    )


def _read_dns(env: Mapping[str, str], problems: list[ConfigProblem]) -> dict[str, Any]:
    def items(name: str) -> list[str]:
        return [i.strip().lower() for i in env.get(name, "").split(",") if i.strip()]

    resolvers = []
    for entry in items("WARMUP_DNS_RESOLVERS"):
        parsed = parse_nameserver(entry)
        if parsed is None:
            problems.append(
                ConfigProblem(
                    E_DNS_RESOLVERS,
                    "WARMUP_DNS_RESOLVERS",
                    f"{entry[:80]!r} is not a resolver: an IP address, IP:PORT or [IPv6]:PORT.",
                )
            )
        else:
            resolvers.append(parsed)
    zones: dict[str, tuple[str, ...]] = {}
    for name, default in (
        ("WARMUP_DNSBL_ADDRESS_ZONES", DNSBL_ADDRESS_ZONES),
        ("WARMUP_DNSBL_DOMAIN_ZONES", DNSBL_DOMAIN_ZONES),
    ):
        # Unset: the defaults; set to an empty value: no list asked.
        listed = items(name) if name in env else list(default)
        for zone in listed:
            if not is_domain_name(zone):
                problems.append(
                    ConfigProblem(E_DNSBL_ZONE, name, f"{zone[:80]!r} is not a DNS zone name.")
                )
        zones[_attr(name)] = tuple(z for z in listed if is_domain_name(z))
    key = env.get("WARMUP_SPAMHAUS_DQS_KEY", "").strip()
    if key and not (key.isascii() and key.isalnum()):
        # The key itself is never echoed: it is a secret even when malformed.
        problems.append(
            ConfigProblem(
                E_DQS_KEY,
                "WARMUP_SPAMHAUS_DQS_KEY",
                "is not a Spamhaus DQS key (letters and digits, as the Spamhaus portal shows it).",
            )
        )
        key = ""
    return {"dns_resolvers": tuple(resolvers), "spamhaus_dqs_key": key, **zones}


TAG_MODES = ("none", "header", "body", "subject")


def _read_content(env: Mapping[str, str], problems: list[ConfigProblem]) -> dict[str, Any]:
    """WARMUP_TAG_MODE and WARMUP_CONTENT_DIR (its files read and checked now)."""
    tag_mode = env.get("WARMUP_TAG_MODE", "").strip().lower() or "none"
    if tag_mode not in TAG_MODES:
        problems.append(
            ConfigProblem(
                E_TAG_MODE, "WARMUP_TAG_MODE", f"{tag_mode!r} is not one of {', '.join(TAG_MODES)}."
            )
        )
        tag_mode = "none"
    content_dir = env.get("WARMUP_CONTENT_DIR", "").strip()
    texts: content_files.CustomTexts = ()
    if content_dir:
        try:
            texts = content_files.load(content_dir)
        except content_files.ContentFileError as exc:
            problems.append(ConfigProblem(E_CONTENT_DIR, "WARMUP_CONTENT_DIR", str(exc)))
    return {"tag_mode": tag_mode, "content_dir": content_dir, "content_texts": texts}


def _read_int(env: Mapping[str, str], var: IntVar, problems: list[ConfigProblem]) -> int:
    raw = env.get(var.name)
    if raw is None or raw.strip() == "":
        return var.default
    try:
        number = int(raw.strip())
    except ValueError:
        problems.append(ConfigProblem(E_NOT_A_NUMBER, var.name, f"{raw!r} is not a whole number."))
        return var.default
    if not var.minimum <= number <= var.maximum:
        problems.append(
            ConfigProblem(
                E_OUT_OF_RANGE,
                var.name,
                f"{number} is out of range: must be between {var.minimum} and {var.maximum}.",
            )
        )
        return var.default
    return number


def _read_bool(env: Mapping[str, str], var: BoolVar, problems: list[ConfigProblem]) -> bool:
    raw = env.get(var.name)
    if raw is None:
        return var.default
    parsed = parse_bool(raw)
    if parsed is None:
        problems.append(ConfigProblem(E_NOT_A_BOOLEAN, var.name, f"{raw!r} is not true/false."))
        return var.default
    return parsed


def from_environment() -> Config:
    """The configuration of this process: the environment, where a `.env` file beside
    manage.py fills the variables it lacks."""
    environ.Env.read_env(BASE_DIR / ".env")
    return load(os.environ)


def load(env: Mapping[str, str]) -> Config:
    """Read and validate the whole configuration from `env` (normally os.environ)."""
    problems: list[ConfigProblem] = []

    debug_raw = env.get("DEBUG", "false")
    debug = parse_bool(debug_raw)
    if debug is None:
        problems.append(
            ConfigProblem(E_NOT_A_BOOLEAN, "DEBUG", f"{debug_raw!r} is not true/false.")
        )
        debug = False

    secret_key = env.get("SECRET_KEY", "").strip()
    if not debug and secret_key in ("", DEV_SECRET_KEY):
        problems.append(
            ConfigProblem(
                E_SECRET_KEY,
                "SECRET_KEY",
                "must be set to a long random value when DEBUG is off.",
            )
        )
    if not secret_key:
        # The published development key signs sessions and JWTs with DEBUG on only. With
        # DEBUG off start-up stops (E008); code that skips the system checks (a script
        # calling django.setup()) gets a throwaway key nobody knows instead.
        secret_key = DEV_SECRET_KEY if debug else secrets.token_urlsafe(50)

    default_hosts = "localhost,127.0.0.1,[::1]" if debug else ""
    allowed_hosts = tuple(
        h.strip() for h in env.get("ALLOWED_HOSTS", default_hosts).split(",") if h.strip()
    )

    values: dict[str, Any] = {_attr(var.name): _read_int(env, var, problems) for var in INT_VARS}
    values.update({_attr(var.name): _read_bool(env, var, problems) for var in BOOL_VARS})

    if values["stagger_min_ms"] > values["stagger_max_ms"]:
        problems.append(
            ConfigProblem(
                E_STAGGER_ORDER,
                "WARMUP_STAGGER_MIN_MS",
                f"{values['stagger_min_ms']} is greater than WARMUP_STAGGER_MAX_MS "
                f"({values['stagger_max_ms']}).",
            )
        )
    if values["worker_id"] > values["worker_count"]:
        problems.append(
            ConfigProblem(
                E_WORKER_ID,
                "WARMUP_WORKER_ID",
                f"{values['worker_id']} is greater than WARMUP_WORKER_COUNT "
                f"({values['worker_count']}): ids run from 1 to the count.",
            )
        )

    database = _read_database(env, debug, problems)

    secret_keys, dev_keys = _read_secret_keys(env, debug, secret_key, problems)
    metrics_token = env.get("WARMUP_METRICS_TOKEN", "").strip()
    if metrics_token and (len(metrics_token) < METRICS_TOKEN_MIN or not metrics_token.isascii()):
        problems.append(
            ConfigProblem(
                E_METRICS_TOKEN,
                "WARMUP_METRICS_TOKEN",
                f"must be at least {METRICS_TOKEN_MIN} ASCII characters when set "
                "(make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).",
            )
        )
        metrics_token = ""

    # Read (and so refused when bad) whatever DEBUG says, so a typo shows before
    # production; used only with DEBUG off and the redirect on.
    redirect = _read_bool(env, SECURE_SSL_REDIRECT, problems)
    hsts = _read_int(env, SECURE_HSTS_SECONDS, problems)
    ssl_redirect = not debug and redirect
    hsts_seconds = hsts if ssl_redirect else 0
    csrf_trusted_origins = tuple(
        o.strip() for o in env.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
    )

    return Config(
        num_proxies=_read_int(env, NUM_PROXIES, problems),
        ssl_redirect=ssl_redirect,
        hsts_seconds=hsts_seconds,
        csrf_trusted_origins=csrf_trusted_origins,
        debug=debug,
        secret_key=secret_key,
        allowed_hosts=allowed_hosts,
        database=database,
        warmup=WarmupConfig(
            **values,
            secret_keys=secret_keys,
            secret_keys_are_dev=dev_keys,
            metrics_token=metrics_token,
            oauth=_read_oauth(env, problems),
            **_read_dns(env, problems),
            **_read_content(env, problems),
            thread_turns=_read_thread_turns(env, problems),
        ),
        problems=tuple(problems),
    )
