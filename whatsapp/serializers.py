from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StatsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)


class MediaSerializer(serializers.Serializer):
    """A message's file: whether we keep it, and where to GET it (the same Bearer token)."""

    state = serializers.ChoiceField(choices=["waiting", "stored", "failed", "gone"])
    url = serializers.CharField(allow_null=True, help_text="/whatsapp/media/<id> once stored; null before")
    fileName = serializers.CharField(allow_blank=True)  # noqa: N815
    contentType = serializers.CharField(allow_null=True, help_text="Read from the file's bytes")  # noqa: N815
    size = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True, help_text="Why it is not stored (yet)")


class RecentMessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    content = serializers.CharField(allow_blank=True)
    clientId = serializers.UUIDField()  # noqa: N815 - the guide's JSON keys
    clientName = serializers.CharField(allow_blank=True)  # noqa: N815
    clientWhatsappId = serializers.CharField(allow_null=True)  # noqa: N815
    direction = serializers.ChoiceField(choices=["inbound", "outbound"])
    createdAt = serializers.DateTimeField()  # noqa: N815
    externalId = serializers.CharField(allow_null=True)  # noqa: N815
    status = serializers.CharField()
    type = serializers.CharField(allow_blank=True)
    media = MediaSerializer(allow_null=True, help_text="null for a message without a file")


class InstanceSerializer(serializers.Serializer):
    idInstance = serializers.IntegerField()  # noqa: N815
    wid = serializers.CharField(allow_blank=True)
    state = serializers.CharField(allow_null=True)
    stateChangedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    socketStatus = serializers.CharField(allow_null=True)  # noqa: N815


class StatsSerializer(serializers.Serializer):
    totalMessages = serializers.IntegerField()  # noqa: N815
    recentMessages = RecentMessageSerializer(many=True)  # noqa: N815
    clientsWithWhatsApp = serializers.IntegerField()  # noqa: N815
    messagesByDirection = serializers.DictField(child=serializers.IntegerField())  # noqa: N815
    messagesByStatus = serializers.DictField(child=serializers.IntegerField())  # noqa: N815
    lastNotificationAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    lastNotificationType = serializers.CharField(allow_null=True)  # noqa: N815
    instanceState = serializers.CharField(allow_null=True)  # noqa: N815
    instances = InstanceSerializer(many=True)
    failedNotificationsLast24h = serializers.IntegerField()  # noqa: N815
    recoveredMessages = serializers.IntegerField(  # noqa: N815
        help_text="Messages the backfill stored from Green API's history: the webhook missed each of them."
    )


class MessageSendSerializer(serializers.Serializer):
    clientId = serializers.UUIDField(required=False)  # noqa: N815
    phone = serializers.CharField(required=False, max_length=64)
    text = serializers.CharField(
        max_length=20_000,
        trim_whitespace=True,
        required=False,
        allow_blank=True,
        default="",
        help_text="The message; with a file, its caption (may be empty)",
    )
    file = serializers.FileField(
        required=False, help_text="A file to send (multipart/form-data), at most MEDIA_MAX_BYTES (100 MiB)"
    )
    fileUrl = serializers.URLField(  # noqa: N815
        required=False, max_length=2048, help_text="Or a link to the file, which Green API fetches (sendFileByUrl)"
    )
    fileName = serializers.CharField(  # noqa: N815
        required=False, max_length=255, help_text="The name the client sees; by default the upload's or the link's"
    )

    def validate_phone(self, value: str) -> str:
        from clients.phones import to_whatsapp_id

        whatsapp_id = to_whatsapp_id(value)
        if whatsapp_id is None:
            raise serializers.ValidationError(f"{value!r} is not a phone number.")
        return whatsapp_id

    def validate(self, attrs: dict) -> dict:
        if ("clientId" in attrs) == ("phone" in attrs):
            raise serializers.ValidationError("Give either clientId or phone.")
        if "file" in attrs and "fileUrl" in attrs:
            raise serializers.ValidationError({"fileUrl": ["Give either a file or fileUrl, not both."]})
        return attrs


class MessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    clientId = serializers.UUIDField(source="client_id")  # noqa: N815
    direction = serializers.CharField()
    content = serializers.CharField()
    status = serializers.CharField()
    statusDescription = serializers.CharField(source="status_description", allow_blank=True)  # noqa: N815
    externalId = serializers.CharField(source="external_id", allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    type = serializers.CharField(source="type_message", allow_blank=True)
    media = serializers.SerializerMethodField()

    @extend_schema_field(MediaSerializer(allow_null=True))
    def get_media(self, message: object) -> dict | None:
        from whatsapp.media_views import kept_file, media_json

        return media_json(kept_file(message))
