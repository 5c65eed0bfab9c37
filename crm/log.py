"""Logging shared by the apps: where lines go, what may appear in them, and how verbose they are."""

import logging
import re
import sys

from django.conf import settings

_LONG_DIGITS = re.compile(r"\d{7,}")


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time of the record, not at start-up.

    The guide's operators read these lines on stdout (journalctl, pm2, gunicorn's output); tests
    read them through pytest's capture, which swaps sys.stdout after logging is configured.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # noqa: ANN201
        return sys.stdout

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def mask(text: str | None) -> str:
    """In LOG_MODE=production, phone numbers become `7999*****67`: logs are not for private data."""
    if settings.LOG_MODE != "production" or not text:
        return text or ""
    return _LONG_DIGITS.sub(_mask_digits, text)


class Masked:
    """`mask(text)` done only if the line is written: a step line that is off costs nothing."""

    __slots__ = ("text",)

    def __init__(self, text: str | None) -> None:
        self.text = text

    def __str__(self) -> str:
        return mask(self.text)


def _mask_digits(match: re.Match) -> str:
    digits = match.group(0)
    return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


def step(logger: logging.Logger, message: str, *args: object) -> None:
    """One of the guide's step-by-step lines (`Finding or creating client…`).

    INFO in development, where the guide's trace is wanted word for word. DEBUG in production,
    where a busy server writes one summary line per notification instead (five times fewer writes,
    see bench/RESULTS.md); WHATSAPP_LOG_LEVEL=DEBUG brings the steps back, masked.
    """
    level = logging.INFO if settings.LOG_MODE == "development" else logging.DEBUG
    if logger.isEnabledFor(level):
        logger.log(level, message, *args)
