"""The hand-written SQL of warmup_project, by name (each app keeps its own in
`<app>/sql.py`): parameters are always bound, never formatted into the text."""

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from django.db import connection, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler
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


_INTEGERS = frozenset({"bigint", "integer", "smallint"})


def array_literal(values: Sequence[Any], kind: str) -> str:
    """`values` as PostgreSQL's text form of an array of `kind`, to pass as one parameter
    (`%s::bigint[]`): integers as they are, anything else double-quoted (backslash and
    quote escaped), None as NULL. psycopg adapts a list element by element in Python,
    about 2 µs an element, which came to 70 ms of the statements of a batch of 1,000
    sends; this is a join."""
    if kind in _INTEGERS and None not in values:
        return "{" + ",".join(map(str, map(int, values))) + "}"
    return "{" + ",".join(map(_array_element, values)) + "}"


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@models.IntegerField.register_lookup
class AnyOf(models.Lookup):
    """`id__any=ids`: `id = ANY(%s::bigint[])`, the ids in one array parameter, where
    `id__in` writes one placeholder per id. For the engine's lists of a batch's size
    (1,000 ids): psycopg binds client-side, splitting a query's text at its placeholders
    with a regular expression and caching the split only for short texts, so an IN of
    1,000 was split again at every statement (about 9 % of a worker's time at 100,000
    mailboxes), and PostgreSQL parsed 1,000 constants. Values, not a query: a list, set
    or dict of ids (None left out, as `__in` does); an empty one matches nothing."""

    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[int]:
        if isinstance(self.rhs, str | bytes) or not isinstance(self.rhs, Collection):
            raise TypeError(f"__any takes a collection of ids, not {type(self.rhs).__name__}")
        return [value for value in self.rhs if value is not None]

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[str | int, ...]]:
        lhs, params = self.process_lhs(compiler, connection)
        kind = self.lhs.output_field.db_type(connection)
        if kind not in _INTEGERS:
            raise TypeError(f"__any is for integer columns, not {kind}")
        return f"{lhs} = ANY(%s::{kind}[])", (*params, array_literal(self.rhs, kind))


models.ForeignKey.register_lookup(AnyOf)  # mailbox_id__any: the key it holds


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
