"""What staff do to a conversation, and who may see which: one rule each, used by the admin and the API."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from clients.models import Client, ClientActivity
from inbox.models import Conversation, ConversationEvent, status_is
from whatsapp.models import Message
from whatsapp.outbound import chat_id_of

logger = logging.getLogger(__name__)

SEE_ALL = "inbox.view_all_conversations"
TABS = ("mine", "unassigned", "all")


def conversations_visible(*, user: User, prefix: str = "") -> Q:
    """The conversations `user` may see and answer, as a condition on a queryset whose rows reach a
    conversation through `prefix` ("" on Conversation, "conversation__" on Client, "client__conversation__"
    on Message). A supervisor (SEE_ALL; a superuser) sees all; a manager those assigned to them, and
    the unassigned ones while INBOX_MANAGERS_SEE_UNASSIGNED is on. A client who never wrote has no
    conversation: unassigned."""
    if user.has_perm(SEE_ALL):
        return Q()
    mine = Q(**{f"{prefix}assignee": user})
    if settings.INBOX_MANAGERS_SEE_UNASSIGNED:
        return mine | Q(**{f"{prefix}assignee__isnull": True})
    return mine


@dataclass(frozen=True)
class InboxFilter:
    tab: str = "all"  # mine, unassigned, all
    status: str = ""  # one of Conversation.Status, or any
    instance: int | None = None
    order: str = "latest"  # latest (newest activity first) or waiting (longest waiting first)


def conversations_listed(*, user: User, given: InboxFilter) -> QuerySet[Conversation]:
    """The inbox's rows: what `user` may see, filtered, newest activity first (the client's activity,
    last_message_at and its index) or longest waiting first."""
    rows = Conversation.objects.filter(conversations_visible(user=user)).with_activity().select_related("assignee")
    if given.tab == "mine":
        rows = rows.filter(assignee=user)
    elif given.tab == "unassigned":
        rows = rows.filter(assignee__isnull=True)
    if given.status:
        rows = rows.filter(status_is(given.status))
    if given.instance is not None:
        rows = rows.filter(instance_id=given.instance)
    if given.order == "waiting":
        return rows.filter(waiting_since__isnull=False).order_by("waiting_since", "client_id")
    return rows.order_by(F("client__activity__last_message_at").desc(nulls_last=True), "client_id")


COUNT_CAP = 100  # past it a count says "99+": each count reads at most this many rows


def inbox_counts(*, user: User) -> dict[str, str]:
    """The header's and the tabs' numbers: conversations with unread messages, mine open, unassigned
    open; each counted up to COUNT_CAP (an inbox of 100,000 unread conversations says "99+" at once)."""
    visible = Conversation.objects.filter(conversations_visible(user=user))
    active = visible.filter(status_is(Conversation.Status.OPEN))
    queries = {
        "unread": visible.filter(client__activity__unread_count__gt=0),
        "mine": active.filter(assignee=user),
        "unassigned": active.filter(assignee__isnull=True),
    }
    counts = {name: query.order_by()[:COUNT_CAP].count() for name, query in queries.items()}
    return {name: f"{COUNT_CAP - 1}+" if n >= COUNT_CAP else str(n) for name, n in counts.items()}


def _record(conversation: Conversation, *, actor: User | None, field: str, old: str, new: str, note: str) -> None:
    ConversationEvent.objects.create(
        conversation=conversation, actor=actor, field=field, old=old, new=new, note=note[:2000]
    )


def conversation_change(
    *,
    conversation: Conversation,
    actor: User,
    status: str | None = None,
    snoozed_until: datetime | None = None,
    assignee: User | object | None = ...,
    note: str = "",
) -> list[ConversationEvent]:
    """Change the status and/or the assignee (`...`: leave it; None: nobody), each change kept in
    the history with who, when, from, to and the transfer note. Under the row's lock: a client's
    message reopening it at the same moment is before or after, never lost."""
    with transaction.atomic():
        current = Conversation.objects.select_for_update().get(pk=conversation.pk)
        before = ConversationEvent.objects.filter(conversation=current).count()
        if status is not None:
            if status not in Conversation.Status.values:
                raise ValueError(f"{status!r} is not a status: one of {', '.join(Conversation.Status.values)}.")
            if status == Conversation.Status.SNOOZED and (snoozed_until is None or snoozed_until <= timezone.now()):
                raise ValueError("A snooze needs a time in the future (snoozed until).")
            until = snoozed_until if status == Conversation.Status.SNOOZED else None
            if (current.status, current.snoozed_until) != (status, until):
                shown = f"{status} until {until:%Y-%m-%d %H:%M}" if until else status
                _record(current, actor=actor, field="status", old=current.status, new=shown, note=note)
                current.status, current.snoozed_until = status, until
        if assignee is not ... and getattr(assignee, "pk", None) != current.assignee_id:
            if assignee is not None and not (assignee.is_staff and assignee.is_active):
                raise ValueError(f"{assignee} is not an active member of staff.")
            old = str(current.assignee) if current.assignee_id else ""
            _record(current, actor=actor, field="assignee", old=old, new=str(assignee or ""), note=note)
            current.assignee = assignee
        current.updated_at = timezone.now()
        current.save(update_fields=["status", "snoozed_until", "assignee", "updated_at"])
        events = list(ConversationEvent.objects.filter(conversation=current).order_by("id")[before:])
    conversation.refresh_from_db()
    return events


def conversation_started(*, client: Client, user: User) -> None:
    """A conversation staff began by writing to a new number is theirs: assigned to whoever wrote
    (so a manager sees what they started), kept in its history. A user who is not active staff (a
    program's API user) cannot be assigned: it stays unassigned."""
    conversation = Conversation.objects.filter(pk=client.pk, assignee__isnull=True).first()
    if conversation is None or not (user.is_staff and user.is_active):
        return
    conversation_change(conversation=conversation, actor=user, assignee=user, note="started the conversation")


def conversations_merge(*, keep: Client, others: list[Client], actor: User | None) -> None:
    """Clients being merged (clients.services.client_merge, before their messages move): the kept
    client's conversation takes the status, assignee and wait of the most recently active one, every
    other's history joins it, and an event says who merged whom. The others' conversations go
    with their clients."""
    ids = [keep.pk, *(c.pk for c in others)]
    found = {c.pk: c for c in Conversation.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if not found:
        return  # nobody ever wrote: no conversation to keep
    latest = dict(ClientActivity.objects.filter(pk__in=found).values_list("pk", "last_message_at"))
    never = datetime.min.replace(tzinfo=UTC)
    newest = max(found.values(), key=lambda c: (latest[c.pk] or never, c.pk == keep.pk))  # a tie: the kept one's
    kept = found.get(keep.pk) or Conversation(client=keep, created_at=min(c.created_at for c in found.values()))
    before = f"{kept.status}, {kept.assignee or 'nobody'}" if kept.pk in found else "none"
    for name in ("status", "snoozed_until", "assignee_id", "waiting_since", "instance_id"):
        setattr(kept, name, getattr(newest, name))
    kept.updated_at = timezone.now()
    kept.save()
    ConversationEvent.objects.filter(conversation_id__in=[pk for pk in found if pk != keep.pk]).update(
        conversation=kept
    )
    merged = ", ".join(str(c) for c in others)
    note = f"{merged} merged into {keep}: was {before}, now {kept.status}, {kept.assignee or 'nobody'}"
    _record(kept, actor=actor, field=ConversationEvent.Field.MERGE, old=merged[:255], new=str(keep)[:255], note=note)


def conversation_read(*, conversation: Conversation) -> int:
    """The client's inbound messages are read (the triggers count new ones after `read_until`);
    with GREEN_API_MARK_READ, Green API is told too (readChat) by a background job. How many were unread."""
    client: Client = conversation.client
    with transaction.atomic():
        unread = (
            ClientActivity.objects.filter(pk=client.pk, unread_count__gt=0)
            .select_for_update()
            .values_list("unread_count", flat=True)
            .first()
        )
        if not unread:
            return 0
        # Read up to the newest message there is, not to the clock: one that arrives while the page
        # is drawn stays unread (the triggers count after read_until).
        newest = Message.objects.filter(client_id=client.pk, direction=Message.Direction.INBOUND).aggregate(
            newest=Max("created_at")
        )["newest"]
        ClientActivity.objects.filter(pk=client.pk).update(read_until=newest or timezone.now(), unread_count=0)
        if settings.GREEN_API_MARK_READ and (client.whatsapp_id or client.whatsapp_lid or client.whatsapp_group):
            from inbox.jobs import chat_mark_read

            # Committed with the read mark, or not at all.
            chat_mark_read.enqueue(chat_id=chat_id_of(client))
    client.activity.unread_count = 0
    return unread
