"""One trigger on `messages` INSERT keeps both the client's activity (whatsapp 0011) and the
conversation (0002), in three plain statements for the webhook's one row.

0011's and 0002's two statement triggers cost every message six statements over the transition
table, four of them aggregating it (bench/RESULTS.md, "The webhook's insert path after the inbox"):
PostgreSQL planned and started each one's executor again per row. One row (the webhook, a send,
the ORM's save) now takes: the client's UPDATE, which returns the message with the client's new
latest direction (and locks the client's row, as before: two deliveries for one client wait for
each other here); the conversation read with a snapshot taken after that lock, so it sees what a
delivery that came first wrote; and a write only where something changes (made, reopened,
waiting or instance). Several rows (COPY, bulk_create) and no row (a redelivery's INSERT that
inserts nothing) take 0011's and 0002's set-based statements, written out again here unchanged.
The rules are 0011's and 0002's; inbox/tests and whatsapp/tests/test_activity.py run both paths,
and test_one_trigger.py compares them on the same messages.
The SQL is written out here, not imported from a module that can change, so this migration means
the same forever; going back runs 0011's and 0002's own statements for the two triggers.
"""

from importlib import import_module

from django.db import migrations

_PREVIEW = "left(CASE WHEN {m}.content <> '' THEN {m}.content ELSE {m}.type_message END, 100)"
_NEWER = "(c.last_message_at IS NULL OR r.sent_at >= c.last_message_at)"

# The set-based statements, as 0011 (the multi-row branch of client_activity_insert) and 0002
# (inbox_conversation_insert) wrote them.
_BATCH = """
    SELECT r.client_id,
        bool_or(r.direction = 'inbound') AS wrote,
        max(r.last_out) AS last_out,
        max(r.sent_at) FILTER (WHERE r.direction = 'inbound') AS last_in,
        min(r.sent_at) FILTER (WHERE r.direction = 'inbound' AND r.sent_at > coalesce(r.last_out, '-infinity'))
            AS first_waiting,
        (array_agg(r.instance_id ORDER BY r.sent_at DESC))[1] AS instance_id
    FROM (
        SELECT n.client_id, n.direction, n.sent_at, n.instance_id,
            max(n.sent_at) FILTER (WHERE n.direction = 'outbound') OVER (PARTITION BY n.client_id) AS last_out
        FROM new_rows AS n
    ) AS r GROUP BY r.client_id"""

_ROWS = f"""
    PERFORM 1 FROM clients WHERE id IN (SELECT client_id FROM new_rows) ORDER BY id FOR UPDATE;
    UPDATE clients AS c SET
        message_count = c.message_count + ch.n,
        inbound_count = c.inbound_count + ch.n_in,
        unread_count = c.unread_count + CASE
            WHEN c.read_until IS NULL OR ch.first_in > c.read_until THEN ch.n_in
            WHEN ch.last_in <= c.read_until THEN 0
            ELSE (SELECT count(*) FROM new_rows AS r
                  WHERE r.client_id = c.id AND r.direction = 'inbound' AND r.created_at > c.read_until)
        END,
        (last_message_at, last_message_id, last_direction, last_preview) = (
            SELECT CASE WHEN newer THEN ch.sent_at ELSE c.last_message_at END,
                CASE WHEN newer THEN ch.id ELSE c.last_message_id END,
                CASE WHEN newer THEN ch.direction ELSE c.last_direction END,
                CASE WHEN newer THEN ch.preview ELSE c.last_preview END
            FROM (SELECT c.last_message_at IS NULL OR ch.sent_at >= c.last_message_at AS newer) AS is_newer
        )
    FROM (
        SELECT DISTINCT ON (r.client_id) r.client_id, r.id, r.sent_at, r.direction,
            {_PREVIEW.format(m="r")} AS preview,
            count(*) OVER w AS n,
            count(*) FILTER (WHERE r.direction = 'inbound') OVER w AS n_in,
            min(r.created_at) FILTER (WHERE r.direction = 'inbound') OVER w AS first_in,
            max(r.created_at) FILTER (WHERE r.direction = 'inbound') OVER w AS last_in
        FROM new_rows AS r
        WINDOW w AS (PARTITION BY r.client_id)
        ORDER BY r.client_id, r.sent_at DESC, r.created_at DESC
    ) AS ch
    WHERE c.id = ch.client_id;

    WITH b AS ({_BATCH}),
    was AS (
        SELECT c.client_id, c.status FROM inbox_conversations AS c JOIN b ON b.client_id = c.client_id
        WHERE b.wrote AND c.status IN ('pending', 'resolved', 'snoozed') ORDER BY c.client_id FOR UPDATE OF c
    ),
    reopened AS (
        UPDATE inbox_conversations AS c SET status = 'open', snoozed_until = NULL, updated_at = now()
        FROM was WHERE c.client_id = was.client_id RETURNING c.client_id, was.status AS was_status
    )
    INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
    SELECT reopened.client_id, now(), NULL, 'status', reopened.was_status, 'open', 'the client wrote' FROM reopened;

    WITH b AS ({_BATCH}),
    made AS (
        INSERT INTO inbox_conversations AS c
            (client_id, status, snoozed_until, assignee_id, waiting_since, instance_id, created_at, updated_at)
        SELECT b.client_id, CASE WHEN b.wrote THEN 'open' ELSE 'pending' END, NULL, NULL,
            b.first_waiting, b.instance_id, now(), now()
        FROM b ORDER BY b.client_id
        ON CONFLICT (client_id) DO NOTHING
        RETURNING c.client_id, c.status
    )
    INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
    SELECT made.client_id, now(), NULL, 'status', '', made.status, 'the first message' FROM made;

    WITH b AS ({_BATCH}),
    v AS (
        SELECT c.client_id,
            CASE WHEN k.last_direction = 'inbound' THEN coalesce(c.waiting_since, b.first_waiting, b.last_in)
                ELSE NULL END AS waiting_since,
            CASE WHEN b.instance_id <> 0 THEN b.instance_id ELSE c.instance_id END AS instance_id
        FROM b JOIN clients AS k ON k.id = b.client_id JOIN inbox_conversations AS c ON c.client_id = b.client_id
    )
    UPDATE inbox_conversations AS c SET waiting_since = v.waiting_since, instance_id = v.instance_id, updated_at = now()
    FROM v WHERE c.client_id = v.client_id
        AND (c.waiting_since IS DISTINCT FROM v.waiting_since OR c.instance_id IS DISTINCT FROM v.instance_id);

    IF EXISTS (SELECT 1 FROM inbox_agents WHERE available) THEN
        PERFORM inbox_round_robin(ARRAY(
            SELECT c.client_id FROM inbox_conversations AS c JOIN new_rows AS r ON r.client_id = c.client_id
            WHERE c.assignee_id IS NULL AND r.direction = 'inbound'
                AND NOT EXISTS (SELECT 1 FROM inbox_conversation_events AS e
                                WHERE e.conversation_id = c.client_id AND e.field = 'assignee')
                AND c.created_at = now()
            GROUP BY c.client_id ORDER BY c.client_id
        ));
    END IF;"""

_CONVERSATION = "SELECT v.status, v.waiting_since, v.instance_id, v.assignee_id, v.created_at"

POSTGRESQL = [
    f"""
CREATE FUNCTION messages_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    msg record;
    conv record;
    old_status text;
    waiting timestamptz;
    instance bigint;
BEGIN
    -- The count is one uncorrelated subquery, read once; another count finds no row here.
    UPDATE clients AS c SET
        message_count = c.message_count + 1,
        inbound_count = c.inbound_count + (r.direction = 'inbound')::int,
        unread_count = c.unread_count
            + (r.direction = 'inbound' AND r.created_at > coalesce(c.read_until, '-infinity'))::int,
        last_message_at = CASE WHEN {_NEWER} THEN r.sent_at ELSE c.last_message_at END,
        last_message_id = CASE WHEN {_NEWER} THEN r.id ELSE c.last_message_id END,
        last_direction = CASE WHEN {_NEWER} THEN r.direction ELSE c.last_direction END,
        last_preview = CASE WHEN {_NEWER} THEN {_PREVIEW.format(m="r")} ELSE c.last_preview END
    FROM new_rows AS r
    WHERE c.id = r.client_id AND (SELECT count(*) FROM new_rows) = 1
    RETURNING r.client_id, r.direction, r.sent_at, r.instance_id, c.last_direction INTO msg;
    IF NOT FOUND THEN
        IF EXISTS (SELECT FROM new_rows) THEN
{_ROWS}
        END IF;
        RETURN NULL;
    END IF;

    -- Read after the client's row is locked: what a delivery before this one wrote is seen.
    {_CONVERSATION} INTO conv FROM inbox_conversations AS v WHERE v.client_id = msg.client_id;
    IF NOT FOUND THEN
        INSERT INTO inbox_conversations AS v
            (client_id, status, snoozed_until, assignee_id, waiting_since, instance_id, created_at, updated_at)
        VALUES (msg.client_id, CASE WHEN msg.direction = 'inbound' THEN 'open' ELSE 'pending' END, NULL, NULL,
            CASE WHEN msg.direction = 'inbound' THEN msg.sent_at END, msg.instance_id, now(), now())
        ON CONFLICT (client_id) DO NOTHING
        RETURNING v.status, v.waiting_since, v.instance_id, v.assignee_id, v.created_at INTO conv;
        IF FOUND THEN
            INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
            VALUES (msg.client_id, now(), NULL, 'status', '', conv.status, 'the first message');
        ELSE  -- made meanwhile by a writer that holds no lock on the client (staff, a merge)
            {_CONVERSATION} INTO conv FROM inbox_conversations AS v WHERE v.client_id = msg.client_id;
        END IF;
    END IF;

    -- Reopened by the client: locked and checked again, as staff may be changing it right now.
    IF msg.direction = 'inbound' AND conv.status IN ('pending', 'resolved', 'snoozed') THEN
        SELECT v.status INTO old_status FROM inbox_conversations AS v
        WHERE v.client_id = msg.client_id AND v.status IN ('pending', 'resolved', 'snoozed') FOR UPDATE;
        IF FOUND THEN
            UPDATE inbox_conversations SET status = 'open', snoozed_until = NULL, updated_at = now()
            WHERE client_id = msg.client_id;
            INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
            VALUES (msg.client_id, now(), NULL, 'status', old_status, 'open', 'the client wrote');
        END IF;
    END IF;

    waiting := CASE WHEN msg.last_direction = 'inbound'
        THEN coalesce(conv.waiting_since, CASE WHEN msg.direction = 'inbound' THEN msg.sent_at END) END;
    instance := CASE WHEN msg.instance_id <> 0 THEN msg.instance_id ELSE conv.instance_id END;
    IF conv.waiting_since IS DISTINCT FROM waiting OR conv.instance_id IS DISTINCT FROM instance THEN
        UPDATE inbox_conversations SET waiting_since = waiting, instance_id = instance, updated_at = now()
        WHERE client_id = msg.client_id;
    END IF;

    -- Nested: only a conversation made in this transaction runs the queries of the round-robin.
    IF msg.direction = 'inbound' AND conv.assignee_id IS NULL AND conv.created_at = now() THEN
        IF EXISTS (SELECT 1 FROM inbox_agents WHERE available) AND NOT EXISTS (
            SELECT 1 FROM inbox_conversation_events AS e WHERE e.conversation_id = msg.client_id AND e.field = 'assignee'
        ) THEN
            PERFORM inbox_round_robin(ARRAY[msg.client_id]);
        END IF;
    END IF;
    RETURN NULL;
END $$""",
    "DROP TRIGGER client_activity_insert ON messages",
    "DROP TRIGGER inbox_conversation_insert ON messages",
    "DROP FUNCTION client_activity_insert()",
    "DROP FUNCTION inbox_conversation_insert()",
    "CREATE TRIGGER messages_after_insert AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION messages_after_insert()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS messages_after_insert ON messages",
    "DROP FUNCTION IF EXISTS messages_after_insert()",
]


def _earlier(app: str, migration: str, name: str) -> list[str]:
    """An earlier migration's statements that create this function and its trigger (in its order)."""
    return [s for s in import_module(f"{app}.migrations.{migration}").POSTGRESQL if name in s]


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL:
            schema_editor.execute(statement, params=None)


def restore_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in [
            *POSTGRESQL_DROP,
            *_earlier("whatsapp", "0011_client_activity", "client_activity_insert"),
            *_earlier("inbox", "0002_triggers_and_roles", "inbox_conversation_insert"),
        ]:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0004_sqlite_first_message_and_round_robin"),
        ("whatsapp", "0017_group_chats_own_conversations"),
    ]

    # SQLite keeps 0011's and 0002's row triggers: one row each already.
    operations = [migrations.RunPython(create_trigger, restore_triggers)]
