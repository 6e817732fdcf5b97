"""System checks: configuration problems found by `warmup_project.config` stop start-up."""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

E_Q_TIMEOUT = "warmup.E011"


def config_messages(
    problems: Iterable[Any], q_cluster: dict[str, Any]
) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for problem in problems:
        kind = checks.Error if problem.is_error else checks.Warning
        messages.append(kind(str(problem), id=problem.id))
    timeout, retry = q_cluster.get("timeout"), q_cluster.get("retry")
    if timeout is not None and retry is not None and timeout >= retry:
        messages.append(
            checks.Error(
                f"Q_CLUSTER: timeout ({timeout}s) must be below retry ({retry}s), or django-q2 "
                "hands a task still running to a second worker.",
                id=E_Q_TIMEOUT,
            )
        )
    return messages


@checks.register("warmup")
def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return config_messages(settings.CONFIG.problems, settings.Q_CLUSTER)


def refuse_bad_configuration() -> None:
    """For entry points that do not run system checks (WSGI, ASGI): fail at import."""
    errors = [m for m in check_configuration() if m.is_serious()]
    if errors:
        lines = "\n".join(f"{m.id} {m.msg}" for m in errors)
        raise ImproperlyConfigured(f"Warmup cannot start:\n{lines}")
