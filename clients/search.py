"""What a search box's words find, by index: clients by name, by number (exact or by its end), by
what they wrote; messages by their text. Shared by the client and message lists.

Text is matched as `UPPER(column) LIKE '%…%'` (Django's icontains), which trigram indexes on
UPPER(content) (whatsapp/migrations/0012) and on the client's UPPER(name) and UPPER(phone)
(clients/migrations/0007) serve: any language (Russian, Kazakh, Portuguese, English), any part of
a word, Cyrillic folded by the database's locale. Trigrams need three characters, so shorter words
are not looked for in messages.
"""

import re
from collections.abc import Collection

from django.db.models import Expression, F, Lookup, Q, QuerySet
from django.db.models.functions import Reverse
from django.db.models.lookups import In

from clients import phones
from clients.models import Client, ClientNumber

# A number's end typed to find it (`8287`), or a whole number in any form (`+7 900 034-91-15`).
MIN_END_DIGITS = 4
_PHONE_LIKE = re.compile(r"[\d\s+()\-.]+")
MIN_TEXT_CHARS = 3


class AnyOf(Lookup):
    """`column = ANY(%s)` with the values as one array parameter (PostgreSQL): a few thousand ids
    cost one parameter to send and parse, not one each; elsewhere `IN (…)`."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: object, connection: object) -> tuple[str, list]:
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]

    def as_sqlite(self, compiler: object, connection: object) -> tuple[str, list]:
        return In(self.lhs, list(self.rhs)).as_sql(compiler, connection)


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


def client_matches(term: str, *, wrote: Collection | Expression | None = None) -> Q:
    """Clients whose name, phone as typed, lid, number or messages match `term`; `wrote` is who
    wrote it, from whoever keeps messages (whatsapp/admin.py): the ids of those clients (collected
    from the few messages that match), or a condition on each client (a message of theirs matches:
    for a word in thousands of messages, probed client by client in the list's order until the page
    is full, never collected).

    Collected writers make the whole condition one list of ids: the name's, phone's, lid's and
    group's matches are collected too, by their indexes (PostgreSQL ORs their bitmaps), and the
    list is matched on the activity's side of the list's join (`client_activity.client_id =
    ANY(…)`), so a page walks the activity's order index and stops at 50, and a count probes its
    primary key. A subquery would have each client of the list tested against it (a word nobody
    wrote: the whole list, 2 s at 100,000 clients); an OR of the clients' columns and a thousand
    writers had PostgreSQL read every client (0.38 s at 100,000: bench/RESULTS.md, "Admin at scale").

    A number (`+7 900 034-91-15`, `8287`) is looked for among numbers and message texts only: no
    name holds digits."""
    texts = wrote if len(term) >= MIN_TEXT_CHARS else None
    numbers = clients_with_number(term)
    wrote_ids = texts if isinstance(texts, Collection) else ()
    if numbers is not None:
        ids = _ids(*(row["client_id"] for row in numbers), *wrote_ids)
        return ids | Q(texts) if isinstance(texts, Expression) else ids
    found = Q(name__icontains=term) | Q(phone__icontains=term) | Q(whatsapp_lid=term.removesuffix("@lid"))
    found |= Q(whatsapp_group=term.removesuffix("@g.us"))
    if texts is None:
        return found
    if isinstance(texts, Expression):
        return found | Q(texts)
    return _ids(*Client.objects.filter(found).order_by().values_list("pk", flat=True), *wrote_ids)


def _ids(*ids: object) -> Q:
    """These clients, matched on the activity's side of the list's join (ClientQuerySet.with_activity)."""
    return Q(AnyOf(F("activity__client_id"), sorted(set(ids))))
