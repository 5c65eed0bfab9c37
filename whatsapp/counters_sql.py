"""The triggers that keep whatsapp_message_counts and whatsapp_client_counts (whatsapp.models.MessageCount).

PostgreSQL: statement-level triggers over transition tables, so a COPY or a DELETE of a million rows
updates the counters once per statement, not once per row. The slot is the backend's pid, so each
connection mostly writes its own row and concurrent webhooks do not queue on one counter row.
On SQLite (development only) there are no triggers; whatsapp.stats counts rows there.
"""

SLOT = "pg_backend_pid() % 64"

# What each statement changed, as (key columns…, +1/-1) rows; one UNION arm per transition table.
_MESSAGE_ROWS = {
    "insert": ("NEW TABLE AS new_rows", "SELECT channel, direction, status, 1 AS d FROM new_rows"),
    "delete": ("OLD TABLE AS old_rows", "SELECT channel, direction, status, -1 AS d FROM old_rows"),
    "update": (
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT channel, direction, status, 1 AS d FROM new_rows "
        "UNION ALL SELECT channel, direction, status, -1 AS d FROM old_rows",
    ),
}
_HAS_WHATSAPP = "(whatsapp_id IS NOT NULL OR whatsapp_lid IS NOT NULL)"
_CLIENT_ROWS = {
    "insert": ("NEW TABLE AS new_rows", f"SELECT 1 AS d FROM new_rows WHERE {_HAS_WHATSAPP}"),
    "delete": ("OLD TABLE AS old_rows", f"SELECT -1 AS d FROM old_rows WHERE {_HAS_WHATSAPP}"),
    "update": (
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        f"SELECT 1 AS d FROM new_rows WHERE {_HAS_WHATSAPP} "
        f"UNION ALL SELECT -1 AS d FROM old_rows WHERE {_HAS_WHATSAPP}",
    ),
}


def _postgresql() -> list[str]:
    sql = []
    for op, (refs, rows) in _MESSAGE_ROWS.items():
        sql.append(f"""
CREATE FUNCTION message_counts_{op}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO whatsapp_message_counts (channel, direction, status, slot, n)
    SELECT channel, direction, status, {SLOT}, sum(d) FROM ({rows}) AS changes
    GROUP BY channel, direction, status
    HAVING sum(d) <> 0
    ORDER BY channel, direction, status  -- one lock order in every transaction: no deadlocks
    ON CONFLICT (channel, direction, status, slot) DO UPDATE SET n = whatsapp_message_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER message_counts_{op} AFTER {op.upper()} ON messages
    REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION message_counts_{op}();
""")
    for op, (refs, rows) in _CLIENT_ROWS.items():
        sql.append(f"""
CREATE FUNCTION client_counts_{op}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO whatsapp_client_counts (slot, n)
    SELECT {SLOT}, sum(d) FROM ({rows}) AS changes
    HAVING sum(d) <> 0
    ON CONFLICT (slot) DO UPDATE SET n = whatsapp_client_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER client_counts_{op} AFTER {op.upper()} ON clients
    REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION client_counts_{op}();
""")
    # TRUNCATE skips row triggers; it empties the table, so it empties the counts.
    for table, counts in (("messages", "message_counts"), ("clients", "client_counts")):
        sql.append(f"""
CREATE FUNCTION {counts}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM whatsapp_{counts};
    RETURN NULL;
END $$;
CREATE TRIGGER {counts}_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {counts}_truncate();
""")
    return sql


BACKFILL = [
    "DELETE FROM whatsapp_message_counts",
    "INSERT INTO whatsapp_message_counts (channel, direction, status, slot, n) "
    "SELECT channel, direction, status, 0, count(*) FROM messages GROUP BY channel, direction, status",
    "DELETE FROM whatsapp_client_counts",
    f"INSERT INTO whatsapp_client_counts (slot, n) SELECT 0, count(*) FROM clients WHERE {_HAS_WHATSAPP}",
]


def create_statements(vendor: str) -> list[str]:
    return _postgresql() + BACKFILL if vendor == "postgresql" else []


def drop_statements(vendor: str) -> list[str]:
    triggers = [f"{t}_{op}" for t in ("message_counts", "client_counts") for op in ("insert", "delete", "update")]
    if vendor != "postgresql":
        return []
    tables = {"message_counts": "messages", "client_counts": "clients"}
    return [
        f"DROP TRIGGER IF EXISTS {name} ON {tables[name.rsplit('_', 1)[0]]}; DROP FUNCTION IF EXISTS {name}()"
        for name in [*triggers, "message_counts_truncate", "client_counts_truncate"]
    ]
