from rest_framework import serializers


class StatsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)


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
    text = serializers.CharField(max_length=20_000, trim_whitespace=True)

    def validate_phone(self, value: str) -> str:
        from clients.phones import to_whatsapp_id

        whatsapp_id = to_whatsapp_id(value)
        if whatsapp_id is None:
            raise serializers.ValidationError(f"{value!r} is not a phone number.")
        return whatsapp_id

    def validate(self, attrs: dict) -> dict:
        if ("clientId" in attrs) == ("phone" in attrs):
            raise serializers.ValidationError("Give either clientId or phone.")
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
