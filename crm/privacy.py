"""What may reach the logs. In LOG_MODE=production phone numbers are masked (`7999*****67`)."""

import re

from django.conf import settings

_LONG_DIGITS = re.compile(r"\d{7,}")


def _mask_digits(match: re.Match) -> str:
    digits = match.group(0)
    return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


def mask(text: str | None) -> str:
    if settings.LOG_MODE != "production" or not text:
        return text or ""
    return _LONG_DIGITS.sub(_mask_digits, text)
