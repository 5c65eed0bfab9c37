"""The inbox's JSON API: the same list, filters and roles as the admin's (inbox.services)."""

import uuid

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from crm.api import ErrorSerializer
from crm.openapi import forbidden
from inbox.models import Conversation
from inbox.serializers import (
    ConversationChangeSerializer,
    ConversationListSerializer,
    ConversationQuerySerializer,
    ConversationSerializer,
    ReadSerializer,
)
from inbox.services import (
    InboxFilter,
    conversation_change,
    conversation_read,
    conversations_listed,
    conversations_visible,
)

UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="Missing or invalid access token")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such conversation, or not one this user may see")


def _visible_or_404(request: Request, client_id: str) -> Conversation:
    """Another manager's conversation is answered as one that does not exist: nothing to learn from it.
    The id is read here, not by the URL, so a malformed one gets the API's JSON 404 too."""
    try:
        client_id = str(uuid.UUID(client_id))
    except ValueError:
        raise Http404("No such conversation.") from None
    conversation = (
        Conversation.objects.filter(conversations_visible(user=request.user), pk=client_id)
        .with_activity()
        .select_related("assignee")
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


class ConversationsView(APIView):
    required_permission = "inbox.view_conversation"

    @extend_schema(
        summary="The inbox: conversations this user may see, newest activity first",
        parameters=[ConversationQuerySerializer],
        responses={
            200: ConversationListSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad filter"),
            401: UNAUTHORIZED,
            403: forbidden(required_permission),
        },
    )
    def get(self, request: Request) -> Response:
        query = ConversationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        given = InboxFilter(tab=q["tab"], status=q.get("status", ""), instance=q.get("instance"), order=q["order"])
        rows = list(conversations_listed(user=request.user, given=given)[q["offset"] : q["offset"] + q["limit"] + 1])
        more = len(rows) > q["limit"]
        return Response(
            {
                "results": ConversationSerializer(rows[: q["limit"]], many=True).data,
                "next": q["offset"] + q["limit"] if more else None,
            }
        )


class ConversationView(APIView):
    required_permission = "inbox.change_conversation"

    @extend_schema(
        summary="Change a conversation's status and/or assignee (kept in its history)",
        request=ConversationChangeSerializer,
        responses={
            200: ConversationSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad status, snooze time or assignee"),
            401: UNAUTHORIZED,
            403: forbidden(required_permission),
            404: NOT_FOUND,
        },
    )
    def patch(self, request: Request, client_id: str) -> Response:
        conversation = _visible_or_404(request, client_id)
        data = ConversationChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        assignee: User | object | None = ...
        if "assigneeId" in given:
            assignee = None
            if given["assigneeId"] is not None:
                assignee = User.objects.filter(pk=given["assigneeId"], is_staff=True, is_active=True).first()
                if assignee is None:
                    error = "No active member of staff has this id."
                    return Response({"detail": f"assigneeId: {error}", "errors": {"assigneeId": [error]}}, status=400)
        try:
            conversation_change(
                conversation=conversation,
                actor=request.user,
                status=given.get("status"),
                snoozed_until=given.get("snoozedUntil"),
                assignee=assignee,
                note=given.get("note", ""),
            )
        except ValueError as error:
            return Response({"detail": str(error), "errors": {"status": [str(error)]}}, status=400)
        conversation.refresh_from_db()
        return Response(ConversationSerializer(conversation).data)


class ConversationReadView(APIView):
    required_permission = "inbox.view_conversation"

    @extend_schema(
        summary="Mark the client's messages read (and Green API's chat, with GREEN_API_MARK_READ)",
        request=None,
        responses={200: ReadSerializer, 401: UNAUTHORIZED, 403: forbidden(required_permission), 404: NOT_FOUND},
    )
    def post(self, request: Request, client_id: str) -> Response:
        conversation = _visible_or_404(request, client_id)
        return Response({"marked": conversation_read(conversation=conversation)})
