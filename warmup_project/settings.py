"""Django settings. Every value comes from the environment (or a `.env` file beside
manage.py) through `warmup_project.config`, read once and validated there."""

import datetime as dt

from warmup_project import config as warmup_config

BASE_DIR = warmup_config.BASE_DIR

CONFIG = warmup_config.from_environment()
WARMUP = CONFIG.warmup

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_prometheus",
    "warmup_project",
    "accounts",
    "warmup",
    "metrics",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "warmup_project.urls"
WSGI_APPLICATION = "warmup_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# Behind nginx (docker/nginx.conf) TLS ends at the proxy, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    # SECURE_SSL_REDIRECT=false serves plain HTTP (a trial on a private network): then no
    # redirect, no HSTS, and cookies without the Secure flag, or no login would work.
    SECURE_SSL_REDIRECT = CONFIG.ssl_redirect
    # Answered over plain HTTP inside the deployment's network: the container's health
    # check and Prometheus's scrapes (docker/compose.yaml); nginx keeps /metrics private.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$", r"^api/warmup/metrics$"]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
    SECURE_HSTS_SECONDS = CONFIG.hsts_seconds
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = list(CONFIG.csrf_trusted_origins)

# One cache all processes share, in the database (its table comes with `migrate`,
# warmup_project/migrations): the login throttle counts a client's attempts there, so every
# gunicorn process and server sees the same count. Keys expire within the throttle's minute.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "cache",
        # Past this many rows a write deletes some, live ones included: keep it well above
        # the addresses that log in within a minute.
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
    # django-q2's cluster statistics, written twice a second by every qcluster: kept in
    # the process, as before there was a shared cache.
    "process": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

# django-q2 with the database as broker: no other service to run. A task that outlives
# `retry` is handed to a second worker, so `timeout` must stay below it (warmup.E011).
Q_CLUSTER = {
    "name": "warmup",
    "orm": "default",
    "workers": 2,
    "timeout": 240,
    "retry": 300,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 1000,
    "cache": "process",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # aiosmtpd (the demo's sink) logs every SMTP line at INFO, and at WARNING that it
        # takes AUTH without TLS (on loopback, on purpose) at every session.
        "mail.log": {"level": "ERROR"},
    },
}

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the browsable API
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["warmup_project.api.JSONParser"],  # nesting limited
    "DEFAULT_PAGINATION_CLASS": "warmup_project.api.Pagination",
    "EXCEPTION_HANDLER": "warmup_project.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "auth": "20/minute",
        "connection_test": "10/minute",
        "reputation_check": "10/minute",
    },
    # Who the client is, for throttles and the audit log: behind nginx, the address it
    # appends to X-Forwarded-For; with no proxy, the connection's (the header is ignored).
    "NUM_PROXIES": CONFIG.num_proxies,
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": dt.timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": dt.timedelta(days=1),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "UPDATE_LAST_LOGIN": True,
    # A refresh token works once: each refresh returns a new one and blacklists the old
    # (warmup_project.logins.RefreshSerializer enforces it, also against a race).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Every token carries an MD5 digest of the user's stored password hash (which gives
    # away neither the hash nor its salt): a password change voids them all.
    "CHECK_REVOKE_TOKEN": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Warmup API",
    "DESCRIPTION": "Engine control, quotas and mailboxes of the Warmup email-warmup system.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SecurityEnum": "accounts.models.SECURITY_CHOICES",
        "HealthStatusEnum": "metrics.health.LEVEL_CHOICES",
    },
    # Swagger UI from our own static files: the docs page works with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Request bodies above this are refused with 400 (a mailbox is well under 10 kB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
