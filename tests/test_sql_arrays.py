"""The array literals the engine's set-based statements pass their rows in: every value
comes back from PostgreSQL as it went in."""

import datetime as dt

import pytest
from django.db import connection

from accounts.models import Mailbox
from warmup import sql
from warmup.models import SendLog, SendStatus
from warmup_project.sql import array_literal

pytestmark = pytest.mark.django_db

AWKWARD = [
    "plain",
    "",
    "NULL",
    'a "quoted" word',
    'back\\slash and \\"both\\"',
    "comma, {braces} and spaces",
    "  leading and trailing  ",
    "tab\tnew\nline",
    "unicode: Grüße, 日本語, 🙂",
    None,
]


def round_trip(values: list, kind: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT v FROM unnest(%s::{kind}[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
            [array_literal(values, kind)],
        )
        return [row[0] for row in cursor.fetchall()]


def test_text_comes_back_as_it_went_in():
    assert round_trip(AWKWARD, "text") == AWKWARD
    assert round_trip(AWKWARD, "varchar") == AWKWARD


def test_numbers_dates_times_and_booleans():
    assert round_trip([1, -2, 2**62, None, 0], "bigint") == [1, -2, 2**62, None, 0]
    assert round_trip([3, 4], "integer") == [3, 4]
    assert round_trip([dt.date(2026, 3, 2), None], "date") == [dt.date(2026, 3, 2), None]
    kiritimati = dt.timezone(dt.timedelta(hours=14))
    times = [
        dt.datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 3, 9, 30, tzinfo=kiritimati),
        None,
    ]
    assert round_trip(times, "timestamp with time zone") == times
    assert round_trip([True, False, None], "boolean") == [True, False, None]


def test_choices_go_as_their_values():
    assert round_trip([SendStatus.SENT, SendStatus.DEFERRED], "text") == ["sent", "deferred"]


def test_no_rows_is_an_empty_array_per_column():
    cols = (sql.Column("a", "bigint"), sql.Column("b", "text"))
    assert sql._arrays([], cols) == ["{}", "{}"]
    assert round_trip([], "text") == []


def test_any_lookup_passes_the_ids_as_one_array(make_mailbox):
    boxes = [make_mailbox() for _ in range(4)]
    wanted = {boxes[0].id, boxes[2].id, boxes[3].id}
    found = Mailbox.objects.filter(id__any=wanted)
    statement, params = found.values_list("id").query.sql_with_params()
    assert "= ANY(%s::bigint[])" in statement
    assert len(params) == 1  # `id__in` would bind one parameter per id
    assert set(found.values_list("id", flat=True)) == wanted
    assert not Mailbox.objects.filter(id__any=[]).exists()
    # In an UPDATE too (the claim's), and on a primary key of the partitioned send log.
    assert Mailbox.objects.filter(id__any=[boxes[1].id]).update(consecutive_failures=2) == 1
    assert list(SendLog.objects.filter(id__any=[1, 2]).values_list("id")) == []
    # None is left out, as __in does: excluding [id, None] keeps the others.
    others = Mailbox.objects.exclude(id__any=[boxes[0].id, None])
    assert set(others.values_list("id", flat=True)) == {b.id for b in boxes[1:]}
    # Ids, not a query nor a string.
    for wrong in (Mailbox.objects.values("id"), "123"):
        with pytest.raises(TypeError, match="collection of ids"):
            Mailbox.objects.filter(id__any=wrong)
