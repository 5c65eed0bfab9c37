"""Messages of a WhatsApp group chat, stored before a group was a conversation of its own (with the
participant who wrote as their client), move to the group's client: each group gets its client
and number row, each message `client` = the group and `author` = the participant (none for what we
wrote, which was stored as the client of our own number).

Set-based, for 3,000,000 messages: one grouped read of the group messages (few rows come back: one
per group and participant), one UPDATE of them. The clients' activity columns follow by the
triggers of whatsapp/migrations/0011 (an UPDATE of `client_id` recounts both clients it touches);
then the inbox: each group gets its conversation as the inbox's own backfill makes one (open when
the group wrote last), a participant left with no message loses the conversation those messages
made, and the others' "waiting since" is counted again without them.
A group's "read until" is the latest of its participants': what staff read there stays read.
The SQL is written out here, not imported, so this migration means the same forever.
"""

import re
import uuid

from django.db import migrations
from django.db.models import Max

GROUP_ID = re.compile(r"[0-9]+(-[0-9]+)?", re.ASCII)
IS_GROUP_CHAT = "lower(messages.chat_id) LIKE '%%@g.us'"
GROUP_OF_CHAT = (
    "SELECT n.client_id FROM client_numbers AS n "
    "WHERE n.kind = 'group' AND n.value = substr(messages.chat_id, 1, length(messages.chat_id) - 5)"
)
MOVE = f"""
UPDATE messages SET
    author_id = CASE WHEN direction = 'inbound' THEN client_id END,
    client_id = ({GROUP_OF_CHAT})
WHERE {IS_GROUP_CHAT}
    AND client_id IN (SELECT id FROM clients WHERE whatsapp_group IS NULL)
    AND EXISTS ({GROUP_OF_CHAT})"""
# The inbox's backfill (inbox/migrations/0002), for the groups.
GROUP_CONVERSATIONS = """
INSERT INTO inbox_conversations
    (client_id, status, snoozed_until, assignee_id, waiting_since, instance_id, created_at, updated_at)
SELECT c.id, CASE WHEN c.last_direction = 'inbound' THEN 'open' ELSE 'pending' END, NULL, NULL,
    CASE WHEN c.last_direction = 'inbound' THEN (
        SELECT min(m.sent_at) FROM messages AS m WHERE m.client_id = c.id AND m.direction = 'inbound'
            AND m.sent_at > coalesce((SELECT max(o.sent_at) FROM messages AS o
                                      WHERE o.client_id = c.id AND o.direction = 'outbound'), {minus_infinity})
    ) END,
    coalesce((SELECT m.instance_id FROM messages AS m WHERE m.id = c.last_message_id), 0), {now}, {now}
FROM clients AS c WHERE c.whatsapp_group IS NOT NULL AND c.message_count > 0
    AND NOT EXISTS (SELECT 1 FROM inbox_conversations AS k WHERE k.client_id = c.id)"""
WAITING_AGAIN = """
UPDATE inbox_conversations SET waiting_since = CASE
    WHEN (SELECT c.last_direction FROM clients AS c WHERE c.id = inbox_conversations.client_id) = 'inbound' THEN (
        SELECT min(m.sent_at) FROM messages AS m
        WHERE m.client_id = inbox_conversations.client_id AND m.direction = 'inbound'
            AND m.sent_at > coalesce((SELECT max(o.sent_at) FROM messages AS o
                                      WHERE o.client_id = inbox_conversations.client_id AND o.direction = 'outbound'),
                                     {minus_infinity})
    ) END
WHERE client_id IN ({ids})"""
CHUNK = 500


def groups_own_conversations(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    Client = apps.get_model("clients", "Client")
    ClientNumber = apps.get_model("clients", "ClientNumber")
    Message = apps.get_model("whatsapp", "Message")
    Conversation = apps.get_model("inbox", "Conversation")

    # One row per group and participant: the groups to make, and whose conversations change.
    rows = (
        Message.objects.filter(chat_id__iendswith="@g.us", client__whatsapp_group__isnull=True)
        .values("chat_id", "client_id")
        .annotate(name=Max("chat_name"), read_until=Max("client__read_until"))
        .order_by()
    )
    groups: dict[str, dict] = {}
    affected = set()
    for row in rows:
        group = row["chat_id"][:-5]
        if not GROUP_ID.fullmatch(group):
            continue  # not a group's id: its messages stay as they are
        affected.add(row["client_id"])
        seen = groups.setdefault(group, {"name": "", "read_until": None})
        seen["name"] = max(seen["name"], row["name"] or "")
        if row["read_until"] and (seen["read_until"] is None or row["read_until"] > seen["read_until"]):
            seen["read_until"] = row["read_until"]
    if not groups:
        return
    known = set(ClientNumber.objects.filter(kind="group", value__in=list(groups)).values_list("value", flat=True))
    new = [
        Client(id=uuid.uuid4(), name=seen["name"][:255], whatsapp_group=group, read_until=seen["read_until"])
        for group, seen in groups.items()
        if group not in known
    ]
    Client.objects.bulk_create(new, batch_size=CHUNK)
    ClientNumber.objects.bulk_create(
        [ClientNumber(client_id=c.id, kind="group", value=c.whatsapp_group, source="webhook") for c in new],
        batch_size=CHUNK,
    )

    minus_infinity = "'-infinity'" if connection.vendor == "postgresql" else "''"
    now = "now()" if connection.vendor == "postgresql" else "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"
    with connection.cursor() as cursor:
        cursor.execute(MOVE, [])
        cursor.execute(GROUP_CONVERSATIONS.format(minus_infinity=minus_infinity, now=now), [])
    affected = sorted(affected, key=str)
    Conversation.objects.filter(pk__in=affected, client__message_count=0).delete()
    pk = Client._meta.pk
    for start in range(0, len(affected), CHUNK):
        ids = [pk.get_db_prep_value(i, connection) for i in affected[start : start + CHUNK]]
        with connection.cursor() as cursor:
            sql = WAITING_AGAIN.format(minus_infinity=minus_infinity, ids=", ".join(["%s"] * len(ids)))
            cursor.execute(sql, ids)


class Migration(migrations.Migration):
    dependencies = [
        ("whatsapp", "0016_message_author"),
        ("inbox", "0002_triggers_and_roles"),
    ]

    operations = [migrations.RunPython(groups_own_conversations, migrations.RunPython.noop)]
