from django.apps import AppConfig


class WarmupProjectConfig(AppConfig):
    name = "warmup_project"
    verbose_name = "Warmup project"

    def ready(self) -> None:
        from warmup_project import checks  # noqa: F401  (registers the system checks)
