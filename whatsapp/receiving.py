"""Receiving without a public URL: the instance's notification queue drained over Green API's HTTP
API (REFERENCE §9), each notification given to the webhook's own `answer()`.

So a notification is decoded, logged (the guide's lines), kept, deduplicated and processed exactly
as when Green API posts it; only the transport differs. It is deleted from the queue only after
`answer()` said 200, that is after it is committed here: a crash in between means Green API gives
it again, and the webhook's dedup answers that as a duplicate. Green API rate-limiting us (429),
timing out or being down, and our database being down (503) are waited out with a backoff; the
queue keeps everything for 24 hours meanwhile.
"""

import io
import json
import logging
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection

from whatsapp import logs, webhook
from whatsapp.greenapi import GreenAPI, GreenAPIError, Received
from whatsapp.services import notification_receive

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


@dataclass
class Drained:
    """What a run of the receiver did."""

    received: int = 0
    duplicates: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Backoff:
    """1, 2, 4 … 60 s between attempts while something fails; back to 1 s after a success."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.seconds = 1.0

    def wait(self, why: object) -> None:
        logger.warning("Receiving paused for %g s: %s", self.seconds, why)
        self.stop.wait(self.seconds)
        self.seconds = min(MAX_BACKOFF, self.seconds * 2)

    def reset(self) -> None:
        self.seconds = 1.0


def notifications_drain(
    *, api: GreenAPI, stop: threading.Event, once: bool = False, receive_timeout: int = 5
) -> Drained:
    """Take notifications from the queue until `stop` is set (or, with `once`, the queue is empty)."""
    drained = Drained()
    backoff = Backoff(stop)
    while not stop.is_set():
        try:
            received = api.receive_notification(receive_timeout)
        except GreenAPIError as error:
            backoff.wait(error)
            continue
        if received is None:
            backoff.reset()
            if once:
                break
            continue
        if notification_take(api=api, received=received, drained=drained, backoff=backoff):
            backoff.reset()
    return drained


def notification_take(*, api: GreenAPI, received: Received, drained: Drained, backoff: Backoff) -> bool:
    """Keep one queued notification as the webhook would, then delete it from the queue; False
    when it could not be kept (it stays in the queue and comes back)."""
    _check_connection()
    try:
        status, receipt = _keep(received)
    except DatabaseError as error:  # only where answer() itself does not catch it: the fallback
        logs.log_error("database unavailable", error)
        status, receipt = 503, {}
    finally:
        _check_connection()
    if status == 503:
        backoff.wait("the database is unavailable; the notification stays in Green API's queue")
        return False
    drained.received += 1
    drained.duplicates += receipt.get("duplicate") is True
    outcome = str(receipt.get("outcome", "ignored"))
    drained.outcomes[outcome] = drained.outcomes.get(outcome, 0) + 1
    while not backoff.stop.is_set():
        try:
            api.delete_notification(received.receipt_id)
            return True
        except GreenAPIError as error:
            # Kept here already: deleting again is safe, and if we stop first it is a duplicate later.
            backoff.wait(error)
    return True


def _check_connection() -> None:
    """What the webhook does around each request: a broken connection is closed, and the next
    notification opens a new one once the database is back. Never inside a transaction (the
    caller's, a test's): closing would end it."""
    if not connection.in_atomic_block:
        webhook.check_connection()


def _keep(received: Received) -> tuple[int, dict]:
    """The webhook's answer for this body: its status, and its JSON (the receipt on 200)."""
    raw = _bytes(received.body)
    answer = webhook.answer(
        method="POST",
        content_length=str(len(raw)),
        authorization=f"Bearer {settings.GREEN_API_WEBHOOK_TOKEN}",
        read=io.BytesIO(raw).read,
    )
    if answer.status in (200, 503):
        return answer.status, answer.body
    # Refused as a webhook body (not a JSON object, larger than WEBHOOK_MAX_BODY_BYTES): Green API
    # would give it forever, holding the queue. Kept as it came, for a human to look at.
    logs.log_error(f"queued notification {received.receipt_id}", answer.body.get("error", answer.status))
    wrapper = {"receiptId": received.receipt_id, "body": received.body}
    receipt = notification_receive(raw=_bytes(wrapper), body=wrapper)
    return 200, {"outcome": receipt.outcome, "duplicate": receipt.duplicate}


def _bytes(body: object) -> bytes:
    text = json.dumps(body, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (valid JSON, \ud800): written as JSON escapes it
        return json.dumps(body).encode("ascii")
