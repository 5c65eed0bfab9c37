"""Each client's activity (clients.Client.last_message_at, message_count, …), kept by triggers on `messages`.

Triggers, not Python, so every writer keeps it right: the webhook's one-statement path, the ORM,
sends, merges, clean-ups and the guide's raw `DELETE FROM messages WHERE channel = 'whatsapp';`.
PostgreSQL: statement-level triggers over transition tables (one UPDATE of the clients touched per
statement, however many rows a COPY or DELETE has). A statement of several clients locks their rows
in id order first, so two such statements never deadlock; counts are added to the locked row
(`n = n + d`), so concurrent deliveries never lose one. SQLite (development): row triggers.
The SQL is written out here, not imported, so this migration means the same forever.
"""

from django.db import migrations

PREVIEW = "left(CASE WHEN {m}.content <> '' THEN {m}.content ELSE {m}.type_message END, 100)"
_LATEST = f"""
    SELECT l.sent_at, l.id, coalesce(l.direction, ''), coalesce(l.preview, '')
    FROM (SELECT) AS one LEFT JOIN LATERAL (
        SELECT m.sent_at, m.id, m.direction, {PREVIEW.format(m="m")} AS preview FROM messages AS m
        WHERE m.client_id = c.id ORDER BY m.sent_at DESC, m.created_at DESC LIMIT 1
    ) AS l ON true"""
_NEWER = "(c.last_message_at IS NULL OR r.sent_at >= c.last_message_at)"
_LOCK = "PERFORM 1 FROM clients WHERE id IN (SELECT client_id FROM {rows}) ORDER BY id FOR UPDATE;"
_TRIGGER = """CREATE TRIGGER client_activity_{op} AFTER {OP} ON messages
    REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION client_activity_{op}()"""

POSTGRESQL = [
    # The latest message of each client in `ids`, from messages_client_sent (one index probe each).
    f"""
CREATE FUNCTION client_activity_latest(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE clients AS c SET (last_message_at, last_message_id, last_direction, last_preview) = ({_LATEST})
    WHERE c.id = ANY(ids)
$$""",
    # Everything again for `ids` (rows locked first, in id order): after an edit or a merge.
    f"""
CREATE FUNCTION client_activity_refresh(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM clients WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
    UPDATE clients AS c SET (message_count, inbound_count, unread_count) = (
        SELECT count(*), count(*) FILTER (WHERE m.direction = 'inbound'),
            count(*) FILTER (WHERE m.direction = 'inbound' AND m.created_at > coalesce(c.read_until, '-infinity'))
        FROM messages AS m WHERE m.client_id = c.id
    ), (last_message_at, last_message_id, last_direction, last_preview) = ({_LATEST})
    WHERE c.id = ANY(ids);
END $$""",
    # The webhook's path is one row: one plain UPDATE, no lock taken beyond its own. Several rows
    # (a COPY, a bulk insert) lock their clients in id order, then add each client's share.
    f"""
CREATE FUNCTION client_activity_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM new_rows) = 1 THEN
        UPDATE clients AS c SET
            message_count = c.message_count + 1,
            inbound_count = c.inbound_count + (r.direction = 'inbound')::int,
            unread_count = c.unread_count
                + (r.direction = 'inbound' AND r.created_at > coalesce(c.read_until, '-infinity'))::int,
            last_message_at = CASE WHEN {_NEWER} THEN r.sent_at ELSE c.last_message_at END,
            last_message_id = CASE WHEN {_NEWER} THEN r.id ELSE c.last_message_id END,
            last_direction = CASE WHEN {_NEWER} THEN r.direction ELSE c.last_direction END,
            last_preview = CASE WHEN {_NEWER} THEN {PREVIEW.format(m="r")} ELSE c.last_preview END
        FROM new_rows AS r
        WHERE c.id = r.client_id;
        RETURN NULL;
    END IF;
    {_LOCK.format(rows="new_rows")}
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
            {PREVIEW.format(m="r")} AS preview,
            count(*) OVER w AS n,
            count(*) FILTER (WHERE r.direction = 'inbound') OVER w AS n_in,
            min(r.created_at) FILTER (WHERE r.direction = 'inbound') OVER w AS first_in,
            max(r.created_at) FILTER (WHERE r.direction = 'inbound') OVER w AS last_in
        FROM new_rows AS r
        WINDOW w AS (PARTITION BY r.client_id)
        ORDER BY r.client_id, r.sent_at DESC, r.created_at DESC
    ) AS ch
    WHERE c.id = ch.client_id;
    RETURN NULL;
END $$""",
    # Counts go down; the latest is looked up again only where it was deleted and messages remain.
    f"""
CREATE FUNCTION client_activity_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_LOCK.format(rows="old_rows")}
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
    # Status ticks change nothing here and leave at once; edits and merges recount their clients.
    """
CREATE FUNCTION client_activity_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    SELECT array_agg(DISTINCT x.client_id) INTO ids FROM (
        SELECT o.client_id, n.client_id AS new_client_id FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
        WHERE (o.client_id, o.direction, o.content, o.type_message, o.sent_at, o.created_at)
            IS DISTINCT FROM (n.client_id, n.direction, n.content, n.type_message, n.sent_at, n.created_at)
    ) AS changed CROSS JOIN LATERAL (VALUES (changed.client_id), (changed.new_client_id)) AS x (client_id);
    IF ids IS NOT NULL THEN
        PERFORM client_activity_refresh(ids);
    END IF;
    RETURN NULL;
END $$""",
    """
CREATE FUNCTION client_activity_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE clients SET message_count = 0, inbound_count = 0, unread_count = 0, last_message_at = NULL,
        last_message_id = NULL, last_direction = '', last_preview = ''
    WHERE message_count <> 0 OR last_message_id IS NOT NULL;
    RETURN NULL;
END $$""",
    # The client list's order: whoever wrote last first, never wrote last (both directions).
    "CREATE INDEX clients_last_message ON clients (last_message_at DESC NULLS LAST)",
    _TRIGGER.format(op="insert", OP="INSERT", refs="NEW TABLE AS new_rows"),
    _TRIGGER.format(op="delete", OP="DELETE", refs="OLD TABLE AS old_rows"),
    _TRIGGER.format(op="update", OP="UPDATE", refs="OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "CREATE TRIGGER client_activity_truncate AFTER TRUNCATE ON messages "
    "FOR EACH STATEMENT EXECUTE FUNCTION client_activity_truncate()",
    # The activity UPDATE above (a trigger's, depth 2) never changes a number: the clients' counter
    # need not look through its rows on every message.
    """
CREATE OR REPLACE FUNCTION client_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    INSERT INTO whatsapp_client_counts (slot, n)
    SELECT pg_backend_pid() % 64, sum(d) FROM (
        SELECT 1 AS d FROM new_rows WHERE (whatsapp_id IS NOT NULL OR whatsapp_lid IS NOT NULL)
        UNION ALL SELECT -1 AS d FROM old_rows WHERE (whatsapp_id IS NOT NULL OR whatsapp_lid IS NOT NULL)
    ) AS changes
    HAVING sum(d) <> 0
    ON CONFLICT (slot) DO UPDATE SET n = whatsapp_client_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$""",
]

POSTGRESQL_BACKFILL = f"""
UPDATE clients AS c SET message_count = s.n, inbound_count = s.n_in, unread_count = s.n_in,
    last_message_at = l.sent_at, last_message_id = l.id, last_direction = l.direction, last_preview = l.preview
FROM (
    SELECT client_id, count(*) AS n, count(*) FILTER (WHERE direction = 'inbound') AS n_in
    FROM messages GROUP BY client_id
) AS s CROSS JOIN LATERAL (
    SELECT m.sent_at, m.id, m.direction, {PREVIEW.format(m="m")} AS preview FROM messages AS m
    WHERE m.client_id = s.client_id ORDER BY m.sent_at DESC, m.created_at DESC LIMIT 1
) AS l
WHERE c.id = s.client_id"""

POSTGRESQL_DROP = [
    *(f"DROP TRIGGER IF EXISTS client_activity_{op} ON messages" for op in ("insert", "delete", "update", "truncate")),
    *(f"DROP FUNCTION IF EXISTS client_activity_{op}()" for op in ("insert", "delete", "update", "truncate")),
    "DROP FUNCTION IF EXISTS client_activity_refresh(uuid[])",
    "DROP FUNCTION IF EXISTS client_activity_latest(uuid[])",
    "DROP INDEX IF EXISTS clients_last_message",
]

# SQLite: row triggers, each message recounting or comparing against its client's row.
_SQLITE_PREVIEW = "substr(CASE WHEN m.content <> '' THEN m.content ELSE m.type_message END, 1, 100)"
_SQLITE_LAST = (
    "(SELECT {column} FROM messages AS m WHERE m.client_id = clients.id ORDER BY m.sent_at DESC, m.created_at DESC "
    "LIMIT 1)"
)
_SQLITE_REFRESH = f"""
    UPDATE clients SET
        message_count = (SELECT count(*) FROM messages AS m WHERE m.client_id = clients.id),
        inbound_count = (SELECT count(*) FROM messages AS m WHERE m.client_id = clients.id AND m.direction = 'inbound'),
        unread_count = (SELECT count(*) FROM messages AS m WHERE m.client_id = clients.id AND m.direction = 'inbound'
            AND (clients.read_until IS NULL OR m.created_at > clients.read_until)),
        last_message_at = {_SQLITE_LAST.format(column="m.sent_at")},
        last_message_id = {_SQLITE_LAST.format(column="m.id")},
        last_direction = coalesce({_SQLITE_LAST.format(column="m.direction")}, ''),
        last_preview = coalesce({_SQLITE_LAST.format(column=_SQLITE_PREVIEW)}, '')
    WHERE id IN ({{ids}});"""
_SQLITE_NEWER = "(last_message_at IS NULL OR NEW.sent_at >= last_message_at)"
SQLITE = [
    "CREATE INDEX clients_last_message ON clients (last_message_at DESC)",
    f"""
CREATE TRIGGER client_activity_insert AFTER INSERT ON messages BEGIN
    UPDATE clients SET
        message_count = message_count + 1,
        inbound_count = inbound_count + (NEW.direction = 'inbound'),
        unread_count = unread_count + (NEW.direction = 'inbound' AND (read_until IS NULL OR NEW.created_at > read_until)),
        last_message_id = CASE WHEN {_SQLITE_NEWER} THEN NEW.id ELSE last_message_id END,
        last_direction = CASE WHEN {_SQLITE_NEWER} THEN NEW.direction ELSE last_direction END,
        last_preview = CASE WHEN {_SQLITE_NEWER} THEN {_SQLITE_PREVIEW.replace("m.", "NEW.")} ELSE last_preview END,
        last_message_at = CASE WHEN {_SQLITE_NEWER} THEN NEW.sent_at ELSE last_message_at END
    WHERE id = NEW.client_id;
END""",
    f"CREATE TRIGGER client_activity_delete AFTER DELETE ON messages BEGIN {_SQLITE_REFRESH.format(ids='OLD.client_id')} END",
    "CREATE TRIGGER client_activity_update AFTER UPDATE OF client_id, direction, content, type_message, sent_at, "
    f"created_at ON messages BEGIN {_SQLITE_REFRESH.format(ids='OLD.client_id, NEW.client_id')} END",
]
SQLITE_BACKFILL = _SQLITE_REFRESH.format(ids="SELECT DISTINCT client_id FROM messages")
SQLITE_DROP = [
    *(f"DROP TRIGGER IF EXISTS client_activity_{op}" for op in ("insert", "delete", "update")),
    "DROP INDEX IF EXISTS clients_last_message",
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": [*POSTGRESQL, POSTGRESQL_BACKFILL], "sqlite": [*SQLITE, SQLITE_BACKFILL]}
    for statement in statements.get(vendor, []):
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    for statement in {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0003_activity"),
        ("whatsapp", "0010_message_recovered"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
