"""The inbox's tables; the triggers that keep each client's conversation as their messages arrive;
the conversations of the clients who already wrote; the groups Managers and Supervisors.

The triggers (one rule for every writer: the webhook's one-statement path, the ORM, sends, the
backfill, COPY), on each INSERT into `messages`:
- a client's first message makes their conversation: open when they wrote, pending when we did;
  an available agent's turn in the round-robin assigns it (inbox_agents), the oldest turn first;
- a message from the client reopens a pending, resolved or snoozed conversation, with an event
  saying so (no actor: the client);
- `waiting_since` is the client's first message since our last answer, while their message is the
  latest (by WhatsApp's time); our answer clears it.
PostgreSQL: statement-level over the transition table (a COPY of millions is one pass); SQLite
(development): a row trigger. The SQL is written out here, not imported, so it means the same forever.
"""

from django.db import migrations


# Each client's share of the statement's rows, in one pass however many (a COPY of millions).
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
_FIRST_WAITING = "b.first_waiting"

POSTGRESQL = [
    f"""
CREATE FUNCTION inbox_conversation_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Reopened by the client: the rows locked in id order, so two statements never deadlock.
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
            {_FIRST_WAITING}, b.instance_id, now(), now()
        FROM b ORDER BY b.client_id
        ON CONFLICT (client_id) DO NOTHING
        RETURNING c.client_id, c.status
    )
    INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
    SELECT made.client_id, now(), NULL, 'status', '', made.status, 'the first message' FROM made;

    -- Waiting while the client's latest message is theirs (client_activity_insert, which runs
    -- before this trigger, has just set last_direction): since their first one after our answer.
    -- Written only when it changes: most messages leave both as they are (a client writing again
    -- while already waiting), and an unchanged row is then not rewritten for every message.
    WITH b AS ({_BATCH}),
    v AS (
        SELECT c.client_id,
            CASE WHEN k.last_direction = 'inbound' THEN coalesce(c.waiting_since, {_FIRST_WAITING}, b.last_in)
                ELSE NULL END AS waiting_since,
            CASE WHEN b.instance_id <> 0 THEN b.instance_id ELSE c.instance_id END AS instance_id
        FROM b JOIN clients AS k ON k.id = b.client_id JOIN inbox_conversations AS c ON c.client_id = b.client_id
    )
    UPDATE inbox_conversations AS c SET waiting_since = v.waiting_since, instance_id = v.instance_id, updated_at = now()
    FROM v WHERE c.client_id = v.client_id
        AND (c.waiting_since IS DISTINCT FROM v.waiting_since OR c.instance_id IS DISTINCT FROM v.instance_id);

    -- The round-robin: each new, unassigned conversation the client opened goes to the available
    -- agent whose last turn is oldest (the agent's row locked: two webhooks never take one turn).
    IF EXISTS (SELECT 1 FROM inbox_agents WHERE available) THEN
        PERFORM inbox_round_robin(ARRAY(
            SELECT c.client_id FROM inbox_conversations AS c JOIN new_rows AS r ON r.client_id = c.client_id
            WHERE c.assignee_id IS NULL AND r.direction = 'inbound'
                AND NOT EXISTS (SELECT 1 FROM inbox_conversation_events AS e
                                WHERE e.conversation_id = c.client_id AND e.field = 'assignee')
                AND c.created_at = now()
            GROUP BY c.client_id ORDER BY c.client_id
        ));
    END IF;
    RETURN NULL;
END $$""",
    """
CREATE FUNCTION inbox_round_robin(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    conversation uuid;
    agent bigint;
BEGIN
    FOREACH conversation IN ARRAY ids LOOP
        SELECT a.user_id INTO agent FROM inbox_agents AS a JOIN users AS u ON u.id = a.user_id
        WHERE a.available AND u.is_active AND u.is_staff
        ORDER BY a.last_assigned_at NULLS FIRST, a.user_id LIMIT 1 FOR UPDATE OF a;
        EXIT WHEN agent IS NULL;
        UPDATE inbox_agents SET last_assigned_at = clock_timestamp() WHERE user_id = agent;
        UPDATE inbox_conversations SET assignee_id = agent WHERE client_id = conversation;
        INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
        SELECT conversation, now(), NULL, 'assignee', '', u.email, 'round-robin' FROM users AS u WHERE u.id = agent;
    END LOOP;
END $$""",
    "CREATE TRIGGER inbox_conversation_insert AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION inbox_conversation_insert()",
    # A client deleted by SQL (the benchmark's reset, an operator's DELETE) takes its conversation and
    # history along, as the ORM's cascade does: the database's own foreign keys say so.
    """
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN SELECT conname, conrelid::regclass AS tbl FROM pg_constraint
        WHERE contype = 'f' AND (conrelid, confrelid) IN (('inbox_conversations'::regclass, 'clients'::regclass),
            ('inbox_conversation_events'::regclass, 'inbox_conversations'::regclass)) LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
END $$""",
    "ALTER TABLE inbox_conversations ADD CONSTRAINT inbox_conversations_client_fk FOREIGN KEY (client_id) "
    "REFERENCES clients (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
    "ALTER TABLE inbox_conversation_events ADD CONSTRAINT inbox_events_conversation_fk FOREIGN KEY (conversation_id) "
    "REFERENCES inbox_conversations (client_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS inbox_conversation_insert ON messages",
    "DROP FUNCTION IF EXISTS inbox_conversation_insert()",
    "DROP FUNCTION IF EXISTS inbox_round_robin(uuid[])",
]

SQLITE = [
    """
CREATE TRIGGER inbox_conversation_insert AFTER INSERT ON messages BEGIN
    INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
    SELECT client_id, strftime('%Y-%m-%d %H:%M:%f', 'now'), NULL, 'status', status, 'open', 'the client wrote'
    FROM inbox_conversations WHERE client_id = NEW.client_id AND NEW.direction = 'inbound'
        AND status IN ('pending', 'resolved', 'snoozed');
    UPDATE inbox_conversations SET status = 'open', snoozed_until = NULL
    WHERE client_id = NEW.client_id AND NEW.direction = 'inbound' AND status IN ('pending', 'resolved', 'snoozed');
    INSERT OR IGNORE INTO inbox_conversations
        (client_id, status, snoozed_until, assignee_id, waiting_since, instance_id, created_at, updated_at)
    VALUES (NEW.client_id, CASE WHEN NEW.direction = 'inbound' THEN 'open' ELSE 'pending' END, NULL, NULL,
        NULL, NEW.instance_id, strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'));
    UPDATE inbox_conversations SET
        waiting_since = CASE
            WHEN NEW.direction = 'inbound' THEN coalesce(waiting_since, NEW.sent_at)
            WHEN waiting_since IS NULL OR NEW.sent_at >= waiting_since THEN NULL
            ELSE waiting_since END,
        instance_id = CASE WHEN NEW.instance_id <> 0 THEN NEW.instance_id ELSE instance_id END
    WHERE client_id = NEW.client_id;
END""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS inbox_conversation_insert"]

# The clients who wrote before the inbox: open when they wrote last, pending when we did.
BACKFILL = """
INSERT INTO inbox_conversations
    (client_id, status, snoozed_until, assignee_id, waiting_since, instance_id, created_at, updated_at)
SELECT c.id, CASE WHEN c.last_direction = 'inbound' THEN 'open' ELSE 'pending' END, NULL, NULL,
    CASE WHEN c.last_direction = 'inbound' THEN (
        SELECT min(m.sent_at) FROM messages AS m WHERE m.client_id = c.id AND m.direction = 'inbound'
            AND m.sent_at > coalesce((SELECT max(o.sent_at) FROM messages AS o
                                      WHERE o.client_id = c.id AND o.direction = 'outbound'), {minus_infinity})
    ) END,
    coalesce((SELECT m.instance_id FROM messages AS m WHERE m.id = c.last_message_id), 0), {now}, {now}
FROM clients AS c WHERE c.message_count > 0"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [*POSTGRESQL, BACKFILL.format(minus_infinity="'-infinity'", now="now()")]
    elif vendor == "sqlite":
        statements = [*SQLITE, BACKFILL.format(minus_infinity="''", now="strftime('%Y-%m-%d %H:%M:%f', 'now')")]
    else:
        statements = []
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    for statement in {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


# The roles (README, "Who may do what"): the permissions each group holds, by app and codename.
MANAGER = [
    ("inbox", "view_conversation"),
    ("inbox", "change_conversation"),
    ("clients", "view_client"),
    ("clients", "change_client"),
    ("whatsapp", "view_message"),
    ("whatsapp", "send_message"),
]
ROLES = {"Managers": MANAGER, "Supervisors": [*MANAGER, ("inbox", "view_all_conversations")]}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():  # permissions are otherwise made after every migration has run
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    group_model, permission_model = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    for name, permissions in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        for app_label, codename in permissions:
            group.permissions.add(permission_model.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("inbox", "0001_conversations")]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(create_groups, remove_groups),
    ]
