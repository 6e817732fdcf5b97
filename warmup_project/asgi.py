import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
application = get_asgi_application()

from warmup_project.checks import refuse_bad_configuration  # noqa: E402

refuse_bad_configuration()
