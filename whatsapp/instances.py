"""Instance events (stateInstanceChanged, statusInstanceChanged, deviceInfo, quotaExceeded,
incomingBlock, incomingCall, outgoingCall): the latest known state of a Green API instance."""

from datetime import datetime

from whatsapp.models import Instance, Notification
from whatsapp.notifications import InstanceNotification, Malformed

Outcome = Notification.Outcome


def instance_event_record(parsed: InstanceNotification, notification: Notification) -> tuple[str, str]:
    env = parsed.envelope
    if not env.instance_id:
        raise Malformed("instanceData.idInstance is missing")
    at = env.timestamp or notification.received_at
    instance, _ = Instance.objects.select_for_update().get_or_create(id_instance=env.instance_id)
    kind = env.type_webhook
    if env.wid and instance.state_changed_at is None:
        instance.wid = env.wid[:64]
    if kind == "stateInstanceChanged" and parsed.state and _newer(instance.state_changed_at, at):
        # wid is "" while logged out (REFERENCE §6): the newest state says which number we are.
        instance.state, instance.state_changed_at, instance.wid = parsed.state[:32], at, env.wid[:64]
    elif kind == "statusInstanceChanged" and parsed.socket_status and _newer(instance.socket_changed_at, at):
        instance.socket_status, instance.socket_changed_at = (
            parsed.socket_status[:16],
            at,
        )
    elif kind == "deviceInfo" and parsed.device:
        # Some carry only `avatarInfo` (REFERENCE §6): no news of the device, which stays as known.
        instance.device = parsed.device
    elif kind == "quotaExceeded":
        instance.quota, instance.quota_exceeded_at = parsed.quota, at
    elif kind == "incomingBlock":
        instance.last_blocked_at = at
    instance.save()
    return Outcome.PROCESSED, _instance_event_detail(parsed)


def _instance_event_detail(parsed: InstanceNotification) -> str:
    kind = parsed.envelope.type_webhook
    return {
        "stateInstanceChanged": parsed.state,
        "statusInstanceChanged": parsed.socket_status,
        "incomingCall": f"call {parsed.call_status} from {parsed.call_from}",
        "outgoingCall": f"outgoing call {parsed.call_status} to {parsed.call_from}",  # `from` is the chat
        "deviceInfo": kind if parsed.device else "no deviceData: the device is kept as it was",
        "incomingBlock": f"blocked by {parsed.blocked_chat}",
        "quotaExceeded": str(parsed.quota.get("status", "")),
    }.get(kind, kind)


def _newer(stored: datetime | None, at: datetime) -> bool:
    return stored is None or at >= stored
