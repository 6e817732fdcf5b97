"""A second database session for tests of locks: what another worker's open
transaction holds while the code under test runs."""

from typing import Any

import psycopg
from django.db import connection


def holding(statement: str, params: Any = None) -> psycopg.Connection[Any]:
    """A second session that has run `statement` in an open transaction (its locks held
    until closed)."""
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
    )
    other.execute(statement, params)
    return other
