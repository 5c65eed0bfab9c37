"""A client's activity (the latest message, the counts, what is unread) in a table of its own,
`client_activity`, one row per client, kept by the same triggers on `messages` as before.

Every message updated its client's row. That row is wide and has nine indexes (the name's and the
phone's trigrams, the numbers', the list's orders), a CHECK and a statement trigger; an update of
it is never a HOT update while the list's order columns are indexed, so each message wrote an entry
in every one of them. Now a message updates the narrow row of `client_activity` and its two order
indexes (bench/RESULTS.md, "The client's activity in a table of its own"); staff editing a client
no longer wait for the client's messages either, nor they for staff.

The rules are those of whatsapp 0011 and 0013 and inbox 0005, on the new table: the same functions,
by the same names, with `clients` read as `client_activity` (rows locked in client_id order, counts
added to the locked row). A trigger on `clients` gives every new client its row, so the lists join
it without a gap. The list's tie-break (the newest client first) is the client's created_at, copied
into the row when it is made, so that each order is one index.

The SQL is written out here, not imported from a module that can change, so this migration means
the same forever; going back runs the earlier migrations' own statements.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

COLUMNS = "last_message_at, last_message_id, last_direction, last_preview, message_count, inbound_count, unread_count, read_until"
PREVIEW = "left(CASE WHEN {m}.content <> '' THEN {m}.content ELSE {m}.type_message END, 100)"
_LATEST = f"""
    SELECT l.sent_at, l.id, coalesce(l.direction, ''), coalesce(l.preview, '')
    FROM (SELECT) AS one LEFT JOIN LATERAL (
        SELECT m.sent_at, m.id, m.direction, {PREVIEW.format(m="m")} AS preview FROM messages AS m
        WHERE m.client_id = c.client_id ORDER BY m.sent_at DESC, m.created_at DESC LIMIT 1
    ) AS l ON true"""
_NEWER = "(c.last_message_at IS NULL OR r.sent_at >= c.last_message_at)"
_LOCK = "PERFORM 1 FROM client_activity WHERE client_id IN (SELECT client_id FROM {rows}) ORDER BY client_id FOR UPDATE;"
ORDER = "last_message_at DESC NULLS LAST, client_created_at DESC, client_id DESC"
# clients 0007's indexes of the list's orders, which name the columns moved.
_LIST_INDEXES = ("clients_activity", "clients_by_name", "clients_by_message_count")

# inbox 0005's set-based statements, on client_activity.
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
    {_LOCK.format(rows="new_rows")}
    UPDATE client_activity AS c SET
        message_count = c.message_count + ch.n,
        inbound_count = c.inbound_count + ch.n_in,
        unread_count = c.unread_count + CASE
            WHEN c.read_until IS NULL OR ch.first_in > c.read_until THEN ch.n_in
            WHEN ch.last_in <= c.read_until THEN 0
            ELSE (SELECT count(*) FROM new_rows AS r
                  WHERE r.client_id = c.client_id AND r.direction = 'inbound' AND r.created_at > c.read_until)
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
    WHERE c.client_id = ch.client_id;

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
        FROM b JOIN client_activity AS k ON k.client_id = b.client_id
            JOIN inbox_conversations AS c ON c.client_id = b.client_id
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

FUNCTIONS = [
    # Every client has its row from the start: the lists join it, and the triggers below update it.
    """
CREATE FUNCTION client_activity_made() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO client_activity (client_id, client_created_at) SELECT id, created_at FROM new_rows;
    RETURN NULL;
END $$""",
    # The latest message of each client in `ids`, from messages_client_sent (one index probe each).
    f"""
CREATE OR REPLACE FUNCTION client_activity_latest(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE client_activity AS c SET (last_message_at, last_message_id, last_direction, last_preview) = ({_LATEST})
    WHERE c.client_id = ANY(ids)
$$""",
    # Everything again for `ids` (rows locked first, in id order): after an edit or a merge.
    f"""
CREATE OR REPLACE FUNCTION client_activity_refresh(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM client_activity WHERE client_id = ANY(ids) ORDER BY client_id FOR UPDATE;
    UPDATE client_activity AS c SET (message_count, inbound_count, unread_count) = (
        SELECT count(*), count(*) FILTER (WHERE m.direction = 'inbound'),
            count(*) FILTER (WHERE m.direction = 'inbound' AND m.created_at > coalesce(c.read_until, '-infinity'))
        FROM messages AS m WHERE m.client_id = c.client_id
    ), (last_message_at, last_message_id, last_direction, last_preview) = ({_LATEST})
    WHERE c.client_id = ANY(ids);
END $$""",
    # One row (the webhook, a send, the ORM's save): the client's UPDATE, which returns the message
    # with the client's new latest direction and locks the row (two deliveries for one client wait
    # for each other here); the conversation read after that lock; a write only where something
    # changes. Several rows (COPY, bulk_create) or none take the set-based statements.
    f"""
CREATE OR REPLACE FUNCTION messages_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    msg record;
    conv record;
    old_status text;
    waiting timestamptz;
    instance bigint;
BEGIN
    -- The count is one uncorrelated subquery, read once; another count finds no row here.
    UPDATE client_activity AS c SET
        message_count = c.message_count + 1,
        inbound_count = c.inbound_count + (r.direction = 'inbound')::int,
        unread_count = c.unread_count
            + (r.direction = 'inbound' AND r.created_at > coalesce(c.read_until, '-infinity'))::int,
        last_message_at = CASE WHEN {_NEWER} THEN r.sent_at ELSE c.last_message_at END,
        last_message_id = CASE WHEN {_NEWER} THEN r.id ELSE c.last_message_id END,
        last_direction = CASE WHEN {_NEWER} THEN r.direction ELSE c.last_direction END,
        last_preview = CASE WHEN {_NEWER} THEN {PREVIEW.format(m="r")} ELSE c.last_preview END
    FROM new_rows AS r
    WHERE c.client_id = r.client_id AND (SELECT count(*) FROM new_rows) = 1
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
    # Counts go down; the latest is looked up again only where it was deleted and messages remain.
    # A transaction that said it recounts at its end (clear_whatsapp_messages) leaves at once.
    f"""
CREATE OR REPLACE FUNCTION client_activity_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('crm.client_activity', true) = 'deferred' THEN
        RETURN NULL;
    END IF;
    {_LOCK.format(rows="old_rows")}
    UPDATE client_activity AS c SET
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
        FROM old_rows AS r JOIN client_activity AS k ON k.client_id = r.client_id
        GROUP BY r.client_id
    ) AS ch
    WHERE c.client_id = ch.client_id;
    PERFORM client_activity_latest(ARRAY(
        SELECT c.client_id FROM old_rows AS r
        JOIN client_activity AS c ON c.client_id = r.client_id AND c.last_message_id = r.id
    ));
    RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION client_activity_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_activity SET message_count = 0, inbound_count = 0, unread_count = 0, last_message_at = NULL,
        last_message_id = NULL, last_direction = '', last_preview = ''
    WHERE message_count <> 0 OR last_message_id IS NOT NULL;
    RETURN NULL;
END $$""",
    # Every client whose row shows activity, counted again from the messages in one pass (see 0013).
    f"""
CREATE OR REPLACE FUNCTION client_activity_recount() RETURNS void LANGUAGE plpgsql
SET enable_indexscan = off SET enable_bitmapscan = off AS $$
DECLARE
    ids uuid[];
BEGIN
    SELECT array_agg(client_id) INTO ids FROM (
        SELECT client_id FROM client_activity WHERE message_count <> 0 OR last_message_id IS NOT NULL
        ORDER BY client_id FOR UPDATE
    ) AS locked;
    UPDATE client_activity AS c SET
        message_count = coalesce(s.n, 0),
        inbound_count = coalesce(s.n_in, 0),
        unread_count = coalesce(s.n_unread, 0),
        last_message_at = s.sent_at,
        last_message_id = s.id,
        last_direction = coalesce(s.direction, ''),
        last_preview = coalesce(s.preview, '')
    FROM unnest(ids) AS t (id) LEFT JOIN (
        SELECT DISTINCT ON (m.client_id) m.client_id, m.sent_at, m.id, m.direction, {PREVIEW.format(m="m")} AS preview,
            count(*) OVER w AS n,
            count(*) FILTER (WHERE m.direction = 'inbound') OVER w AS n_in,
            count(*) FILTER (
                WHERE m.direction = 'inbound' AND m.created_at > coalesce(k.read_until, '-infinity')
            ) OVER w AS n_unread
        FROM messages AS m JOIN client_activity AS k ON k.client_id = m.client_id
        WHERE m.client_id = ANY(ids)
        WINDOW w AS (PARTITION BY m.client_id)
        ORDER BY m.client_id, m.sent_at DESC, m.created_at DESC
    ) AS s ON s.client_id = t.id
    WHERE c.client_id = t.id;
END $$""",
]

POSTGRESQL = [
    # A client deleted by SQL (an operator's DELETE, the benchmark's reset) takes its row along.
    # Checked at once, not at commit: a row is only ever made after its client (the trigger below),
    # and the indexes below cannot be built over rows whose check is still pending.
    """
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN SELECT conname FROM pg_constraint
        WHERE contype = 'f' AND conrelid = 'client_activity'::regclass AND confrelid = 'clients'::regclass LOOP
        EXECUTE format('ALTER TABLE client_activity DROP CONSTRAINT %I', fk.conname);
    END LOOP;
END $$""",
    "ALTER TABLE client_activity ADD CONSTRAINT client_activity_client_fk FOREIGN KEY (client_id) "
    "REFERENCES clients (id) ON DELETE CASCADE",
    f"INSERT INTO client_activity (client_id, client_created_at, {COLUMNS}) SELECT id, created_at, {COLUMNS} FROM clients",
    *FUNCTIONS,
    "CREATE TRIGGER client_activity_made AFTER INSERT ON clients REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION client_activity_made()",
    # The list's orders (clients 0007's, on this table): latest activity first, then by count.
    f"CREATE INDEX client_activity_latest_first ON client_activity ({ORDER})",
    f"CREATE INDEX client_activity_by_message_count ON client_activity (message_count DESC, {ORDER})",
    # The name's order had the latest activity as its tie-break: the name alone is read in order
    # now, and equal names (few) are sorted among themselves.
    *(f"DROP INDEX IF EXISTS {name}" for name in _LIST_INDEXES),
    "CREATE INDEX clients_by_name ON clients (name, id)",
]
POSTGRESQL_BACK = [
    "DROP TRIGGER IF EXISTS client_activity_made ON clients",
    "DROP FUNCTION IF EXISTS client_activity_made()",
    "DROP INDEX IF EXISTS clients_by_name",
    f"UPDATE clients AS k SET ({COLUMNS}) = (SELECT {COLUMNS} FROM client_activity AS c WHERE c.client_id = k.id)",
]


def _made_by(app: str, migration: str, *functions: str) -> list[str]:
    """An earlier migration's statements that make `functions`, as CREATE OR REPLACE (in its order)."""
    made = []
    for statement in import_module(f"{app}.migrations.{migration}").POSTGRESQL:
        text = statement.lstrip().replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", 1)
        if any(text.startswith(f"CREATE FUNCTION {name}(") for name in functions):
            made.append(text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    return made


def _earlier_postgresql() -> list[str]:
    """The functions as they were on `clients` (0011's, 0013's delete and recount, 0005's insert
    trigger) and 0007's order indexes."""
    indexes = import_module("clients.migrations.0007_list_indexes").FORWARD
    return [
        *_made_by("whatsapp", "0011_client_activity", "client_activity_latest", "client_activity_refresh",
                  "client_activity_truncate"),
        *_made_by("whatsapp", "0013_client_activity_recount", "client_activity_recount", "client_activity_delete"),
        *_made_by("inbox", "0005_one_insert_trigger", "messages_after_insert"),
        *(s for s in indexes if any(f"INDEX {name} " in s for name in _LIST_INDEXES)),
    ]  # fmt: skip


# SQLite (development): row triggers, as 0011's, on client_activity.
_SQLITE_PREVIEW = "substr(CASE WHEN m.content <> '' THEN m.content ELSE m.type_message END, 1, 100)"
_SQLITE_LAST = (
    "(SELECT {column} FROM messages AS m WHERE m.client_id = client_activity.client_id "
    "ORDER BY m.sent_at DESC, m.created_at DESC LIMIT 1)"
)
_SQLITE_REFRESH = f"""
    UPDATE client_activity SET
        message_count = (SELECT count(*) FROM messages AS m WHERE m.client_id = client_activity.client_id),
        inbound_count = (SELECT count(*) FROM messages AS m
            WHERE m.client_id = client_activity.client_id AND m.direction = 'inbound'),
        unread_count = (SELECT count(*) FROM messages AS m
            WHERE m.client_id = client_activity.client_id AND m.direction = 'inbound'
            AND (client_activity.read_until IS NULL OR m.created_at > client_activity.read_until)),
        last_message_at = {_SQLITE_LAST.format(column="m.sent_at")},
        last_message_id = {_SQLITE_LAST.format(column="m.id")},
        last_direction = coalesce({_SQLITE_LAST.format(column="m.direction")}, ''),
        last_preview = coalesce({_SQLITE_LAST.format(column=_SQLITE_PREVIEW)}, '')
    WHERE client_id IN ({{ids}});"""
_SQLITE_NEWER = "(last_message_at IS NULL OR NEW.sent_at >= last_message_at)"
SQLITE_MADE = """
CREATE TRIGGER client_activity_made AFTER INSERT ON clients BEGIN
    INSERT INTO client_activity (client_id, client_created_at) VALUES (NEW.id, NEW.created_at);
END"""
SQLITE = [
    f"INSERT INTO client_activity (client_id, client_created_at, {COLUMNS}) SELECT id, created_at, {COLUMNS} FROM clients",
    "DROP INDEX IF EXISTS clients_last_message",
    f"CREATE INDEX client_activity_latest_first ON client_activity ({ORDER.replace(' NULLS LAST', '')})",
    f"""
CREATE TRIGGER client_activity_insert AFTER INSERT ON messages BEGIN
    UPDATE client_activity SET
        message_count = message_count + 1,
        inbound_count = inbound_count + (NEW.direction = 'inbound'),
        unread_count = unread_count + (NEW.direction = 'inbound' AND (read_until IS NULL OR NEW.created_at > read_until)),
        last_message_id = CASE WHEN {_SQLITE_NEWER} THEN NEW.id ELSE last_message_id END,
        last_direction = CASE WHEN {_SQLITE_NEWER} THEN NEW.direction ELSE last_direction END,
        last_preview = CASE WHEN {_SQLITE_NEWER} THEN {_SQLITE_PREVIEW.replace("m.", "NEW.")} ELSE last_preview END,
        last_message_at = CASE WHEN {_SQLITE_NEWER} THEN NEW.sent_at ELSE last_message_at END
    WHERE client_id = NEW.client_id;
END""",
    f"CREATE TRIGGER client_activity_delete AFTER DELETE ON messages BEGIN {_SQLITE_REFRESH.format(ids='OLD.client_id')} END",
    "CREATE TRIGGER client_activity_update AFTER UPDATE OF client_id, direction, content, type_message, sent_at, "
    f"created_at ON messages BEGIN {_SQLITE_REFRESH.format(ids='OLD.client_id, NEW.client_id')} END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS client_activity_{op}" for op in ("insert", "delete", "update", "made")]


def move(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = POSTGRESQL
    elif vendor == "sqlite":
        # SQLite drops a column only when no trigger or index names it: 0011's go first.
        statements = [*SQLITE_DROP, *SQLITE]
    else:
        statements = []
    for statement in statements:
        schema_editor.execute(statement, params=None)


def move_back(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [*POSTGRESQL_BACK, *_earlier_postgresql()]
    elif vendor == "sqlite":
        sqlite = import_module("whatsapp.migrations.0011_client_activity")
        back = f"UPDATE clients SET ({COLUMNS}) = (SELECT {COLUMNS} FROM client_activity AS c WHERE c.client_id = clients.id)"
        statements = [*SQLITE_DROP, "DROP INDEX IF EXISTS client_activity_latest_first", back, *sqlite.SQLITE]
        statements += _sqlite_client_triggers()
    else:
        statements = []
    for statement in statements:
        schema_editor.execute(statement, params=None)


def _sqlite_client_triggers() -> list[str]:
    """The triggers on `clients` (0002's numbers), made again: SQLite drops them when it rebuilds the table."""
    numbers = import_module("clients.migrations.0002_client_numbers")
    names = ("client_numbers_insert", "client_numbers_update", "client_numbers_delete")
    return [*(f"DROP TRIGGER IF EXISTS {name}" for name in names), *numbers.SQLITE]


def sqlite_clients_made(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in [*_sqlite_client_triggers(), "DROP TRIGGER IF EXISTS client_activity_made", SQLITE_MADE]:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0007_list_indexes"),
        # The functions replaced here were last written by these.
        ("inbox", "0005_one_insert_trigger"),
        ("whatsapp", "0018_messages_created_order"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClientActivity",
            fields=[
                ("client", models.OneToOneField(editable=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="activity", serialize=False, to="clients.client")),
                ("client_created_at", models.DateTimeField(editable=False)),
                ("last_message_at", models.DateTimeField(blank=True, default=None, editable=False, help_text="WhatsApp's time.", null=True, verbose_name="last message")),
                ("last_message_id", models.UUIDField(blank=True, default=None, editable=False, null=True)),
                ("last_direction", models.CharField(blank=True, db_default="", default="", editable=False, max_length=8)),
                ("last_preview", models.CharField(blank=True, db_default="", default="", editable=False, max_length=100)),
                ("message_count", models.IntegerField(db_default=0, default=0, editable=False, verbose_name="messages")),
                ("inbound_count", models.IntegerField(db_default=0, default=0, editable=False, verbose_name="messages in")),
                ("unread_count", models.IntegerField(db_default=0, default=0, editable=False, verbose_name="unread")),
                ("read_until", models.DateTimeField(blank=True, default=None, editable=False, null=True)),
            ],
            options={"verbose_name_plural": "client activity", "db_table": "client_activity"},
        ),
        migrations.RunPython(move, move_back),
        *(
            migrations.RemoveField(model_name="client", name=name)
            for name in ("inbound_count", "last_direction", "last_message_at", "last_message_id", "last_preview",
                         "message_count", "read_until", "unread_count")
        ),  # fmt: skip
        # Last: a SQLite that rebuilt `clients` to drop the columns dropped its triggers too.
        migrations.RunPython(sqlite_clients_made, migrations.RunPython.noop),
    ]
