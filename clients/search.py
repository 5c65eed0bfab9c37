"""What a search box's words find, by index: clients by name, by number (exact or by its end), by
what they wrote; messages by their text. Shared by the client and message lists.

Text is matched as `UPPER(column) LIKE '%…%'` (Django's icontains), which a trigram index on
UPPER(content) serves (whatsapp/migrations/0011): any language (Russian, Kazakh, Portuguese,
English), any part of a word, Cyrillic folded by the database's locale. Trigrams need three
characters, so shorter words are not looked for in messages.
"""

import re

from django.db.models import Expression, Q, QuerySet
from django.db.models.functions import Reverse

from clients import phones
from clients.models import ClientNumber

# A number's end typed to find it (`8287`), or a whole number in any form (`+7 900 034-91-15`).
MIN_END_DIGITS = 4
_PHONE_LIKE = re.compile(r"[\d\s+()\-.]+")
MIN_TEXT_CHARS = 3


def clients_with_number(term: str) -> QuerySet[ClientNumber] | None:
    """Client ids whose number (main or not) is `term` read as a phone, or ends with its digits, or
    whose lid or group id is its digits; None when `term` does not look like a number. By index: (kind, value)
    and reverse(value)."""
    digits = phones.digits_only(term)
    if not _PHONE_LIKE.fullmatch(term) or len(digits) < MIN_END_DIGITS:
        return None
    match = Q(reversed_value__startswith=digits[::-1])
    whole = phones.to_whatsapp_id(term)
    if whole:
        match |= Q(value=whole)
    by_digits = [ClientNumber.Kind.LID, ClientNumber.Kind.GROUP]
    match = Q(match, kind=ClientNumber.Kind.PHONE) | Q(kind__in=by_digits, value=digits)
    return ClientNumber.objects.annotate(reversed_value=Reverse("value")).filter(match).order_by().values("client_id")


def client_matches(term: str, *, wrote: QuerySet | Expression | None = None) -> Q:
    """Clients whose name, phone as typed, lid, number or messages match `term`; `wrote` is who
    wrote it, from whoever keeps messages (whatsapp/admin.py): the ids of those clients (a set
    collected from the few messages that match), or a condition on each client (a message of theirs
    matches: for a word in thousands of messages, probed client by client in the list's order until
    the page is full, never collected).

    A number (`+7 900 034-91-15`, `8287`) is looked for among numbers and message texts only, as
    one set of client ids the list joins by primary key: no name holds digits, and an OR with the
    name's `LIKE` would read every client."""
    texts = wrote if len(term) >= MIN_TEXT_CHARS else None
    numbers = clients_with_number(term)
    if numbers is not None:
        if texts is not None and not isinstance(texts, QuerySet):
            return Q(pk__in=numbers) | Q(texts)
        return Q(pk__in=numbers.union(texts) if texts is not None else numbers)
    found = Q(name__icontains=term) | Q(phone__icontains=term) | Q(whatsapp_lid=term.removesuffix("@lid"))
    found |= Q(whatsapp_group=term.removesuffix("@g.us"))
    if texts is None:
        return found
    return found | (Q(pk__in=texts) if isinstance(texts, QuerySet) else Q(texts))
