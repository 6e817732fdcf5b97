"""What every API endpoint shares: one JSON error shape, the JSON parser, pagination.

Every error answers `{"error": CODE, "detail": MESSAGE}`, plus `"fields"` (field → list
of messages) for invalid input: 400 for malformed or too deeply nested JSON, wrong types,
unknown query values and bodies over DATA_UPLOAD_MAX_MEMORY_SIZE; 401/403/404/405/429 as
usual; nothing a client sends produces a 500.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Protocol, runtime_checkable

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.paginator import EmptyPage, Page
from django.core.paginator import Paginator as DjangoPaginator
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from rest_framework import exceptions, parsers, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

# Deeper than any body this API takes (flat objects), far below Python's recursion limit.
MAX_JSON_DEPTH = 32
# A string, or an unterminated one to the end; possessive, so that no input makes the scan
# go back (unterminated strings would otherwise make it quadratic).
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing nesting deeper than MAX_JSON_DEPTH before it parses:
    the json module recurses once per level, so 50,000 nested brackets were a
    RecursionError (a 500), from anyone, as the token endpoint reads its body before any
    login."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        body = stream.read() if stream is not None else b""
        # get_encoding came in DRF 3.18.3; djangorestframework-stubs 3.18.1 lacks it.
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]
        if nested_deeper_than(MAX_JSON_DEPTH, body.decode(encoding, errors="replace")):
            raise exceptions.ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels"
            )
        return super().parse(io.BytesIO(body), media_type, parser_context)


def nested_deeper_than(limit: int, text: str) -> bool:
    """Whether the arrays and objects of the JSON `text` nest deeper than `limit` (brackets
    in strings do not count). Of text that is not JSON: whether the json module might get
    deeper than that before it finds out. Linear, in C loops (~30 ms for 256 kB)."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def whole_number(raw: str) -> int | None:
    """`raw` as a whole number from 1, or None. ASCII digits only: str.isdigit() also holds
    for '²', which int() refuses; 18 digits at most, which a bigint column holds and
    int() parses (it refuses over 4,300)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) >= 1:
        return int(raw)
    return None


@runtime_checkable
class Tailed(Protocol):
    """A list that can give its last rows (`tail(n)`: the last n, in order) as cheaply as
    its first: walked from the other end."""

    def tail(self, n: int) -> list[Any]: ...


LAST = "last"


# Lists longer than this may be counted by PostgreSQL's estimate, not row by row (with
# EstimatedCountPagination, which pages by the rows).
EXACT_COUNT_UP_TO = 10_000


# The schema's word on a list counted so (EstimatedCountPagination).
ESTIMATED_COUNT = (
    f"`count` is exact up to {EXACT_COUNT_UP_TO:,} mailboxes; above, it is PostgreSQL's "
    "estimate, and `page=last` the last page by it (the list's last rows, with no "
    "`previous`). Pages go by the rows: follow `next` until it is null."
)


def estimated_count(rows: QuerySet[Any]) -> int:
    """How many rows PostgreSQL's planner expects `rows` to hold: a plan, no scan."""
    statement, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", params)
        (plan,) = cursor.fetchone()
    return int((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])


def estimated_above_limit(rows: QuerySet[Any], exact: Callable[[], int]) -> tuple[int, bool]:
    """How many `rows` there are, and whether that is PostgreSQL's estimate: it is when
    the estimate is above EXACT_COUNT_UP_TO; else the `exact` count."""
    estimate = estimated_count(rows)
    if estimate > EXACT_COUNT_UP_TO:
        return estimate, True
    return exact(), False


@dataclass
class FromBothEnds:
    """An ordered queryset (its order unique) as a paginator reads it: count(), slices,
    and its last rows read in the reverse order (Tailed). `may_estimate`: a count
    PostgreSQL estimates above EXACT_COUNT_UP_TO is that estimate (and `estimated` says
    so)."""

    rows: QuerySet[Any]
    may_estimate: bool = False
    estimated: bool = field(default=False, init=False)

    def count(self) -> int:
        if not self.may_estimate:
            return self.rows.count()
        count, self.estimated = estimated_above_limit(self.rows, self.rows.count)
        return count

    def __getitem__(self, page: slice) -> list[Any]:
        return list(self.rows[page])

    def tail(self, n: int) -> list[Any]:
        return list(self.rows.reverse()[:n])[::-1]


class Paginator(DjangoPaginator):
    """Django's, but `page=last` (LAST) of a Tailed list is its last rows, as many as the
    last page holds by the count, read from the end: no deeper than the first page."""

    def page(self, number: Any) -> Page:
        if number != LAST:
            return super().page(number)
        if not isinstance(self.object_list, Tailed) or self.num_pages == 1:
            return self.page(self.num_pages)
        rows = self.object_list.tail(self.count - (self.num_pages - 1) * self.per_page)
        if not rows:
            raise EmptyPage("That page contains no results")
        return self._tail_page(rows)

    def _tail_page(self, rows: list[Any]) -> Page:
        return Page(rows, self.num_pages, self)


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M` (1–500, default 50). A page or size that is not a positive
    whole number is a 400; a page past the end is a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = Paginator

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        for name in (self.page_query_param, self.page_size_query_param):
            raw = request.query_params.get(name)
            if raw is None or (name == self.page_query_param and raw in self.last_page_strings):
                continue
            if whole_number(raw) is None:
                raise bad_request(f"must be a whole number from 1, not {raw[:20]!r}.", name)
        return super().paginate_queryset(queryset, request, view)

    def get_page_number(self, request: Any, paginator: Any) -> Any:
        """`page=last` is left for Paginator.page to read from the end."""
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return LAST
        return super().get_page_number(request, paginator)

    def paginate_by_ids(self, ids: Any, rows: QuerySet[Any], request: Any, view: Any) -> list[Any]:
        """The page of `ids` (an ordered list of ids: a walk of an index, however deep the
        page), then those `rows`, in that order: an offset over whole joined rows would
        read every row it skips."""
        page = self.paginate_queryset(ids, request, view) or []
        found = rows.in_bulk(page)
        return [found[i] for i in page]


def paginated(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The response shape of a Pagination page of `item`s, for the OpenAPI schema."""
    name = item.__name__.removesuffix("Out")
    return type(
        f"Paginated{name}List",
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Imported here: rest_framework.views reads DEFAULT_PARSER_CLASSES (this module's
    # JSONParser) as it loads.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, RequestDataTooBig):
        exc = exceptions.ParseError("request body too large")
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "bad request")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django's 500, logged
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "error": "invalid",
            "detail": _first_message(exc.detail),
            "fields": exc.detail if isinstance(exc.detail, dict) else {},
        }
    else:
        code = exc.default_code if isinstance(exc, exceptions.APIException) else "not_found"
        if isinstance(exc, Http404):
            code = "not_found"
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = {"error": getattr(detail, "code", None) or code, "detail": str(detail)}
    return response


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for field, messages in detail.items():
            text = _first_message(messages)
            return text if field == "non_field_errors" else f"{field}: {text}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def bad_request(message: str, field: str | None = None) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]} if field else [message])


def client_address(request: Any) -> str | None:
    """The client's IP address as the throttles see it (REST_FRAMEWORK NUM_PROXIES: behind
    nginx, the address nginx appended to X-Forwarded-For), or None if that is no address."""
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return None


class RoundedFloat(serializers.FloatField):
    """A float given to `digits` decimals: rates and averages, without the noise of
    binary fractions (0.1667, not 0.16666666666666666)."""

    def __init__(self, digits: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.digits = digits

    # djangorestframework-stubs give FloatField.to_representation a str; DRF's gives a float.
    def to_representation(self, value: Any) -> float:  # type: ignore[override]
        return round(float(value), self.digits)


class EstimatedPage(Page):
    def __init__(
        self,
        rows: list[Any],
        number: int,
        paginator: DjangoPaginator,
        more: bool,
        *,
        after_previous: bool = True,
    ):
        super().__init__(rows, number, paginator)
        self.more = more
        self.after_previous = after_previous

    def has_next(self) -> bool:
        return self.more

    def has_previous(self) -> bool:
        return self.after_previous and super().has_previous()


class EstimatedPaginator(Paginator):
    """Pages of a list whose count may be an estimate: the rows, not the count, say where
    the list ends. A page holds the rows that are there (one more is read to know whether
    another page follows), any page from 1 may be asked for, and one past the last row is
    a 404. `page=last` is the last by the count (Paginator's); when the list says its
    count was an estimate (`estimated`), without a link to the page before it: the page
    numbered so need not hold the rows before it."""

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            # Past the count: its rows may be there, unless the offset is past any table's
            # (PostgreSQL's OFFSET is a bigint).
            if int(number) < 1 or (int(number) - 1) * self.per_page > 2**62:
                raise
            return int(number)

    def page(self, number: Any) -> Page:
        if number == LAST:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage("That page contains no results")
        return EstimatedPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)

    def _tail_page(self, rows: list[Any]) -> Page:
        exact = not getattr(self.object_list, "estimated", False)
        return EstimatedPage(rows, self.num_pages, self, more=False, after_previous=exact)


class EstimatedCountPagination(Pagination):
    django_paginator_class = EstimatedPaginator

    def paginate_ordered(
        self, rows: QuerySet[Any], request: Any, view: Any, *, load: QuerySet[Any] | None = None
    ) -> list[Any]:
        """The page of `rows` (ordered, by a unique order), paged by their ids (counted
        by estimate above EXACT_COUNT_UP_TO, the last page read from the end), then
        loaded from `load` (the same rows with what the page shows; `rows` itself when
        not given)."""
        ids = FromBothEnds(rows.values_list("id", flat=True), may_estimate=True)
        return self.paginate_by_ids(ids, rows if load is None else load, request, view)
