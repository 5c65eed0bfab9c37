"""The webhook's log lines, as the troubleshooting guide shows them.

In LOG_MODE=production phone numbers are masked (`7999*****67`), the full body is not dumped (the
log is not a place for people's private conversations), and each notification is one line.
"""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings

from crm.log import mask

logger = logging.getLogger("whatsapp.webhook")

BANNER = "═" * 55


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
        lines.append("📦 Body keys: " + ", ".join(map(str, body)))
    if settings.WEBHOOK_LOG_FULL_BODY:
        lines.append("📦 Full body: " + json.dumps(body, indent=2, ensure_ascii=False))
    lines.append(BANNER)
    logger.info("\n".join(lines))


def log_outcome(body: dict, outcome: str, duplicate: bool) -> None:
    if settings.LOG_MODE == "development" or not logger.isEnabledFor(logging.INFO):
        return
    kind, id_message = body.get("typeWebhook"), body.get("idMessage")
    logger.info("📨 Received webhook from Green API: %s %s %s%s", kind, id_message, outcome, " (duplicate)" * duplicate)


def log_error(what: str, error: object, *, traceback: bool = False) -> None:
    """`❌ Error handling webhook: <which notification>: <why>`; the traceback of a bug only in
    development, since its text cannot be masked."""
    show = traceback and settings.LOG_MODE == "development"
    logger.error("❌ Error handling webhook: %s: %s", mask(what), mask(str(error)), exc_info=show)


def log_warning(text: str) -> None:
    logger.warning("⚠️ Warning: %s", mask(text))
