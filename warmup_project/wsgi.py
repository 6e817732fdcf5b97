import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
application = get_wsgi_application()

from django.urls import resolve  # noqa: E402

from warmup_project.checks import refuse_bad_configuration  # noqa: E402

refuse_bad_configuration()
# The URLconf (and with it the admin, DRF and every view) loads now, as the process starts,
# not in its first request: that request took ~170 ms more, and a health check or a burst
# meeting a fresh gunicorn process waited for it.
resolve("/healthz")
