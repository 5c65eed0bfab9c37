from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.models import Client
from clients.visibility import clients_visible
from crm.api import ErrorSerializer
from crm.openapi import RETRY_AFTER, TOO_MANY, forbidden
from inbox.services import conversation_started
from whatsapp import stats
from whatsapp.attachments import Attachment, attachment_checked
from whatsapp.greenapi import GreenAPIError, GreenAPINotConfigured
from whatsapp.outbound import ClientNotVisible, message_send, message_send_to_phone
from whatsapp.serializers import MessageSendSerializer, MessageSerializer, StatsQuerySerializer, StatsSerializer
from whatsapp.throttles import SendThrottle
from whatsapp.webhook import answer


@csrf_exempt
def webhook(request: HttpRequest) -> JsonResponse:
    """POST /whatsapp/webhook through Django (tests, the URL table, the schema); gunicorn calls
    whatsapp.webhook.application for it instead, and both answer what whatsapp.webhook.answer says."""
    result = answer(
        method=request.method,
        content_length=request.META.get("CONTENT_LENGTH"),
        authorization=request.META.get("HTTP_AUTHORIZATION", ""),
        read=request.read,
    )
    return JsonResponse(result.body, status=result.status, headers=result.headers or None)


class StatsView(APIView):
    # Every message's text and every client's number: the right to read messages in the admin.
    required_permission = "whatsapp.view_message"

    @extend_schema(
        summary="Message statistics and the most recent messages",
        parameters=[StatsQuerySerializer],
        responses={
            200: StatsSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad `limit`"),
            401: OpenApiResponse(ErrorSerializer, description="Missing or invalid access token"),
            403: forbidden(required_permission),
        },
    )
    def get(self, request: Request) -> Response:
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        # A manager's answer names and counts only the clients their role shows (README, "Who may do what").
        visible = clients_visible(user=request.user)
        return Response(stats.stats(limit=query.validated_data["limit"], visible=visible))


class MessagesView(APIView):
    required_permission = "whatsapp.send_message"
    throttle_classes = [SendThrottle]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        summary="Send a WhatsApp message to a client (by id) or to a phone number",
        request=MessageSendSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: MessageSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Bad phone, empty or too long text; a file empty, too large or a program"
            ),
            401: OpenApiResponse(ErrorSerializer, description="Missing or invalid access token"),
            403: forbidden(required_permission),
            404: OpenApiResponse(
                ErrorSerializer, description="No client with that id, or the number is a client the user may not see"
            ),
            429: TOO_MANY,
            502: OpenApiResponse(ErrorSerializer, description="Green API refused; the message is stored as failed"),
            503: OpenApiResponse(ErrorSerializer, description="Green API is not configured; nothing is stored"),
        },
    )
    def post(self, request: Request) -> Response:
        if upload_too_large(request):
            error = f"The request is over MEDIA_MAX_BYTES ({settings.MEDIA_MAX_BYTES} bytes): the file is too large."
            return Response({"detail": error, "errors": {"file": [error]}}, status=400)
        data = MessageSendSerializer(data=request.data)
        if getattr(request._request, "upload_refused", ""):  # whatsapp.attachments.SizeLimitedUpload
            error = request._request.upload_refused
            return Response({"detail": error, "errors": {"file": [error]}}, status=400)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        try:
            attachment = _attachment(given)
        except ValueError as error:
            return Response({"detail": str(error), "errors": {"file": [str(error)]}}, status=400)
        try:
            if "clientId" in given:
                # A client the user's role does not show (another manager's) is one that does not exist.
                visible = Client.objects.filter(clients_visible(user=request.user))
                client = get_object_or_404(visible, pk=given["clientId"])
                message = message_send(client=client, text=given["text"], attachment=attachment)
            else:
                message = message_send_to_phone(
                    phone=given["phone"],
                    text=given["text"],
                    attachment=attachment,
                    visible=Client.objects.filter(clients_visible(user=request.user)),
                    started=lambda client: conversation_started(client=client, user=request.user),
                )
        except ClientNotVisible:
            raise Http404("No Client matches the given query.") from None
        except GreenAPINotConfigured as error:
            return Response({"detail": str(error)}, status=503)
        except GreenAPIError as error:
            return Response({"detail": str(error)}, status=502)
        except ValueError as error:
            return Response({"detail": str(error), "errors": {"text": [str(error)]}}, status=400)
        return Response(MessageSerializer(message).data, status=201)


def _attachment(given: dict) -> Attachment | None:
    if "file" not in given and "fileUrl" not in given:
        return None
    return attachment_checked(
        upload=given.get("file"), url=given.get("fileUrl", ""), file_name=given.get("fileName", "")
    )


def upload_too_large(request: HttpRequest) -> bool:
    """Refused before the body is read: a request past MEDIA_MAX_BYTES (and room for the form's
    other fields) cannot carry a file we would send."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.MEDIA_MAX_BYTES + 64 * 1024
