"""The hand-written SQL of warmup_project, by name (each app keeps its own in
`<app>/sql.py`): parameters are always bound, never formatted into the text."""

from django.db import models
from psycopg import sql


def column_of(field: models.Field) -> sql.Identifier:
    """A concrete field's column, quoted: the apps' statements take their names from
    the models, never from text written out by hand."""
    assert field.column, field.name  # every concrete field has one
    return sql.Identifier(field.column)


def column_named(model: type[models.Model], name: str) -> sql.Identifier:
    """The column of the model's field `name`, quoted."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name  # a concrete field, not a reverse relation
    return column_of(field)


# The database's clock (warmup_project.db.db_now).
NOW = "SELECT now()"
# /healthz: does the database answer?
PING = "SELECT 1"
# One login throttle at a time per client key, until the transaction ends
# (warmup_project.logins.LoginThrottle): (lock space, the throttle's cache key).
LOCK_THROTTLE_KEY = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
