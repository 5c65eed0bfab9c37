from rest_framework import serializers

from inbox.models import Conversation
from inbox.services import TABS


class ConversationQuerySerializer(serializers.Serializer):
    tab = serializers.ChoiceField(choices=TABS, default="all")
    status = serializers.ChoiceField(choices=Conversation.Status.values, required=False)
    instance = serializers.IntegerField(required=False, min_value=0)
    order = serializers.ChoiceField(
        choices=["latest", "waiting"],
        default="latest",
        help_text="latest: newest activity first; waiting: longest waiting first",
    )
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=100_000, default=0)


class AssigneeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(allow_blank=True)


class ConversationSerializer(serializers.Serializer):
    clientId = serializers.UUIDField(source="client_id")  # noqa: N815
    clientName = serializers.CharField(source="client.name", allow_blank=True)  # noqa: N815
    clientWhatsappId = serializers.CharField(source="client.whatsapp_id", allow_null=True)  # noqa: N815
    # A group chat's id (120363043968066561), when the conversation is a WhatsApp group's.
    clientWhatsappGroup = serializers.CharField(source="client.whatsapp_group", allow_null=True)  # noqa: N815
    status = serializers.ChoiceField(choices=Conversation.Status.values, source="shown_status")
    snoozedUntil = serializers.DateTimeField(source="snoozed_until", allow_null=True)  # noqa: N815
    assignee = AssigneeSerializer(allow_null=True)
    instance = serializers.IntegerField(source="instance_id")
    lastMessageAt = serializers.DateTimeField(source="client.activity.last_message_at", allow_null=True)  # noqa: N815
    lastDirection = serializers.CharField(source="client.activity.last_direction", allow_blank=True)  # noqa: N815
    lastPreview = serializers.CharField(source="client.activity.last_preview", allow_blank=True)  # noqa: N815
    unread = serializers.IntegerField(source="client.activity.unread_count")
    waitingSince = serializers.DateTimeField(source="waiting_since", allow_null=True)  # noqa: N815


class ConversationListSerializer(serializers.Serializer):
    results = ConversationSerializer(many=True)
    next = serializers.IntegerField(allow_null=True, help_text="the offset of the next page; null: the last page")


class ConversationChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.values, required=False)
    snoozedUntil = serializers.DateTimeField(required=False, allow_null=True)  # noqa: N815
    assigneeId = serializers.IntegerField(required=False, allow_null=True, help_text="null: nobody")  # noqa: N815
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="how many messages were unread")
