"""The webhook's log lines, as the troubleshooting guide shows them.

In LOG_MODE=production phone numbers are masked (`7999*****67`), the full body is not dumped (the
log is not a place for people's private conversations), and each notification is one line.
"""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings

from crm.log import mask, printable

logger = logging.getLogger("whatsapp.webhook")

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


def log_warning(text: str) -> None:
    logger.warning("⚠️ Warning: %s", mask(text))
