"""The benchmark's data stages: GET /whatsapp/stats at two sizes (seed_demo_data), and
clear_whatsapp_messages against a raw DELETE of as many rows (time and max RSS)."""

import http.client
import json
import secrets
import statistics
import time
from pathlib import Path

import processes
import psycopg
from results import PYTHON, TARGETS, Sizes

# The benchmark's own staff user, made by the release line from DJANGO_SUPERUSER_*.
ADMIN = ("bench@example.com", "bench-password-" + secrets.token_hex(8))


def stage(title: str) -> None:
    print(f"\n== {title}", flush=True)


def stages(db_url: str, env: dict, port: int, sizes: Sizes, out: Path) -> dict:
    figures: dict = {}
    log = out / "data.log"
    log.write_text("")
    sql(db_url, "DELETE FROM messages", "DELETE FROM whatsapp_notifications", "DELETE FROM clients")

    stage(f"GET /whatsapp/stats at {sizes.small:,} messages")
    seed(env, log, sizes.small_clients, sizes.small)
    settle(db_url)
    figures["stats_small"] = time_stats(port, sizes.stats_requests, expect=sizes.small)
    print_stats(figures["stats_small"])
    seconds, rss = processes.measured([PYTHON, "manage.py", "clear_whatsapp_messages", "--noinput"], env, log)
    figures["clear_small"] = {"seconds": round(seconds, 3), "max_rss_kib": rss, "messages": sizes.small}

    stage(f"seed_demo_data --messages {sizes.large:,}")
    sql(db_url, "VACUUM messages")
    seconds, rss = seed(env, log, sizes.large_clients, sizes.large)
    figures["seed_large"] = {"seconds": round(seconds, 2), "max_rss_kib": rss, "messages": sizes.large}
    print(f"  {sizes.large:,} messages in {seconds:.1f} s ({sizes.large / seconds:,.0f}/s), max RSS {rss >> 10} MiB")

    stage(f"GET /whatsapp/stats at {sizes.large:,} messages")
    settle(db_url)
    figures["stats_large"] = time_stats(port, sizes.stats_requests, expect=sizes.large)
    print_stats(figures["stats_large"])
    ratio = figures["stats_large"]["median_ms"] / figures["stats_small"]["median_ms"]
    figures["ratio_stats"] = ratio
    verdict = "meets" if ratio <= TARGETS["stats large/small"] else "misses"
    print(f"  ratio {sizes.large:,} / {sizes.small:,}: {ratio:.2f}x ({verdict} the target of at most 2x)")

    stage(f"clear_whatsapp_messages at {sizes.large:,} messages, then a raw DELETE of as many")
    sql(db_url, "CHECKPOINT")
    seconds, rss = processes.measured([PYTHON, "manage.py", "clear_whatsapp_messages", "--noinput"], env, log)
    figures["clear_large"] = {"seconds": round(seconds, 3), "max_rss_kib": rss, "messages": sizes.large}
    sql(db_url, "VACUUM messages")
    seed(env, log, 0, sizes.large)
    settle(db_url)
    sql(db_url, "CHECKPOINT")
    started = time.monotonic()
    deleted = sql(db_url, "DELETE FROM messages WHERE channel = 'whatsapp'")
    figures["delete_large"] = {"seconds": round(time.monotonic() - started, 3), "rows": deleted}
    print_clear(figures, sizes)
    return figures


def seed(env: dict, log: Path, clients: int, messages: int) -> tuple[float, int]:
    command = [PYTHON, "manage.py", "seed_demo_data", "--clients", str(clients), "--messages", str(messages)]
    return processes.measured(command, env, log)


def settle(db_url: str) -> None:
    # What autovacuum does within a minute of a bulk load, done now so both sizes are measured alike.
    sql(db_url, "VACUUM ANALYZE messages", "VACUUM ANALYZE clients")


def sql_value(db_url: str, query: str) -> int:
    with psycopg.connect(db_url) as db:
        return db.execute(query).fetchone()[0]


def sql(db_url: str, *statements: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as db:
        for statement in statements:
            rowcount = db.execute(statement).rowcount
    return rowcount


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"email": ADMIN[0], "password": ADMIN[1]})
        conn.request("POST", "/auth/login", body=body, headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        data = answer.read()
    finally:
        conn.close()
    if answer.status != 200:
        raise SystemExit(f"login failed: {answer.status} {data[:200]!r}")
    return json.loads(data)["accessToken"]


def time_stats(port: int, n: int, *, expect: int) -> dict:
    """n sequential GETs on one keep-alive connection, after a few untimed ones to warm up."""
    headers = {"Authorization": f"Bearer {login(port)}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for i in range(n + 10):
            started = time.perf_counter()
            conn.request("GET", "/whatsapp/stats", headers=headers)
            answer = conn.getresponse()
            body = answer.read()
            if i >= 10:
                times.append(1000 * (time.perf_counter() - started))
            if answer.status != 200:
                raise SystemExit(f"/whatsapp/stats answered {answer.status}: {body[:200]!r}")
    finally:
        conn.close()
    total = json.loads(body)["totalMessages"]
    return {
        "messages": expect,
        "total_messages_reported": total,
        "requests": n,
        "median_ms": round(statistics.median(times), 3),
        "p90_ms": round(statistics.quantiles(times, n=10)[-1], 3) if n >= 2 else times[0],
    }


def print_stats(figures: dict) -> None:
    counted = figures["total_messages_reported"]
    note = "" if counted == figures["messages"] else f" — WRONG: totalMessages says {counted}"
    print(f"  median {figures['median_ms']:.2f} ms, p90 {figures['p90_ms']:.2f} ms over {figures['requests']}{note}")


def print_clear(figures: dict, sizes: Sizes) -> None:
    clear, delete, small = figures["clear_large"], figures["delete_large"], figures["clear_small"]
    ratio = clear["seconds"] / delete["seconds"] if delete["seconds"] else 0.0
    figures["ratio_clear_delete"] = ratio
    verdict = "meets" if ratio <= TARGETS["clear/delete"] else "misses"
    print(f"  clear_whatsapp_messages: {clear['seconds']:.2f} s, max RSS {clear['max_rss_kib'] / 1024:.0f} MiB")
    print(f"  raw DELETE:              {delete['seconds']:.2f} s ({delete['rows']:,} rows)")
    print(f"  ratio clear/DELETE: {ratio:.2f}x ({verdict} the target of at most 1.5x)")
    print(
        f"  max RSS of clear at {sizes.small:,} messages: {small['max_rss_kib'] / 1024:.0f} MiB, "
        f"at {sizes.large:,}: {clear['max_rss_kib'] / 1024:.0f} MiB"
    )
