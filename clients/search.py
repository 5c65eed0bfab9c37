"""What a search box's words find, by index: clients by name, by number (exact or by its end), by
what they wrote; messages by their text. Shared by the client and message lists.

Text is matched as `UPPER(column) LIKE '%…%'` (Django's icontains), which a trigram index on
UPPER(content) serves (whatsapp/migrations/0011): any language (Russian, Kazakh, Portuguese,
English), any part of a word, Cyrillic folded by the database's locale. Trigrams need three
characters, so shorter words are not looked for in messages.
"""

import re

from django.db.models import Q, QuerySet
from django.db.models.functions import Reverse

from clients import phones
from clients.models import ClientNumber

# A number's end typed to find it (`8287`), or a whole number in any form (`+7 900 034-91-15`).
MIN_END_DIGITS = 4
_PHONE_LIKE = re.compile(r"[\d\s+()\-.]+")
MIN_TEXT_CHARS = 3


def clients_with_number(term: str) -> QuerySet[ClientNumber] | None:
    """Client ids whose number (main or not) is `term` read as a phone, or ends with its digits;
    None when `term` does not look like a number. Both by index: (kind, value) and reverse(value)."""
    digits = phones.digits_only(term)
    if not _PHONE_LIKE.fullmatch(term) or len(digits) < MIN_END_DIGITS:
        return None
    match = Q(reversed_value__startswith=digits[::-1])
    whole = phones.to_whatsapp_id(term)
    if whole:
        match |= Q(value=whole)
    numbers = ClientNumber.objects.filter(kind=ClientNumber.Kind.PHONE).annotate(reversed_value=Reverse("value"))
    return numbers.filter(match).values("client_id")


def client_matches(term: str) -> Q:
    """Clients whose name, phone as typed, lid, number or messages match `term`."""
    from whatsapp.models import Message

    found = Q(name__icontains=term) | Q(phone__icontains=term) | Q(whatsapp_lid=term.removesuffix("@lid"))
    numbers = clients_with_number(term)
    if numbers is not None:
        found |= Q(pk__in=numbers)
    if len(term) >= MIN_TEXT_CHARS:
        found |= Q(pk__in=Message.objects.filter(content__icontains=term).values("client_id"))
    return found
