from django.apps import AppConfig


class WarmupProjectConfig(AppConfig):
    name = "warmup_project"
    verbose_name = "Warmup project"

    def ready(self) -> None:
        from django.db.models.signals import pre_save
        from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

        from warmup_project import (
            checks,  # noqa: F401  (registers the system checks)
            sql,  # noqa: F401  (registers the __any lookup)
        )
        from warmup_project.logins import keep_only_a_digest

        pre_save.connect(keep_only_a_digest, sender=OutstandingToken)
