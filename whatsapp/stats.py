"""The numbers behind GET /whatsapp/stats, the admin's index page and the doctor."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from clients.models import Client
from crm.paginator import count_shown
from whatsapp.media_views import kept_file, media_json
from whatsapp.models import ClientCount, Instance, Message, MessageCount, Notification


def iso(value: datetime | None) -> str | None:
    """`2024-01-15T10:30:00.000Z`, as the guide's answers show times."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _messages(visible: Q | None) -> QuerySet[Message]:
    """WhatsApp's messages of the clients `visible` names (none, or Q(): every client)."""
    rows = Message.objects.filter(channel="whatsapp")
    if visible:
        rows = rows.filter(client_id__in=Client.objects.filter(visible).values("pk"))
    return rows


def recent_messages(*, limit: int, visible: Q | None = None) -> list[dict]:
    rows = (
        _messages(visible)
        .select_related("media")
        .order_by("-created_at")
        .only(
            "id",
            "content",
            "client__name",
            "client__whatsapp_id",
            "direction",
            "created_at",
            "external_id",
            "status",
            "type_message",
            *(f"media__{name}" for name in ("id", "state", "file_name", "content_type", "size", "reason")),
        )
        .select_related("client")[:limit]
    )
    return [
        {
            "id": str(m.id),
            "content": m.content,
            "clientId": str(m.client_id),
            "clientName": m.client.name,
            "clientWhatsappId": m.client.whatsapp_id,
            "direction": m.direction,
            "createdAt": iso(m.created_at),
            "externalId": m.external_id,
            "status": m.status,
            "type": m.type_message,
            "media": media_json(kept_file(m)),
        }
        for m in rows
    ]


def message_counts(*, visible: Q | None = None) -> dict:
    """Totals by direction and by status: from the trigger-kept counters on PostgreSQL (flat at any
    table size), by counting the rows on SQLite (development, where there are no triggers) and for
    a user who sees only some clients (`visible`: their messages are counted)."""
    if connection.vendor == "postgresql" and not visible:
        rows = MessageCount.objects.filter(channel="whatsapp").values("direction", "status").annotate(total=Sum("n"))
    else:
        rows = _messages(visible).values("direction", "status").annotate(total=Count("id"))
    rows = rows.order_by()
    by_direction: dict[str, int] = {d: 0 for d in Message.Direction.values}
    by_status: dict[str, int] = {}
    for row in rows:
        if row["total"]:
            by_direction[row["direction"]] = by_direction.get(row["direction"], 0) + row["total"]
            by_status[row["status"]] = by_status.get(row["status"], 0) + row["total"]
    return {"total": sum(by_direction.values()), "byDirection": by_direction, "byStatus": by_status}


def clients_with_whatsapp(*, visible: Q | None = None) -> int:
    if connection.vendor == "postgresql" and not visible:
        return ClientCount.objects.aggregate(total=Sum("n"))["total"] or 0
    return Client.objects.filter(visible or Q()).exclude(whatsapp_id=None, whatsapp_lid=None).count()


def last_notification() -> Notification | None:
    return Notification.objects.order_by("-id").only("received_at", "type_webhook", "id_message").first()


def failed_notifications_since(since: datetime) -> int:
    return Notification.objects.filter(outcome=Notification.Outcome.FAILED, received_at__gte=since).count()


def instances() -> list[dict]:
    return [
        {
            "idInstance": i.id_instance,
            "wid": i.wid,
            "state": i.state or None,
            "stateChangedAt": iso(i.state_changed_at),
            "socketStatus": i.socket_status or None,
        }
        for i in Instance.objects.all()
    ]


def stats(*, limit: int, visible: Q | None = None) -> dict:
    """The guide's answer. `visible` (clients.visibility.clients_visible) limits what names a client
    (the recent messages) and what is counted of them (messages, clients, recovered ones) to the
    clients the user may see; the webhook's and the instances' state is the system's, about no client."""
    counts = message_counts(visible=visible)
    last = last_notification()
    known = instances()
    return {
        "totalMessages": counts["total"],
        "recentMessages": recent_messages(limit=limit, visible=visible),
        "clientsWithWhatsApp": clients_with_whatsapp(visible=visible),
        "messagesByDirection": counts["byDirection"],
        "messagesByStatus": counts["byStatus"],
        "lastNotificationAt": iso(last.received_at) if last else None,
        "lastNotificationType": last.type_webhook if last else None,
        "instanceState": known[0]["state"] if len(known) == 1 else None,
        "instances": known,
        "failedNotificationsLast24h": failed_notifications_since(timezone.now() - timedelta(hours=24)),
        # Stored by the backfill from Green API's history: each one a message the webhook missed.
        "recoveredMessages": _messages(visible).filter(recovered_at__isnull=False).count(),
    }


def dashboard() -> dict:
    """The admin's index page: today and the last 7 days by direction, and the state of things."""
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    week_ago = now - timedelta(days=7)
    # Counted up to ADMIN_EXACT_COUNT_LIMIT, estimated past it: a week at a busy business is
    # hundreds of thousands of rows, which took a second to count on every visit to the index.
    messages = Message.objects.filter(channel="whatsapp")
    by_direction = {
        direction: {
            "today": count_shown(messages.filter(direction=direction, created_at__gte=midnight)),
            "week": count_shown(messages.filter(direction=direction, created_at__gte=week_ago)),
        }
        for direction in Message.Direction.values
    }
    last = last_notification()
    return {
        "messages": by_direction,
        "today_since": midnight.date().isoformat(),
        "week_since": week_ago.date().isoformat(),
        "clients_with_whatsapp": clients_with_whatsapp(),
        "last_notification": last,
        "instances": Instance.objects.all()[:5],
        "failed_24h": failed_notifications_since(now - timedelta(hours=24)),
        "failed_since": (now - timedelta(hours=24)).date().isoformat(),
    }
