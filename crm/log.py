"""Logging shared by the apps: where lines go, what may appear in them, and how verbose they are."""

import copy
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping

from django.conf import settings

_LONG_DIGITS = re.compile(r"\d{7,}")
# What could end a log line or rewrite it on a terminal: C0 and C1 controls (\n, \r, ESC, NEL…),
# DEL, and Unicode's line and paragraph separators.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_CONTROLS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time of the record, not at start-up.

    The guide's operators read these lines on stdout (journalctl, pm2, gunicorn's output); tests
    read them through pytest's capture, which swaps sys.stdout after logging is configured.

    With `batch_seconds` (LOG_BATCH_SECONDS, on in production) lines are written a few at a time
    instead of one write and flush each: a line waits at most that long, a warning or an error
    writes at once with everything before it, and the rest is written at exit. Each write is whole
    lines and under 4 KiB, so lines of several workers sharing a pipe never interleave.
    """

    BATCH_CHARS = 1000  # at most 4,000 bytes even all in four-byte characters (PIPE_BUF is 4,096)

    def __init__(self, batch_seconds: float = 0.0) -> None:
        super().__init__(sys.stdout)
        self.batch_seconds = batch_seconds
        self._batch: list[str] = []
        self._chars = 0
        self._oldest = 0.0
        self._timer_pid: int | None = None

    @property
    def stream(self):  # noqa: ANN201
        return sys.stdout

    @stream.setter
    def stream(self, value: object) -> None:
        pass

    def format(self, record: logging.LogRecord) -> str:
        """The line, with what the notification put in it (ids, names, errors) unable to forge another."""
        if record.args:
            record = copy.copy(record)  # other handlers get the record as it was logged
            record.args = _printable_args(record.args)
        return super().format(record)

    def emit(self, record: logging.LogRecord) -> None:
        if not self.batch_seconds:
            super().emit(record)
            return
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)
            return
        self._start_timer()
        now = time.monotonic()
        if not self._batch:
            self._oldest = now
        self._batch.append(line)
        self._chars += len(line)
        if (
            record.levelno >= logging.WARNING
            or self._chars >= self.BATCH_CHARS
            or now - self._oldest >= self.batch_seconds
        ):
            self._write()

    def flush(self) -> None:
        with self.lock:
            self._write()
            super().flush()

    def _write(self) -> None:
        if not self._batch:
            return
        data = "".join(self._batch)
        self._batch.clear()
        self._chars = 0
        try:
            self.stream.write(data)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stdout closed: nowhere left to write

    def _start_timer(self) -> None:
        """One thread per process writes what has waited `batch_seconds`; gunicorn's workers are
        forked from a master that configured logging, so each starts its own, on its first line."""
        if self._timer_pid == os.getpid():
            return
        self._timer_pid = os.getpid()
        self._batch.clear()  # lines of the process this one was forked from are that process's to write
        self._chars = 0

        def tick() -> None:
            while True:
                time.sleep(self.batch_seconds)
                self.flush()

        threading.Thread(target=tick, name="log-writer", daemon=True).start()


def printable(text: str) -> str:
    """`text` on one line: control characters written as escapes (`\\n`, `\\x1b`, `\\u2028`)."""
    return _CONTROLS.sub(_escape, text) if _CONTROLS.search(text) else text


def _escape(match: re.Match) -> str:
    char = match.group(0)
    return _NAMED_CONTROLS.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def _printable_args(args: tuple | Mapping) -> tuple | dict:
    """Numbers stay numbers (for `%d`); anything else becomes its text, made printable. Masked
    values are masked first, so a control character cannot shield the digits after it."""
    if isinstance(args, Mapping):
        return {key: _printable_arg(value) for key, value in args.items()}
    return tuple(_printable_arg(value) for value in args)


def _printable_arg(value: object) -> object:
    if isinstance(value, int | float):
        return value
    return printable(value if isinstance(value, str) else str(value))


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
