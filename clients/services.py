import logging

from clients import phones
from clients.models import Client
from crm.db import insert_or_skip
from crm.log import Masked, mask, step

logger = logging.getLogger(__name__)


def client_find_or_create_by_phone(*, phone: str, name: str = "") -> tuple[Client, bool]:
    """The client whose whatsapp_id is `phone` (digits only), else the one it uniquely contains.

    The guide's rule: a client matches when their whatsappId equals the number in the message or is
    contained in it (a number stored without its country code). Only an unambiguous containment is
    trusted; otherwise a new client is created and the doctor reports the would-be twins.
    """
    log_finding(phone)
    client = Client.objects.filter(whatsapp_id=phone).first()
    if client is None:
        candidates = list(Client.objects.filter(whatsapp_id__in=phones.contained_parts(phone))[:2])
        if len(candidates) == 1:
            client = candidates[0]
        elif candidates:
            logger.warning(
                "⚠️ Warning: %s matches several clients by the contained-number rule; creating a new one",
                mask(phone),
            )
    if client is not None:
        log_found(client.id, client.name or client.whatsapp_id or "")
        return client, False
    return _create(Client(name=name, phone="+" + phone, whatsapp_id=phone), whatsapp_id=phone)


def log_finding(phone: str) -> None:
    step(logger, "Finding or creating client for phone: %s", Masked(phone))


def log_found(client_id: object, label: str) -> None:
    step(logger, "Found existing client: %s (%s)", client_id, Masked(label))


def log_created(client_id: object, label: str) -> None:
    step(logger, "Created new client: %s (%s)", client_id, Masked(label))


def client_find_or_create_by_lid(*, lid: str, name: str = "") -> tuple[Client, bool]:
    """A WhatsApp hidden id (`…@lid`) is not a phone number: it is kept apart, never as whatsapp_id."""
    step(logger, "Finding or creating client for lid: %s", lid)
    client = Client.objects.filter(whatsapp_lid=lid).first()
    if client is not None:
        log_found(client.id, client.name or lid)
        return client, False
    return _create(Client(name=name, whatsapp_lid=lid), whatsapp_lid=lid)


def _create(client: Client, **identity: str) -> tuple[Client, bool]:
    # Two notifications from one new number may arrive at once: the unique column lets exactly one
    # INSERT through; the other waits for it to commit and then finds its row.
    if insert_or_skip(client):
        log_created(client.id, client.name or client.whatsapp_id or "")
        return client, True
    client = Client.objects.get(**identity)
    log_found(client.id, client.name)
    return client, False


def client_link_lid(*, client: Client, lid: str) -> bool:
    """Remember that `lid` is this phone client, unless another client already holds it."""
    if client.whatsapp_lid or Client.objects.filter(whatsapp_lid=lid).exists():
        return False
    return Client.objects.filter(pk=client.pk, whatsapp_lid__isnull=True).update(whatsapp_lid=lid) == 1


def client_merge(*, keep: Client, others: list[Client]) -> int:
    """Make `others` one client with `keep`: every message moves, empty details are filled, the
    others are deleted. Returns how many messages moved. Run it in a transaction."""
    from whatsapp.models import Message

    others = [c for c in others if c.pk != keep.pk]
    moved = Message.objects.filter(client__in=others).update(client=keep)
    taken = {
        "name": next((c.name for c in others if c.name), ""),
        "phone": next((c.phone for c in others if c.phone), ""),
        "whatsapp_id": next((c.whatsapp_id for c in others if c.whatsapp_id), None),
        "whatsapp_lid": next((c.whatsapp_lid for c in others if c.whatsapp_lid), None),
    }
    # The unique numbers leave the twins before the kept client takes them.
    Client.objects.filter(pk__in=[c.pk for c in others]).delete()
    changed = [field for field, value in taken.items() if value and not getattr(keep, field)]
    for field in changed:
        setattr(keep, field, taken[field])
    if changed:
        keep.save(update_fields=[*changed, "updated_at"])
    step(logger, "Merged %s client(s) into %s: %s message(s) moved", len(others), keep.pk, moved)
    return moved
