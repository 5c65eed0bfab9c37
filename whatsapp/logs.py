"""The webhook's log lines, as the troubleshooting guide shows them: every one is written here.

In LOG_MODE=production phone numbers are masked (`7999*****67`), the full body is not dumped (the
log is not a place for people's private conversations), and each notification is one line; the
step-by-step lines are DEBUG there (crm.log.step). Finding and creating clients is logged by
clients.services (log_finding, log_found, log_created), whichever write path does it.
"""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings

from crm.log import Masked, mask, printable, step
from whatsapp.notifications import ChatId, MessageNotification, Parsed

logger = logging.getLogger(__name__)

BANNER = "═" * 55
ID_CHARS = 128  # an idMessage is stored cut so; more in a line is only what a sender chose


def log_received(body: object) -> None:
    """The guide's banner (development); production writes log_outcome's one line instead."""
    if settings.LOG_MODE != "development" or not logger.isEnabledFor(logging.INFO):
        return
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    kind = "object" if isinstance(body, dict) else ("array" if isinstance(body, list) else type(body).__name__)
    lines = [
        BANNER,
        "📨 Received webhook from Green API",
        f"📅 Time: {now}",
        f"📦 Body type: {kind}",
    ]
    if isinstance(body, dict):
        lines.append("📦 Body keys: " + printable(", ".join(map(str, body))))
    if settings.WEBHOOK_LOG_FULL_BODY:
        # JSON escapes C0 controls but not DEL, C1 or U+2028/9: each of its lines made printable too.
        dump = json.dumps(body, indent=2, ensure_ascii=False).split("\n")
        lines.append("📦 Full body: " + "\n".join(map(printable, dump)))
    lines.append(BANNER)
    # One message of several lines, the guide's banner; what came in the body is escaped above.
    logger.info("\n".join(lines))


def log_outcome(body: dict, outcome: str, duplicate: bool) -> None:
    if settings.LOG_MODE == "development" or not logger.isEnabledFor(logging.INFO):
        return
    # Masked as in the warning and error lines: whatever the sender put in them, numbers included.
    kind, id_message = (mask(str(body.get(key))[:ID_CHARS]) for key in ("typeWebhook", "idMessage"))
    logger.info("📨 Received webhook from Green API: %s %s %s%s", kind, id_message, outcome, " (duplicate)" * duplicate)


def log_error(what: str, error: object, *, traceback: bool = False) -> None:
    """`❌ Error handling webhook: <which notification>: <why>`; the traceback of a bug only in
    development, since its text cannot be masked."""
    show = traceback and settings.LOG_MODE == "development"
    logger.error("❌ Error handling webhook: %s: %s", mask(what), mask(str(error)), exc_info=show)


def log_warning(message: str, *args: object) -> None:
    """`⚠️ Warning: <message % args>`, what came in the notification masked."""
    logger.warning("⚠️ Warning: " + message, *(Masked(str(arg)) for arg in args))


def log_ignored(kind: str, id_message: str, reason: object) -> None:
    log_warning("notification %s %s ignored: %s", kind or "?", id_message, reason)


def log_duplicate(parsed: Parsed, outcome: str) -> None:
    env = parsed.envelope
    step(logger, "Duplicate notification %s %s: already %s", env.type_webhook, env.id_message, outcome)


def log_extracted(person: ChatId) -> None:
    step(logger, "Extracted phone number from chatId %s: %s", Masked(person.raw), Masked(person.value))


def log_processed(parsed: MessageNotification, *, client_id: object, who: str) -> None:
    outbound = parsed.envelope.type_webhook != "incomingMessageReceived"
    direction = "Outgoing" if outbound else "Incoming"
    step(
        logger,
        "%s message processed: %s from client %s (%s)",
        direction,
        parsed.envelope.id_message,
        client_id,
        Masked(who),
    )


def log_applied(type_message: str, message_id: object) -> None:
    step(logger, "%s applied to message %s", type_message, message_id)


def log_already_stored(external_id: str, changed: bool) -> None:
    step(logger, "Message %s already stored; %s", external_id, "updated" if changed else "unchanged")


def log_linked(lid: str, client_id: object) -> None:
    step(logger, "Linked lid %s to client %s", lid, client_id)
