"""Phone numbers as WhatsApp writes them: international digits, no `+`, spaces or dashes.

Two levels: `digits_only` is the guide's normalisation, used on what Green API sends (already
international). `to_whatsapp_id` understands what a person types (`8 (999) 123-45-67`, `+7 999 …`,
`9991234567`) through libphonenumber, with DEFAULT_PHONE_REGION for numbers written nationally.
"""

import re

import phonenumbers
from django.conf import settings

_NON_DIGITS = re.compile(r"\D+")
# The guide's "contained in" rule is only trusted for parts long enough to be a subscriber number.
MIN_CONTAINED_DIGITS = 7


def digits_only(raw: str) -> str:
    return _NON_DIGITS.sub("", raw or "")


def to_whatsapp_id(raw: str, region: str | None = None) -> str | None:
    """The international number, digits only, or None when `raw` is not a possible phone number."""
    raw = (raw or "").strip()
    if not digits_only(raw):
        return None
    region = region or settings.DEFAULT_PHONE_REGION
    # Read it as written in our region first (`8 (999) …`, `999 …`, `7999…`), then as an
    # international number whose `+` was left out (`5511987654321`).
    for candidate, hint in ((raw, region), ("+" + digits_only(raw), None)):
        try:
            number = phonenumbers.parse(candidate, hint)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return f"{number.country_code}{number.national_number}"
    return None


def display(whatsapp_id: str | None) -> str:
    """`79991234567` as a person writes it: `+7 999 123-45-67`."""
    if not whatsapp_id:
        return ""
    try:
        number = phonenumbers.parse("+" + whatsapp_id, None)
    except phonenumbers.NumberParseException:
        return whatsapp_id
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def contained_parts(number: str) -> list[str]:
    """Every run of digits in `number` at least MIN_CONTAINED_DIGITS long, longest first.

    The guide matches a client whose whatsappId is *contained in* the incoming number. Listing the
    (few dozen) substrings turns that rule into an indexed `IN (...)` lookup instead of a scan.
    """
    parts = {
        number[start:end]
        for start in range(len(number))
        for end in range(start + MIN_CONTAINED_DIGITS, len(number) + 1)
    }
    parts.discard(number)
    return sorted(parts, key=len, reverse=True)
