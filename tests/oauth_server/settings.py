"""Settings of the test authorization server. Everything that differs between runs comes
from the environment tests/oauth.py sets: OAUTH_SERVER_DATABASE_URL, OAUTH_SERVER_SECRET_KEY,
OAUTH_SERVER_RSA_PRIVATE_KEY (PEM, made at start), OAUTH_SERVER_ACCESS_TOKEN_SECONDS (the
lifetime of an application's access tokens unless it has its own, see models.py)."""

import os

import environ

from tests.oauth_server.lifetime import access_token_lifetime

SECRET_KEY = os.environ["OAUTH_SERVER_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "tests.oauth_server.urls"
WSGI_APPLICATION = "tests.oauth_server.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    "tests.oauth_server",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]
DATABASES = {"default": environ.Env.db_url_config(os.environ["OAUTH_SERVER_DATABASE_URL"])}
# Users are made by the tests by the dozen; PBKDF2's slowness buys nothing here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"

# The scopes the providers warmup speaks to ask for, so that this one server stands in for
# Google and Microsoft alike; `introspection` is the resource servers' (Dovecot, SMTP).
SCOPES = {
    "openid": "OpenID Connect",
    "email": "Email address",
    "profile": "Profile",
    "offline_access": "Refresh tokens",
    "https://mail.google.com/": "Google: mail",
    "https://outlook.office.com/IMAP.AccessAsUser.All": "Microsoft: IMAP",
    "https://outlook.office.com/SMTP.Send": "Microsoft: SMTP",
    "https://outlook.office365.com/.default": "Microsoft: app-only",
    "introspection": "Introspect tokens",
}

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": os.environ["OAUTH_SERVER_RSA_PRIVATE_KEY"],
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    # Called per token with the oauthlib request: the application's own lifetime or the
    # default below (a short one is how the tests see tokens expire).
    "ACCESS_TOKEN_EXPIRE_SECONDS": access_token_lifetime,
    "OAUTH2_VALIDATOR_CLASS": "tests.oauth_server.validator.MailValidator",
    # oauthlib's OIDC server plus Google's JWT bearer grant (grants.py).
    "OAUTH2_SERVER_CLASS": "tests.oauth_server.grants.MailServer",
    "SCOPES": SCOPES,
    "DEFAULT_SCOPES": ["openid"],
}
# DOT's own models, named: the migration autodetector resolves them as swappable settings.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
DEFAULT_ACCESS_TOKEN_SECONDS = int(os.environ.get("OAUTH_SERVER_ACCESS_TOKEN_SECONDS", "3600"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
