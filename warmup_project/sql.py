"""The hand-written SQL of warmup_project, by name (each app keeps its own in
`<app>/sql.py`): parameters are always bound, never formatted into the text."""

from typing import NamedTuple

from django.db import connection, models
from psycopg import sql


class Column(NamedTuple):
    """A column by its name and its PostgreSQL type (the type of an array of rows passed
    in as one parameter, unnested)."""

    name: str
    type: str

    @property
    def ident(self) -> sql.Identifier:
        """The name, quoted for a statement."""
        return sql.Identifier(self.name)


def column(model: type[models.Model], name: str) -> Column:
    """The column of the model's field `name`, typed as the table has it (a varchar's
    length left out: a value too long fails on assignment, as it would in an INSERT). The
    apps' statements take their names from here, never from text written out by hand."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name  # a concrete field, not a reverse relation
    kind = field.db_type(connection)
    assert kind and field.column, name
    return Column(field.column, kind.split("(")[0])


def columns(model: type[models.Model], *names: str) -> tuple[Column, ...]:
    return tuple(column(model, name) for name in names)


# The database's clock (warmup_project.db.db_now).
NOW = "SELECT now()"
# /healthz: does the database answer?
PING = "SELECT 1"
# One login throttle at a time per client key, until the transaction ends
# (warmup_project.logins.LoginThrottle): (lock space, the throttle's cache key).
LOCK_THROTTLE_KEY = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
# One holder at a time of a (lock space, id), for the session, outside any transaction
# (accounts.tokens: one token refresh per mailbox across all processes).
ADVISORY_LOCK = "SELECT pg_advisory_lock(%s, %s)"
ADVISORY_UNLOCK = "SELECT pg_advisory_unlock(%s, %s)"
