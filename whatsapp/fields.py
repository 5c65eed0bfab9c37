"""Reading one value of Green API's JSON leniently: what is missing, of the wrong type, or absurd
reads as absent (`{}`, `""`, None) instead of raising (REFERENCE §1, §12)."""

import json
import math
import re
from datetime import UTC, datetime
from typing import Any


def loads(text: str | bytes) -> Any:
    """json.loads, except that an integer too long for int() (over 4,300 digits) is read as ±infinity,
    which every reader below takes as absent: the body around it is still a notification to keep."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # int()'s digit limit; the slower parse only for such a body
        return json.loads(text, parse_int=_long_int)


def _long_int(digits: str) -> int | float:
    try:
        return int(digits)
    except ValueError:
        return float(digits)


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    return ""


def clean(text: str) -> str:
    """What any database can store: no NUL characters, no lone surrogates (both valid JSON)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        digits = value.strip()
        # isdigit() alone takes "²" and other digits int() refuses; 20 digits outgrow any field here.
        if digits.isascii() and digits.isdigit() and len(digits) <= 20:
            return int(digits)
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def as_timestamp(value: Any) -> datetime | None:
    seconds = as_int(value)
    if seconds is None or seconds <= 0 or seconds > 10**14:
        return None
    if seconds > 10**11:  # milliseconds, as some senders write them
        seconds //= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


# An absolute http(s) URL with a host, and nothing a browser would strip or read otherwise (spaces,
# control characters).
_HTTP_URL = re.compile(r"https?://[^\s/?#\x00-\x1f\x7f-\x9f]+[^\s\x00-\x1f\x7f-\x9f]*", re.IGNORECASE)


def is_web_link(url: str) -> bool:
    """A link a browser may open as a file: http or https, nothing else (`javascript:` and `data:`
    run or show whatever the sender chose). The parser stores only these; pages link only these."""
    return bool(_HTTP_URL.fullmatch(url or ""))
