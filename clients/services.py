import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from clients import phones
from clients.models import Client, ClientNumber
from crm.db import insert_or_skip, lock_key
from crm.log import Masked, mask, step

logger = logging.getLogger(__name__)
Kind, Source = ClientNumber.Kind, ClientNumber.Source


def client_numbers_unnormalised() -> dict[str, str | None]:
    """Numbers people wrote that are not what WhatsApp sends: each with its normal form (None when it
    is not a phone number at all).

    Parsing is what costs (100,000 numbers took 4 s): each value is parsed once per
    DEFAULT_PHONE_REGION, and those found normal are marked so (`normalised_for`) and skipped on
    every later call; a trigger clears the mark when a value changes, whoever changes it. The mark
    goes on the value, not on the row read: a number edited meanwhile is not marked by mistake.
    """
    region = settings.DEFAULT_PHONE_REGION
    unchecked = (
        ClientNumber.objects.filter(kind=Kind.PHONE)
        .exclude(source=Source.WEBHOOK)  # WhatsApp's own number for the chat: normal by definition
        .exclude(normalised_for=region)
        .values_list("value", flat=True)
    )
    odd, normal = {}, []
    for value in unchecked.iterator(chunk_size=10_000):
        whatsapp_id = phones.to_whatsapp_id(value)
        if whatsapp_id == value:
            normal.append(value)
        else:
            odd[value] = whatsapp_id
    for start in range(0, len(normal), 10_000):
        values = normal[start : start + 10_000]
        ClientNumber.objects.filter(kind=Kind.PHONE, value__in=values).update(normalised_for=region)
    return odd


def client_find_or_create_by_phone(*, phone: str, name: str = "") -> tuple[Client, bool]:
    """The client who has the number `phone` (digits only), else the one who has it without its
    country code, else a new client.

    The guide's rule: a client matches when their whatsappId equals the number in the message or is
    contained in it (a number stored without its country code). Here "contained" means what
    libphonenumber says the number is when written nationally (phones.national_forms), and only for
    numbers people wrote: one the webhook stored is a whole number of its own. Only an unambiguous
    match is trusted; otherwise a new client is created and the doctor reports the would-be twins.
    """
    log_finding(phone)
    client = client_with_number(kind=Kind.PHONE, value=phone)
    if client is None:
        client = _client_by_national_form(phone)
    if client is not None:
        log_found(client.id, client.name or client.whatsapp_id or "")
        return client, False
    return _create(*client_new(kind=Kind.PHONE, value=phone, name=name))


def client_new(*, kind: str, value: str, name: str = "") -> tuple[Client, ClientNumber]:
    """The rows of a client the webhook creates for a number or lid no client has (not saved).

    Both write paths create a client from these (whatsapp.fast_path in its one statement): the
    number's row first, marked as WhatsApp's own, then the client.
    """
    if kind == Kind.PHONE:
        client = Client(name=name, phone="+" + value, whatsapp_id=value)
    elif kind == Kind.GROUP:
        client = Client(name=name, whatsapp_group=value)
    else:
        client = Client(name=name, whatsapp_lid=value)
    return client, ClientNumber(client_id=client.id, kind=kind, value=value, source=Source.WEBHOOK)


def clients_with_number(*, kind: str, value: str) -> QuerySet[Client]:
    """The client one of whose numbers (main or not) is `value`: none or one (numbers are unique)."""
    return Client.objects.filter(numbers__kind=kind, numbers__value=value)


def client_with_number(*, kind: str, value: str) -> Client | None:
    return clients_with_number(kind=kind, value=value).first()


def numbers_contained(*, forms: list[str]) -> QuerySet[ClientNumber]:
    """The numbers a phone "contains" by the guide's rule: its national forms (phones.national_forms,
    never empty here), as staff wrote them. The fast path embeds this very query to decide whether a
    new number may become a client without the general way."""
    return ClientNumber.objects.filter(kind=Kind.PHONE, value__in=forms, source=Source.STAFF)


def _client_by_national_form(phone: str) -> Client | None:
    forms = phones.national_forms(phone)
    if not forms:
        return None
    contained = numbers_contained(forms=forms).values("client_id")
    # One client may hold two forms (9161234567 and 89161234567): distinct clients are what counts.
    candidates = list(Client.objects.filter(pk__in=contained).order_by("pk")[:2])
    if len(candidates) > 1:
        logger.warning(
            "⚠️ Warning: %s matches several clients by the contained-number rule; creating a new one",
            mask(phone),
        )
    return candidates[0] if len(candidates) == 1 else None


def log_finding(phone: str) -> None:
    step(logger, "Finding or creating client for phone: %s", Masked(phone))


def log_found(client_id: object, label: str) -> None:
    step(logger, "Found existing client: %s (%s)", client_id, Masked(label))


def log_created(client_id: object, label: str) -> None:
    step(logger, "Created new client: %s (%s)", client_id, Masked(label))


def client_find_or_create_by_lid(*, lid: str, name: str = "") -> tuple[Client, bool]:
    """A WhatsApp hidden id (`…@lid`) is not a phone number: it is kept apart, never as whatsapp_id."""
    step(logger, "Finding or creating client for lid: %s", lid)
    client = client_with_number(kind=Kind.LID, value=lid)
    if client is not None:
        log_found(client.id, client.name or lid)
        return client, False
    return _create(*client_new(kind=Kind.LID, value=lid, name=name))


def client_find_or_create_by_group(*, group: str, name: str = "") -> tuple[Client, bool]:
    """A WhatsApp group chat (`…@g.us`) as one client: its conversation. `name` is the group's
    chatName, given to a group found without one (staff's name for it stays)."""
    step(logger, "Finding or creating the group chat: %s", group)
    client = client_with_number(kind=Kind.GROUP, value=group)
    if client is None:
        return _create(*client_new(kind=Kind.GROUP, value=group, name=name))
    if name and not client.name:
        Client.objects.filter(pk=client.pk, name="").update(name=name)
        client.name = name
    log_found(client.id, client.name or group)
    return client, False


def number_lock_key(*, kind: str, value: str) -> str:
    """The advisory lock held by whoever is about to give a client this number (PostgreSQL).

    The unique row already decides who gets a number; the lock makes staff's check in the admin
    exact too: a number the webhook is creating right now is named as that client's, not a 500.
    """
    return f"client number:{kind}:{value}"


def client_number_lock(*, kind: str, value: str) -> None:
    lock_key(number_lock_key(kind=kind, value=value))


def _create(client: Client, number: ClientNumber) -> tuple[Client, bool]:
    # Two notifications from one new number may arrive at once, or staff may be adding the number
    # to a client right now: the number's unique row lets exactly one through, and the others wait
    # for it to commit and then find its client. The row goes first (the foreign key is checked at
    # commit), so it says the webhook wrote it and the clients' trigger leaves it as it is.
    kind, value = number.kind, number.value
    client_number_lock(kind=kind, value=value)
    if insert_or_skip(number):
        client.save(force_insert=True)
        log_created(client.id, client.name or value)
        return client, True
    client = clients_with_number(kind=kind, value=value).get()
    log_found(client.id, client.name)
    return client, False


def client_link_lid(*, client: Client, lid: str) -> bool:
    """Remember that `lid` is this phone client, unless another client already holds it."""
    if not insert_or_skip(ClientNumber(client=client, kind=Kind.LID, value=lid, source=Source.WEBHOOK)):
        return False
    Client.objects.filter(pk=client.pk, whatsapp_lid__isnull=True).update(whatsapp_lid=lid)
    return True


# What other apps do when clients merge, before anything moves (the inbox: one conversation of
# the kept client), each declared once with client_merge_step; this app knows none of them.
MERGE_STEPS: list[Callable[..., None]] = []


def client_merge_step(run: Callable[..., None]) -> Callable[..., None]:
    """Declare a step: called as run(keep=…, others=…, actor=…) by every merge."""
    MERGE_STEPS.append(run)
    return run


def client_merge(*, keep: Client, others: list[Client], actor: Any = None) -> int:
    """Make `others` one client with `keep`: every message and every number moves, empty details
    are filled, the others are deleted; `actor` (the user who merged, or None) is for the steps
    other apps declared. Returns how many messages moved. Run it in a transaction."""
    others = [c for c in others if c.pk != keep.pk]
    for run in MERGE_STEPS:
        run(keep=keep, others=others, actor=actor)
    moved = _move_rows(keep, others)
    numbers = list(ClientNumber.objects.filter(client__in=others).order_by("pk"))
    taken = {
        "name": next((c.name for c in others if c.name), ""),
        "phone": next((c.phone for c in others if c.phone), ""),
        "whatsapp_id": next((c.whatsapp_id for c in others if c.whatsapp_id), None),
        "whatsapp_lid": next((c.whatsapp_lid for c in others if c.whatsapp_lid), None),
    }
    # The unique numbers leave the twins before the kept client takes them, with where each came
    # from; a message arriving from one meanwhile waits for this transaction, then finds `keep`.
    Client.objects.filter(pk__in=[c.pk for c in others]).delete()
    ClientNumber.objects.bulk_create(
        [ClientNumber(client=keep, kind=n.kind, value=n.value, source=n.source) for n in numbers]
    )
    changed = [field for field, value in taken.items() if value and not getattr(keep, field)]
    for field in changed:
        setattr(keep, field, taken[field])
    if changed:
        keep.save(update_fields=[*changed, "updated_at"])
    step(logger, "Merged %s client(s) into %s: %s message(s) moved", len(others), keep.pk, moved)
    return moved


def _move_rows(keep: Client, others: list[Client]) -> int:
    """Every row of another app that belongs to one of `others` (messages) now belongs to `keep`.

    Found through the relations the models declare, so this app needs to know none of them.
    """
    moved = 0
    for relation in Client._meta.related_objects:
        if relation.one_to_many and relation.related_model is not ClientNumber:
            rows = relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": others})
            moved += rows.update(**{relation.field.name: keep})
    return moved
