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
