"""What every API endpoint shares: one JSON error shape and pagination.

Every error answers `{"error": CODE, "detail": MESSAGE}`, plus `"fields"` (field → list
of messages) for invalid input: 400 for malformed JSON, wrong types, unknown query
values and bodies over DATA_UPLOAD_MAX_MEMORY_SIZE; 401/403/404/405/429 as usual;
nothing a client sends produces a 500.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M` (1–500, default 50). A page or size that is not a positive
    whole number is a 400; a page past the end is a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        for name in (self.page_query_param, self.page_size_query_param):
            raw = request.query_params.get(name)
            if raw is not None and raw != "last" and not (raw.isdigit() and int(raw) >= 1):
                raise bad_request(f"must be a whole number from 1, not {raw[:20]!r}.", name)
        return super().paginate_queryset(queryset, request, view)


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
