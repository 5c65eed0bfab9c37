"""What every JSON API answer shares: errors are `{"detail": "...", "errors": {...}}`."""

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For 400: the messages for each field of the request.",
    )


def exception_handler(error: Exception, context: dict) -> Response | None:
    """DRF's answer, with validation errors given the same `detail` every other error has."""
    response = drf_exception_handler(error, context)
    if response is not None and isinstance(error, ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        errors = {
            field: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for field, msgs in errors.items()
        }
        first_field, first = next(iter(errors.items()), ("", ["Invalid input."]))
        prefix = "" if first_field in ("non_field_errors", "detail") else f"{first_field}: "
        response.data = {"detail": f"{prefix}{first[0] if first else 'Invalid input.'}", "errors": errors}
    return response
