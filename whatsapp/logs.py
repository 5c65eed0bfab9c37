"""The webhook's log lines, as the troubleshooting guide shows them.

In LOG_MODE=production phone numbers are masked (`7999*****67`) and the full body is not dumped:
the log is not a place for people's private conversations.
"""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings

from crm.privacy import mask

logger = logging.getLogger("whatsapp.webhook")

BANNER = "═" * 55


def log_received(body: object) -> None:
    if not logger.isEnabledFor(logging.INFO):
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


def log_error(what: str, error: object) -> None:
    logger.error("❌ Error handling webhook: %s: %s", mask(what), mask(str(error)))


def log_warning(text: str) -> None:
    logger.warning("⚠️ Warning: %s", mask(text))
