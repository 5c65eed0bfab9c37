"""Phone numbers as WhatsApp writes them: international digits, no `+`, spaces or dashes.

Two levels: `digits_only` is the guide's normalisation, used on what Green API sends (already
international). `to_whatsapp_id` understands what a person types (`8 (999) 123-45-67`, `+7 999 …`,
`9991234567`) through libphonenumber, with DEFAULT_PHONE_REGION for numbers written nationally.
"""

import re

import phonenumbers
from django.conf import settings

_NON_DIGITS = re.compile(r"\D+")
# The admin's search looks for stored numbers containing the typed digits only from this length on.
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


def national_forms(whatsapp_id: str) -> list[str]:
    """`whatsapp_id` as its own country writes it without the country code, digits only.

    The guide's "contained in" rule is for numbers staff typed without the country code: a client
    stored as `9161234567` or `89161234567` is `79161234567`. libphonenumber decides what those
    forms are (the national number, and the national format with the trunk prefix where the country
    dials one: `8` in Russia, `0` in Britain), and each form must read back as this very number in
    that country. A number libphonenumber does not hold valid has no national forms: no guessing.
    """
    try:
        number = phonenumbers.parse("+" + whatsapp_id, None)
    except phonenumbers.NumberParseException:
        return []
    if not phonenumbers.is_valid_number(number):
        return []
    region = phonenumbers.region_code_for_number(number)
    forms = {
        phonenumbers.national_significant_number(number),
        digits_only(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)),
    }
    return sorted(form for form in forms if form != whatsapp_id and _reads_as(form, region, whatsapp_id))


def _reads_as(national: str, region: str, whatsapp_id: str) -> bool:
    try:
        number = phonenumbers.parse(national, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == "+" + whatsapp_id
