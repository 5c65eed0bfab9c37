"""What happens to a Green API notification: kept first, then turned into messages and states.

The webhook's modules form a line: webhook.py (HTTP) → services.py (keep, dispatch, retry) →
fast_path.py (the common cases in one statement) or kinds.py (which handler) → messages.py,
statuses.py, instances.py (what each kind does) → rows.py, notifications.py → the models.
"""

from dataclasses import dataclass

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import F

from crm.db import insert_or_skip
from whatsapp import fast_path, fields, kinds, logs
from whatsapp.models import Message, Notification
from whatsapp.notifications import Malformed, MessageNotification, NotProcessed, Parsed, dedupe_key, envelope_of, unwrap
from whatsapp.rows import notification_columns

Outcome = Notification.Outcome


@dataclass(frozen=True)
class Receipt:
    notification_id: int
    outcome: str
    detail: str
    duplicate: bool


def notification_receive(*, raw: bytes, body: dict, replay: bool = False) -> Receipt:
    """Keep the notification and process it, committing both together or keeping it as failed.

    The common case is one transaction: the notification row (already marked processed) and what
    it produced. When processing fails, that transaction rolls back whole and the notification is
    stored on its own, marked failed with the error, for `replay_notifications`: nothing is lost and
    nothing is half-written. A dead database raises (the view answers 503; Green API redelivers).
    A savepoint would give the same guarantee at two more round trips on every notification.
    """
    body = unwrap(body)
    envelope = envelope_of(body)
    key = dedupe_key(body, raw, envelope)
    kind = envelope.type_webhook
    keep = {"raw": raw, "body": body, "key": key, "replay": replay}
    if kind in kinds.IGNORED:
        return _store_outcome(**keep, outcome=Outcome.IGNORED, detail=kinds.IGNORED[kind])
    try:
        parsed = kinds.parse(body, envelope)
    except Malformed as reason:
        logs.log_ignored(kind, envelope.id_message, reason)
        return _store_outcome(**keep, outcome=Outcome.IGNORED, detail=str(reason))
    stored = None if replay else fast_path.store(parsed, raw=raw, key=key)
    if stored is not None:
        return Receipt(*stored)
    try:
        return _process(parsed, **keep)
    except (OperationalError, InterfaceError):
        raise  # the database itself is unavailable: nothing was committed
    except (Malformed, NotProcessed) as reason:
        logs.log_ignored(kind, parsed.envelope.id_message, reason)
        return _store_outcome(**keep, outcome=Outcome.IGNORED, detail=str(reason))
    except Exception as error:  # noqa: BLE001 - any bug or constraint in processing must not lose the notification
        logs.log_error(f"{kind} {parsed.envelope.id_message}", error, traceback=not isinstance(error, DatabaseError))
        return _store_outcome(**keep, outcome=Outcome.FAILED, detail=f"{type(error).__name__}: {error}")


def _process(parsed: Parsed, *, raw: bytes, body: dict, key: str, replay: bool) -> Receipt:
    """The general way: the notification and what its handler does, in one transaction."""
    with transaction.atomic():
        notification, created = _notification_store(raw=raw, body=body, key=key, replay=replay)
        if not created and not replay and _done(notification, parsed):
            logs.log_duplicate(parsed, notification.outcome)
            return Receipt(notification.pk, notification.outcome, notification.detail, duplicate=True)
        outcome, detail = kinds.handler(parsed.envelope.type_webhook)(parsed, notification)
        if not created or (outcome, detail) != (Outcome.PROCESSED, ""):
            notification.finish(outcome, detail)
        return Receipt(notification.pk, outcome, detail, duplicate=False)


def _done(notification: Notification, parsed: Parsed) -> bool:
    """Whether a redelivery is answered as done (Notification.DONE). A message notification whose
    message is gone is not: deleted since, by `clear_whatsapp_messages` or the guide's `DELETE FROM
    messages`, after which the guide sends its test webhook again."""
    if notification.outcome not in Notification.DONE:
        return False
    if notification.outcome == Outcome.PROCESSED and isinstance(parsed, MessageNotification):
        # The message it stored, or the one its edit, deletion or reaction was applied to.
        ids = {parsed.envelope.id_message, parsed.content.target_id} - {""}
        return Message.objects.filter(
            channel=Message.CHANNEL, instance_id=parsed.envelope.instance_id, external_id__in=ids
        ).exists()
    return True


def notification_replay(*, notification: Notification) -> Receipt:
    """Process a kept notification again (after a fix). Safe to repeat: every step is idempotent."""
    raw = notification.body.encode("utf-8")
    try:
        body = fields.loads(raw)
    except ValueError as error:
        detail = f"body is not JSON: {error}"
        return _store_outcome(
            raw=raw, body={}, key=notification.dedupe_key, outcome=Outcome.IGNORED, detail=detail, replay=True
        )
    return notification_receive(raw=raw, body=body, replay=True)


def _notification_store(
    *, raw: bytes, body: dict, key: str, outcome: str = Outcome.PROCESSED, detail: str = "", replay: bool = False
) -> tuple[Notification, bool]:
    row = Notification(**notification_columns(env=envelope_of(body), raw=raw, key=key, outcome=outcome, detail=detail))
    if insert_or_skip(row):
        return row, True
    # A redelivery: count it, and take the row as it is now (locked, so a concurrent first delivery
    # has committed its outcome before we decide whether anything is left to do).
    if not replay:
        Notification.objects.filter(dedupe_key=key).update(deliveries=F("deliveries") + 1)
    return Notification.objects.select_for_update().get(dedupe_key=key), False


def _store_outcome(*, raw: bytes, body: dict, key: str, outcome: str, detail: str, replay: bool = False) -> Receipt:
    """Keep a notification that was not (or could not be) processed, with the reason."""
    with transaction.atomic():
        notification, created = _notification_store(
            raw=raw, body=body, key=key, outcome=outcome, detail=detail, replay=replay
        )
        # A concurrent delivery of the same notification may have processed it meanwhile: keep that.
        if not created and notification.outcome != Outcome.PROCESSED:
            notification.finish(outcome, detail)
    return Receipt(notification.pk, notification.outcome, notification.detail, duplicate=not created)
