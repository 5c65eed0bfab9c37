"""Filling gaps: every message in Green API's history that is not here yet, stored as the webhook
would have stored it, and marked as recovered.

Green API keeps undelivered notifications for 24 hours only, and some messages never reach its
queue at all (green-api issues #601, #1020, #1118). Its history does have them: lastIncomingMessages
and lastOutgoingMessages for the last N minutes (their journal may lag up to 2 minutes), and
getChatHistory for each chat that had activity (REFERENCE §15). Each message found that is neither
stored nor known as a notification here is written in the webhook's shape (`whatsapp.history`) and
given to the webhook's own `notification_receive`: the client is matched, the message stored once
(the unique constraints decide a race with the webhook), its notification kept.
"""

import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from jobs.services import job, periodic
from whatsapp import logs
from whatsapp.greenapi import GreenAPI, GreenAPIError, GreenAPINotConfigured
from whatsapp.history import as_notification, type_webhook_of
from whatsapp.kinds import MESSAGE_KINDS
from whatsapp.models import Instance, Message, Notification
from whatsapp.services import notification_receive

logger = logging.getLogger("whatsapp.webhook")

JOURNAL_MINUTES = 1440  # what lastIncomingMessages and lastOutgoingMessages reach back to
OVERLAP_MINUTES = 3  # the journal lags up to 2 min: each run looks again at the end of the last
CHAT_HISTORY_COUNT = 100
LAST_RUN_KEY = "whatsapp:backfill:last"


@dataclass
class Backfill:
    """What one run found and stored (kept in the cache for the doctor)."""

    at: str
    minutes: int
    seen: int = 0
    recovered: int = 0
    chats: int = 0
    recovered_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.errors


def messages_backfill(*, api: GreenAPI, minutes: int, max_chats: int = 50) -> Backfill:
    """Store what Green API's history has of the last `minutes` minutes and we do not."""
    minutes = max(1, min(JOURNAL_MINUTES, minutes))
    run = Backfill(at=timezone.now().isoformat(), minutes=minutes)
    since = time.time() - minutes * 60
    found = _history(api, run, minutes=minutes, since=since, max_chats=max_chats)
    run.seen = len(found)
    missing = _not_stored(api.instance_number, found)
    wid = Instance.objects.filter(id_instance=api.instance_number).values_list("wid", flat=True).first() or ""
    for item, source in sorted(missing, key=lambda pair: _number(pair[0].get("timestamp"))):
        if _recover(item, source=source, instance_id=api.instance_number, wid=wid):
            run.recovered += 1
            run.recovered_ids.append(str(item.get("idMessage")))
    del run.recovered_ids[100:]
    cache.set(LAST_RUN_KEY, asdict(run), timeout=None)
    return run


def _history(api: GreenAPI, run: Backfill, *, minutes: int, since: float, max_chats: int) -> dict[str, tuple]:
    """Every message of the window by idMessage: the journals, then each active chat's history."""
    found: dict[str, tuple[dict, str]] = {}
    for source, read in (
        ("lastIncomingMessages", api.last_incoming_messages),
        ("lastOutgoingMessages", api.last_outgoing_messages),
    ):
        _add(found, _asked(run, source, lambda read=read: read(minutes)), source, since=0)
    chats = list(dict.fromkeys(str(item.get("chatId")) for item, _ in found.values() if item.get("chatId")))
    run.chats = len(chats)
    for chat in chats[:max_chats]:
        items = _asked(run, f"getChatHistory {chat}", lambda chat=chat: api.get_chat_history(chat, CHAT_HISTORY_COUNT))
        _add(found, items, "getChatHistory", since=since)
    if len(chats) > max_chats:
        run.errors.append(f"{len(chats) - max_chats} of {len(chats)} active chats not read (at most {max_chats})")
    return found


def _asked(run: Backfill, what: str, call: object) -> list[dict]:
    try:
        return call()
    except GreenAPIError as error:
        run.errors.append(f"{what}: {error}")
        logs.log_warning(f"backfill: {what.split(' ')[0]} failed: {error}")
        return []


def _add(found: dict, items: Iterable[dict], source: str, *, since: float) -> None:
    for item in items:
        id_message = item.get("idMessage")
        if isinstance(id_message, str) and id_message and _number(item.get("timestamp")) >= since:
            found.setdefault(id_message[:128], (item, source))


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def _not_stored(instance_id: int, found: dict[str, tuple]) -> list[tuple[dict, str]]:
    """The messages found that are neither stored nor known as a notification here.

    A notification already kept (failed, or its message deleted since by the guide's clean-up) is
    the webhook's to retry and staff's to replay, not the backfill's to bring back.
    """
    ids = list(found)
    stored: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stored |= set(
            Message.objects.filter(channel="whatsapp", instance_id=instance_id, external_id__in=chunk).values_list(
                "external_id", flat=True
            )
        )
        keys = [f"{instance_id}:{kind}:{id_message}:" for id_message in chunk for kind in MESSAGE_KINDS]
        known = Notification.objects.filter(dedupe_key__in=keys).values_list("id_message", flat=True)
        stored |= set(known)
    return [pair for id_message, pair in found.items() if id_message not in stored]


def _recover(item: dict, *, source: str, instance_id: int, wid: str) -> bool:
    """Store one message as the webhook would; True when this run stored it (and not the webhook)."""
    body = as_notification(item, instance_id=instance_id, wid=wid, source=source)
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")
    receipt = notification_receive(raw=raw, body=body)
    if receipt.duplicate or receipt.outcome != Notification.Outcome.PROCESSED:
        return False
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(channel="whatsapp", instance_id=instance_id, external_id=body["idMessage"])
            .filter(notification_id=receipt.notification_id, recovered_at=None)
            .first()
        )
        if message is None:  # an edit or reaction applied to a stored message, or the webhook's row
            return False
        message.recovered_at = timezone.now()
        status = str(item.get("statusMessage") or "")
        message.advance_status(status)  # an outgoing message's ticks, as the history has them
        message.save(update_fields=["recovered_at", "status", "status_description", "updated_at"])
    logger.info(
        "Recovered message %s from %s (%s): the webhook never brought it",
        message.external_id,
        source,
        type_webhook_of(item),
    )
    return True


def last_backfill() -> dict | None:
    """What the latest run reported, if the cache still has it."""
    report = cache.get(LAST_RUN_KEY)
    return report if isinstance(report, dict) else None


# ---------------------------------------------------------------------------------------------
# The periodic run, on the job layer (jobs/services.py `periodic`).


def window_minutes(*, now: datetime | None = None) -> int:
    """Since the last complete run (a little before it: the journal lags), else since the last
    notification that came by itself, else the whole journal; at least the interval."""
    now = now or timezone.now()
    report = last_backfill()
    start = None
    if report and not report.get("errors"):
        start = datetime.fromisoformat(report["at"])
    else:
        last = Notification.objects.exclude(body__contains='"recoveredFrom"').order_by("-id").first()
        start = last.received_at if last else None
    if start is None:
        return JOURNAL_MINUTES
    minutes = math.ceil((now - start) / timedelta(minutes=1)) + OVERLAP_MINUTES
    return max(settings.GREEN_API_BACKFILL_MINUTES + OVERLAP_MINUTES, min(JOURNAL_MINUTES, minutes))


def backfill_every() -> float | None:
    """Seconds between runs; None when off (GREEN_API_BACKFILL_MINUTES=0) or Green API is not set up."""
    if not settings.GREEN_API_BACKFILL_MINUTES:
        return None
    try:
        GreenAPI.from_settings()
    except GreenAPINotConfigured:
        return None
    return settings.GREEN_API_BACKFILL_MINUTES * 60.0


@periodic(every=backfill_every)
@job(attempts=1, backoff_seconds=60)
def backfill_periodic() -> dict:
    """One periodic run; the next is scheduled when it ends, however it ends."""
    if backfill_every() is None:
        return {"skipped": "GREEN_API_BACKFILL_MINUTES is 0, or Green API is not configured"}
    run = messages_backfill(api=GreenAPI.from_settings(), minutes=window_minutes())
    if run.recovered:
        logs.log_warning(f"backfill recovered {run.recovered} message(s) the webhook missed (whatsapp_doctor says why)")
    return {key: value for key, value in asdict(run).items() if key != "recovered_ids"}
