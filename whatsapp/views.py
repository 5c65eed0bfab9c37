import hmac
import json

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.models import Client
from clients.services import client_find_or_create_by_phone
from crm.api import ErrorSerializer
from whatsapp import logs, stats
from whatsapp.greenapi import GreenAPIError, GreenAPINotConfigured
from whatsapp.outbound import message_send
from whatsapp.serializers import MessageSendSerializer, MessageSerializer, StatsQuerySerializer, StatsSerializer
from whatsapp.services import notification_receive

# Green API waits 60 s before it redelivers; asking for sooner would not be honoured.
RETRY_AFTER_SECONDS = "60"


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers or None)


def _authorized(request: HttpRequest) -> bool:
    expected = settings.GREEN_API_WEBHOOK_TOKEN
    if not expected:
        return True
    header = request.headers.get("Authorization", "").strip()
    scheme, _, credentials = header.partition(" ")
    # Green API sends `Bearer <webhookUrlToken>`; a bare token is accepted too (REFERENCE §8).
    token = credentials.strip() if scheme.lower() == "bearer" else header
    return hmac.compare_digest(token.encode(), expected.encode())


@csrf_exempt
def webhook(request: HttpRequest) -> JsonResponse:
    """POST /whatsapp/webhook: every Green API notification; see README "What the webhook answers"."""
    if request.method != "POST":
        return _error(405, "Use POST.", Allow="POST")
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "Content-Length is not a number.")
    if length > limit:
        return _error(413, f"Body larger than {limit} bytes.")
    if not _authorized(request):
        return _error(
            401,
            "Missing or wrong webhook token (Authorization: Bearer <GREEN_API_WEBHOOK_TOKEN>).",
        )
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return _error(413, f"Body larger than {limit} bytes.")
    try:
        body = json.loads(raw)
    except RecursionError:
        logs.log_error("body is not JSON", "nested too deeply")
        return _error(400, "Body is nested too deeply to be a Green API notification.")
    except ValueError as error:
        logs.log_error("body is not JSON", error)
        return _error(400, f"Body is not valid JSON: {error}")
    if not isinstance(body, dict):
        logs.log_error("body is not a JSON object", type(body).__name__)
        return _error(400, "Body must be a JSON object.")
    logs.log_received(body)
    try:
        receipt = notification_receive(raw=raw, body=body)
    except (OperationalError, InterfaceError) as error:
        logs.log_error("database unavailable", error)
        return _error(
            503,
            "Database unavailable; deliver again later.",
            **{"Retry-After": RETRY_AFTER_SECONDS},
        )
    except DatabaseError as error:
        # Storing the notification itself failed: answering 200 would lose it.
        logs.log_error("could not store the notification", error)
        return _error(
            503,
            "Could not store the notification; deliver again later.",
            **{"Retry-After": RETRY_AFTER_SECONDS},
        )
    logs.log_outcome(body, receipt.outcome, receipt.duplicate)
    return JsonResponse(
        {
            "status": "ok",
            "notificationId": receipt.notification_id,
            "outcome": receipt.outcome,
            "detail": receipt.detail,
            "duplicate": receipt.duplicate,
        }
    )


class StatsView(APIView):
    @extend_schema(
        summary="Message statistics and the most recent messages",
        parameters=[StatsQuerySerializer],
        responses={
            200: StatsSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad `limit`"),
            401: OpenApiResponse(ErrorSerializer, description="Missing or invalid access token"),
        },
    )
    def get(self, request: Request) -> Response:
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(stats.stats(limit=query.validated_data["limit"]))


class MessagesView(APIView):
    @extend_schema(
        summary="Send a WhatsApp message to a client (by id) or to a phone number",
        request=MessageSendSerializer,
        responses={
            201: MessageSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad phone, empty or too long text"),
            401: OpenApiResponse(ErrorSerializer, description="Missing or invalid access token"),
            404: OpenApiResponse(ErrorSerializer, description="No client with that id"),
            502: OpenApiResponse(ErrorSerializer, description="Green API refused; the message is stored as failed"),
            503: OpenApiResponse(ErrorSerializer, description="Green API is not configured"),
        },
    )
    def post(self, request: Request) -> Response:
        data = MessageSendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "clientId" in data.validated_data:
            client = get_object_or_404(Client, pk=data.validated_data["clientId"])
        else:
            client, _ = client_find_or_create_by_phone(phone=data.validated_data["phone"])
        try:
            message = message_send(client=client, text=data.validated_data["text"])
        except GreenAPINotConfigured as error:
            return Response({"detail": str(error)}, status=503)
        except GreenAPIError as error:
            return Response({"detail": str(error)}, status=502)
        except ValueError as error:
            return Response({"detail": str(error), "errors": {"text": [str(error)]}}, status=400)
        return Response(MessageSerializer(message).data, status=201)
