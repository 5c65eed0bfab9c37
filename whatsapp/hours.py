"""Business hours: a client who writes while an instance is closed gets one automatic reply per chat
per day (the day in the instance's time zone), when staff turned it on (off by default).

Both write paths call `auto_reply_consider` for a client's new message, in the transaction that
stores it (whatsapp/messages.py, whatsapp/fast_path.py); nothing else does, so our own messages,
statuses and redeliveries (the message is stored already: nothing new) never reply, and it turns
away what the backfill recovers from Green API's history and anything that arrives late. The reply's
row (AutoReply, unique per instance, chat and day) and its job commit together (with the message on
the general way; right after the fast path's own statement committed it otherwise); a second message at
the same moment meets the unique row and does nothing, so two replies never go. The job
(`auto_reply_send`, in the Procfile's worker) sends it the way staff replies go: stored first as a
message, then Green API's sendMessage (whatsapp/outbound.py).
"""

import logging
import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from crm.db import insert_or_skip
from jobs.services import GiveUp, job
from whatsapp.models import AutoReply, Instance, Message
from whatsapp.notifications import MessageNotification
from whatsapp.placeholders import placeholders_render

logger = logging.getLogger(__name__)

# A message that reaches us this late (a replay after a fix, the backfill's history, Green API's
# queue after an outage) was written hours ago: an automatic "we are closed" now would be news to
# nobody, so it gets none.
MAX_LATE = timedelta(minutes=30)
# How long a process trusts what it read of an instance's hours: the webhook's common case reads
# nothing per message, and a change in the admin applies within this many seconds everywhere.
CONFIG_SECONDS = 10.0


@dataclass(frozen=True)
class Hours:
    zone: ZoneInfo
    text: str
    openings: dict[int, tuple[tuple[time, time], ...]]

    def open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        at = local.time()
        openings = self.openings.get(local.weekday(), ())
        return any(opens <= at and (closes == time.min or at < closes) for opens, closes in openings)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


_known: dict[int, tuple[float, Hours | None]] = {}


def hours_of(instance_id: int) -> Hours | None:
    """The instance's hours when its automatic reply is on; None otherwise (the default)."""
    now = clock.monotonic()
    cached = _known.get(instance_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    instance = Instance.objects.filter(pk=instance_id, auto_reply_enabled=True).first()
    hours = None
    if instance is not None and instance.auto_reply_text.strip():
        openings: dict[int, list[tuple[time, time]]] = {}
        for row in instance.opening_hours.all():
            openings.setdefault(row.weekday, []).append((row.opens, row.closes))
        hours = Hours(instance.zone, instance.auto_reply_text, {day: tuple(o) for day, o in openings.items()})
    _known[instance_id] = (now + CONFIG_SECONDS, hours)
    return hours


def hours_forget() -> None:
    """Read every instance's hours again at the next message (tests; a process's own admin change)."""
    _known.clear()


def auto_reply_consider(*, parsed: MessageNotification, message: Message) -> AutoReply | None:
    """After a client's new message is stored, in its transaction: the automatic reply it earns, or None.

    Only a client's own chat: a group is many people, and a reply there would go to all of them."""
    if message.direction != Message.Direction.INBOUND or parsed.envelope.recovered:
        return None
    if parsed.is_group or not message.chat_id.endswith(("@c.us", "@lid")):
        return None
    hours = hours_of(message.instance_id)
    if hours is None or message.sent_at < timezone.now() - MAX_LATE or hours.open_at(message.sent_at):
        return None
    reply = AutoReply(
        instance_id=message.instance_id,
        chat_id=message.chat_id,
        day=hours.day_of(message.sent_at),
        client_id=message.client_id,
    )
    with transaction.atomic(savepoint=False):
        # Two messages at once both try; the unique row lets one through (see the module's docstring).
        if not insert_or_skip(reply):
            return None
        auto_reply_send.enqueue(auto_reply_id=reply.pk)
    return reply


def auto_reply_text(*, instance: Instance, client_name: str) -> str:
    return placeholders_render(instance.auto_reply_text, {"client_name": client_name}).strip()


@job(attempts=5, backoff_seconds=30)
def auto_reply_send(auto_reply_id: int) -> str:
    """Store the reply as our message, then send it. Never twice: once stored, a second run (a retry, a
    job taken again) finds it and stops; a send that fails leaves the message failed, with the reason,
    for staff to see (sending again could make a second reply if the first did go)."""
    from whatsapp.greenapi import GreenAPIError, GreenAPINotConfigured
    from whatsapp.outbound import message_deliver, message_store
    from whatsapp.placeholders import PlaceholderError
    from whatsapp.replies import client_name

    with transaction.atomic():
        reply = AutoReply.objects.select_for_update().select_related("client").filter(pk=auto_reply_id).first()
        if reply is None or reply.message_id is not None:
            return "no such automatic reply" if reply is None else "stored already"
        instance = Instance.objects.filter(pk=reply.instance_id, auto_reply_enabled=True).first()
        if instance is None:
            return "turned off since"
        try:
            text = auto_reply_text(instance=instance, client_name=client_name(reply.client))
            message = message_store(client=reply.client, text=text)
        except (GreenAPINotConfigured, PlaceholderError, ValueError) as error:
            raise GiveUp(f"automatic reply not sent: {error}") from None
        reply.message = message
        reply.save(update_fields=["message"])
    try:
        message_deliver(message=message)
    except GreenAPIError as error:
        return f"failed: {error}"
    logger.info("Automatic reply %s sent to client %s", message.pk, reply.client_id)
    return "sent"
