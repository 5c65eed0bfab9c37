"""A bulk clean-up recounts its clients once instead of the delete trigger's work on every statement.

`clear_whatsapp_messages` deletes a million rows in many statements; the delete trigger of 0011
updated every client of every statement and looked up a new latest message where it went (each
lookup walking past the rows deleted before it): four times the DELETE itself. The command now sets
`crm.client_activity` to `deferred` for its own transaction only (`set_config(…, true)`), the delete
trigger then leaves at once, and the command calls `client_activity_recount()` at the end of that
same transaction: nobody ever sees counts of rows that are gone. Every other writer
(the guide's raw DELETE included) keeps the trigger's exact bookkeeping.

The SQL is written out here, not imported, so this migration means the same forever.
"""

from django.db import migrations

PREVIEW = "left(CASE WHEN m.content <> '' THEN m.content ELSE m.type_message END, 100)"

POSTGRESQL = [
    # Every client whose columns show activity, counted again from the messages, set-based: one
    # pass over the table. Index probes would each walk past the rows this very transaction deleted
    # (a million random reads: 18 s against 1.3 s), hence no index scans inside. The clients are
    # locked in id order first, as every writer of several clients does, and exactly those are
    # written; the UPDATE reads with a snapshot taken after the lock, so a delivery that updated a
    # client before is counted, and one that comes after adds its +1 to what is written here. A
    # client outside the set had no message counted, so none of its messages was deleted unseen.
    f"""
CREATE FUNCTION client_activity_recount() RETURNS void LANGUAGE plpgsql
SET enable_indexscan = off SET enable_bitmapscan = off AS $$
DECLARE
    ids uuid[];
BEGIN
    SELECT array_agg(id) INTO ids FROM (
        SELECT id FROM clients WHERE message_count <> 0 OR last_message_id IS NOT NULL ORDER BY id FOR UPDATE
    ) AS locked;
    UPDATE clients AS c SET
        message_count = coalesce(s.n, 0),
        inbound_count = coalesce(s.n_in, 0),
        unread_count = coalesce(s.n_unread, 0),
        last_message_at = s.sent_at,
        last_message_id = s.id,
        last_direction = coalesce(s.direction, ''),
        last_preview = coalesce(s.preview, '')
    FROM unnest(ids) AS t (id) LEFT JOIN (
        SELECT DISTINCT ON (m.client_id) m.client_id, m.sent_at, m.id, m.direction, {PREVIEW} AS preview,
            count(*) OVER w AS n,
            count(*) FILTER (WHERE m.direction = 'inbound') OVER w AS n_in,
            count(*) FILTER (
                WHERE m.direction = 'inbound' AND m.created_at > coalesce(k.read_until, '-infinity')
            ) OVER w AS n_unread
        FROM messages AS m JOIN clients AS k ON k.id = m.client_id
        WHERE m.client_id = ANY(ids)
        WINDOW w AS (PARTITION BY m.client_id)
        ORDER BY m.client_id, m.sent_at DESC, m.created_at DESC
    ) AS s ON s.client_id = t.id
    WHERE c.id = t.id;
END $$""",
    # 0011's delete trigger, with a first line: a transaction that said it recounts leaves it at once.
    """
CREATE OR REPLACE FUNCTION client_activity_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('crm.client_activity', true) = 'deferred' THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM clients WHERE id IN (SELECT client_id FROM old_rows) ORDER BY id FOR UPDATE;
    UPDATE clients AS c SET
        message_count = c.message_count - ch.n,
        inbound_count = c.inbound_count - ch.n_in,
        unread_count = greatest(0, c.unread_count - ch.n_unread),
        last_message_at = CASE WHEN c.message_count = ch.n THEN NULL ELSE c.last_message_at END,
        last_message_id = CASE WHEN c.message_count = ch.n THEN NULL ELSE c.last_message_id END,
        last_direction = CASE WHEN c.message_count = ch.n THEN '' ELSE c.last_direction END,
        last_preview = CASE WHEN c.message_count = ch.n THEN '' ELSE c.last_preview END
    FROM (
        -- read_until is read under the lock taken above: exact.
        SELECT r.client_id, count(*) AS n, count(*) FILTER (WHERE r.direction = 'inbound') AS n_in,
            count(*) FILTER (
                WHERE r.direction = 'inbound' AND r.created_at > coalesce(k.read_until, '-infinity')
            ) AS n_unread
        FROM old_rows AS r JOIN clients AS k ON k.id = r.client_id
        GROUP BY r.client_id
    ) AS ch
    WHERE c.id = ch.client_id;
    PERFORM client_activity_latest(ARRAY(
        SELECT c.id FROM old_rows AS r JOIN clients AS c ON c.id = r.client_id AND c.last_message_id = r.id
    ));
    RETURN NULL;
END $$""",
]

# 0011's function as it was.
POSTGRESQL_BACKWARD = [
    """
CREATE OR REPLACE FUNCTION client_activity_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM clients WHERE id IN (SELECT client_id FROM old_rows) ORDER BY id FOR UPDATE;
    UPDATE clients AS c SET
        message_count = c.message_count - ch.n,
        inbound_count = c.inbound_count - ch.n_in,
        unread_count = greatest(0, c.unread_count - ch.n_unread),
        last_message_at = CASE WHEN c.message_count = ch.n THEN NULL ELSE c.last_message_at END,
        last_message_id = CASE WHEN c.message_count = ch.n THEN NULL ELSE c.last_message_id END,
        last_direction = CASE WHEN c.message_count = ch.n THEN '' ELSE c.last_direction END,
        last_preview = CASE WHEN c.message_count = ch.n THEN '' ELSE c.last_preview END
    FROM (
        -- read_until is read under the lock taken above: exact.
        SELECT r.client_id, count(*) AS n, count(*) FILTER (WHERE r.direction = 'inbound') AS n_in,
            count(*) FILTER (
                WHERE r.direction = 'inbound' AND r.created_at > coalesce(k.read_until, '-infinity')
            ) AS n_unread
        FROM old_rows AS r JOIN clients AS k ON k.id = r.client_id
        GROUP BY r.client_id
    ) AS ch
    WHERE c.id = ch.client_id;
    PERFORM client_activity_latest(ARRAY(
        SELECT c.id FROM old_rows AS r JOIN clients AS c ON c.id = r.client_id AND c.last_message_id = r.id
    ));
    RETURN NULL;
END $$""",
    "DROP FUNCTION IF EXISTS client_activity_recount()",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL:
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL_BACKWARD:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("whatsapp", "0012_message_text_search")]

    operations = [migrations.RunPython(forward, backward)]
