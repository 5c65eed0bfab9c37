"""SQLite's trigger (development) does what PostgreSQL's does (0002): a client's first message is in
the conversation's history ("the first message"); a new conversation the client opened goes
round-robin to the available agent whose last turn is oldest, with its "round-robin" event; and a
client's message arriving late, from before our last answer, does not make us wait.

SQLite's `'now'` is one value for a whole statement and its triggers, so "made by this message" is
a conversation whose created_at is now (PostgreSQL: made in this transaction), and each turn is
stamped at least a millisecond after the last one: a statement of many messages still takes turns.
PostgreSQL's trigger is unchanged. The SQL is written out here, not imported.
"""

from django.db import migrations

NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def new_from_client(c: str) -> str:
    """The conversation `c` was made by this message, which the client sent, and nobody assigned it."""
    return f"""NEW.direction = 'inbound' AND {c}.created_at = {NOW}
        AND NOT EXISTS (SELECT 1 FROM inbox_conversation_events AS e
                        WHERE e.conversation_id = {c}.client_id AND e.field = 'assignee')"""


SQLITE = f"""
CREATE TRIGGER inbox_conversation_insert AFTER INSERT ON messages BEGIN
    INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
    SELECT client_id, {NOW}, NULL, 'status', status, 'open', 'the client wrote'
    FROM inbox_conversations WHERE client_id = NEW.client_id AND NEW.direction = 'inbound'
        AND status IN ('pending', 'resolved', 'snoozed');
    UPDATE inbox_conversations SET status = 'open', snoozed_until = NULL, updated_at = {NOW}
    WHERE client_id = NEW.client_id AND NEW.direction = 'inbound' AND status IN ('pending', 'resolved', 'snoozed');

    -- The first message's event before its conversation: the events' foreign key is checked at commit.
    INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
    SELECT NEW.client_id, {NOW}, NULL, 'status', '', CASE WHEN NEW.direction = 'inbound' THEN 'open' ELSE 'pending' END,
        'the first message'
    WHERE NOT EXISTS (SELECT 1 FROM inbox_conversations WHERE client_id = NEW.client_id);
    INSERT OR IGNORE INTO inbox_conversations
        (client_id, status, snoozed_until, assignee_id, waiting_since, instance_id, created_at, updated_at)
    VALUES (NEW.client_id, CASE WHEN NEW.direction = 'inbound' THEN 'open' ELSE 'pending' END, NULL, NULL,
        NULL, NEW.instance_id, {NOW}, {NOW});
    -- Waiting: a message of theirs later than our last answer (one arriving late, from before it, is not).
    UPDATE inbox_conversations SET
        waiting_since = CASE
            WHEN NEW.direction = 'inbound' AND NEW.sent_at > coalesce((SELECT max(o.sent_at) FROM messages AS o
                    WHERE o.client_id = NEW.client_id AND o.direction = 'outbound'), '')
                THEN coalesce(waiting_since, NEW.sent_at)
            WHEN NEW.direction = 'inbound' THEN waiting_since
            WHEN waiting_since IS NULL OR NEW.sent_at >= waiting_since THEN NULL
            ELSE waiting_since END,
        instance_id = CASE WHEN NEW.instance_id <> 0 THEN NEW.instance_id ELSE instance_id END
    WHERE client_id = NEW.client_id;

    -- The round-robin: the agent chosen, their turn taken, the event kept (in that order, each
    -- reading what the one before wrote).
    UPDATE inbox_conversations SET assignee_id = (
        SELECT a.user_id FROM inbox_agents AS a JOIN users AS u ON u.id = a.user_id
        WHERE a.available AND u.is_active AND u.is_staff
        ORDER BY a.last_assigned_at, a.user_id LIMIT 1)
    WHERE client_id = NEW.client_id AND assignee_id IS NULL AND {new_from_client("inbox_conversations")};
    UPDATE inbox_agents SET last_assigned_at = strftime('%Y-%m-%d %H:%M:%f', max(julianday('now'),
        coalesce((SELECT julianday(max(last_assigned_at)) FROM inbox_agents), 0) + 0.001 / 86400.0))
    WHERE user_id = (SELECT c.assignee_id FROM inbox_conversations AS c
                     WHERE c.client_id = NEW.client_id AND {new_from_client("c")});
    INSERT INTO inbox_conversation_events (conversation_id, at, actor_id, field, old, new, note)
    SELECT c.client_id, {NOW}, NULL, 'assignee', '', u.email, 'round-robin'
    FROM inbox_conversations AS c JOIN users AS u ON u.id = c.assignee_id
    WHERE c.client_id = NEW.client_id AND {new_from_client("c")};
END"""

# 0002's trigger, for going back.
SQLITE_0002 = """
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
END"""


def _replace(schema_editor, trigger: str) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS inbox_conversation_insert", params=None)
    schema_editor.execute(trigger, params=None)


def forwards(apps, schema_editor):
    _replace(schema_editor, SQLITE)


def backwards(apps, schema_editor):
    _replace(schema_editor, SQLITE_0002)


class Migration(migrations.Migration):
    dependencies = [("inbox", "0003_conversation_event_merged")]

    operations = [migrations.RunPython(forwards, backwards)]
