import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
application = get_wsgi_application()

from warmup_project.checks import refuse_bad_configuration  # noqa: E402

refuse_bad_configuration()
