"""The benchmark of issue #4 in one command (`bench/run`; README, "Benchmark").

1. A fresh PostgreSQL database, migrated by the Procfile's `release:` line; gunicorn started exactly as
   its `web:` line says, bound to 127.0.0.1 only.
2. wrk drives POST /whatsapp/webhook with a realistic mix (bench/webhook.lua), then GET /healthz, for
   the same time at the same concurrency; requests/s, p50, p99 and their ratio.
3. The database is checked against what wrk was answered: every acknowledged notification stored,
   each distinct one once, every message once, none failed.
4. GET /whatsapp/stats at 1,000 messages and at --messages (seed_demo_data), median of many requests.
5. clear_whatsapp_messages at --messages (time, max RSS) against a raw DELETE of as many rows.
6. The Procfile's worker downloading --downloads files of 100 KB from a local file server (median of
   runs), and what enqueuing a file's job costs the webhook (bench/downloads.py).
7. The figures, the machine and the command go to bench/RESULTS.md; raw numbers to bench/out/.
"""

import argparse
import fcntl
import json
import os
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import candidates
import data
import downloads
import load
import loss
import processes
import psycopg
import results
from data import ADMIN, stage
from results import CONNECTIONS, PYTHON, ROOT, TARGETS, Sizes

BENCH = ROOT / "bench"
SERVER = "postgres://postgres@127.0.0.1:5432"
# The databases the benchmark may drop and create; never one that holds someone's data.
FORBIDDEN_DATABASES = {"crm", "test_crm", "postgres", "template0", "template1"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds of each wrk run (default 20)")
    parser.add_argument("--messages", type=int, default=1_000_000, help="the large data set (default 1000000)")
    parser.add_argument("--database", default="crm_bench", help="dropped and created (default crm_bench)")
    parser.add_argument("--downloads", type=int, default=300, help="files the worker downloads (default 300)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, every stage; writes bench/out/smoke only")
    parser.add_argument("--candidates", action="store_true", help="servers side by side (bench/candidates.py)")
    parser.add_argument("--only", default="", help="with --candidates: only those whose name contains this")
    parser.add_argument("--slow", type=int, default=1000, help="slow connections (default 1000: 500 of each kind)")
    parser.add_argument("--repeat", type=int, default=1, help="with --candidates: rounds of throughput (default 1)")
    parser.add_argument("--slow-seconds", type=int, default=60, help="how long they trickle (default 60)")
    args = parser.parse_args(argv)
    if args.database in FORBIDDEN_DATABASES or not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error(f"refusing to drop and create the database {args.database!r}")
    sizes = (
        Sizes(
            duration=2,
            small=20,
            large=200,
            stats_requests=20,
            small_clients=10,
            large_clients=50,
            downloads=20,
            download_runs=2,
            hook_rounds=60,
        )
        if args.smoke
        else Sizes(
            duration=args.duration, small=1_000, large=args.messages, stats_requests=200, downloads=args.downloads
        )
    )
    out = BENCH / "out" / ("smoke" if args.smoke else "latest")
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(BENCH / "out" / ".lock") as locked:
        if not locked:
            print("Another benchmark is running (bench/out/.lock); try again when it is done.", file=sys.stderr)
            return 75  # EX_TEMPFAIL: the smoke test skips on it
        return _run(args, sizes, out, " ".join(["bench/run", *argv]))


@contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    # Two runs at once would drop each other's database and share the machine's two cores.
    with path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _run(args: argparse.Namespace, sizes: Sizes, out: Path, command: str) -> int:
    db_url = f"{SERVER}/{args.database}"
    port = processes.free_port()
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "PATH": f"{PYTHON.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "DATABASE_URL": db_url,
        "PORT": str(port),
        "LOG_MODE": "production",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + secrets.token_hex(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GREEN_API_WEBHOOK_TOKEN": token,
        # Overrides gunicorn.conf.py's 0.0.0.0: the benchmark's traffic never leaves the machine.
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
        "DJANGO_SUPERUSER_EMAIL": ADMIN[0],
        "DJANGO_SUPERUSER_PASSWORD": ADMIN[1],
    }
    figures: dict = {"command": command, "smoke": args.smoke, "sizes": asdict(sizes)}
    stage(f"database {args.database}: drop, create, Procfile release")
    _database_create(args.database)
    processes.sh(processes.procfile("release"), env, out / "release.log")  # and the admin, from DJANGO_SUPERUSER_*
    figures["machine"] = results.machine(db_url, env)
    figures["known_clients"] = _known_clients(db_url)
    if args.candidates:
        return _candidates(args, sizes, out, env, port, db_url, figures)
    # The guide's development logging (its full banner on every notification) first, then the README's
    # production settings, whose server stays up for the data stages.
    dev_env = {**env, "LOG_MODE": "development"}
    with processes.server(dev_env, port, out / "gunicorn-development.log") as server:
        figures["development"] = _throughput(dev_env, port, out, db_url, sizes, server, "development")
    _reset(db_url, known=True)
    with processes.server(env, port, out / "gunicorn.log") as server:
        figures.update(_throughput(env, port, out, db_url, sizes, server, "production"))
        # Read now, not at start: the first answer can come before every worker has said it booted.
        figures["machine"]["gunicorn_workers"] = processes.workers(out / "gunicorn.log")
        _print_modes(figures)
        figures.update(data.stages(db_url, env, port, sizes, out))
        figures.update(_media_stages(db_url, env, port, token, sizes, out, figures["webhook"]))
    checks = [figures["check"], figures["cold"]["check"], figures["development"]["check"]]
    checks.append(figures["development"]["cold"]["check"])
    figures["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    (out / "results.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    if not args.smoke:
        results.write(figures)
        print(f"\nWritten to {results.RESULTS.relative_to(ROOT)} and {out.relative_to(ROOT)}/results.json")
    else:
        print(f"\nSmoke run: figures in {out.relative_to(ROOT)}/results.json; bench/RESULTS.md untouched")
    return 0 if all(check["ok"] for check in checks) else 1


def _throughput(env: dict, port: int, out: Path, db_url: str, sizes: Sizes, server, mode: str) -> dict:
    """Warm mix, /healthz, then the cold start; each webhook run checked against the database."""
    url, tag = f"http://127.0.0.1:{port}", "" if mode == "production" else f"-{mode}"
    stage(f"{mode} logging: POST /whatsapp/webhook, warm: {sizes.duration} s, {CONNECTIONS} connections")
    webhook = load.run("webhook", f"{url}/whatsapp/webhook", sizes.duration, out, env, server, db_url, tag)
    stage(f"{mode} logging: GET /healthz: {sizes.duration} s, {CONNECTIONS} connections")
    healthz = load.run("healthz", f"{url}/healthz", sizes.duration, out, env, server, db_url, tag)
    ratio = webhook.rps / healthz.rps if healthz.rps else 0.0
    load.print_throughput(webhook, healthz, ratio)
    figures = {"webhook": load.figures(webhook), "healthz": load.figures(healthz), "ratio_webhook_healthz": ratio}
    figures["check"] = loss.print_check("warm", loss.check(db_url, webhook))
    # As long as the warm rate takes for 10,000 notifications: every number writes for the first time.
    seconds = max(2, min(sizes.duration, round(10_000 / max(webhook.rps, 1))))
    stage(f"{mode} logging: cold start: empty database, {seconds} s, numbers in turn")
    _reset(db_url, known=False)
    cold = load.run(
        "webhook", f"{url}/whatsapp/webhook", seconds, out, {**env, "BENCH_COLD": "1"}, server, db_url, f"{tag}-cold"
    )
    figures["cold"] = {**load.figures(cold), "ratio_webhook_healthz": cold.rps / healthz.rps if healthz.rps else 0.0}
    figures["cold"]["check"] = loss.print_check("cold", loss.check(db_url, cold))
    figures["cold"]["clients_created"] = data.sql_value(db_url, "SELECT count(*) FROM clients")
    figures["cold"]["message_notifications"] = data.sql_value(
        db_url, "SELECT count(*) FROM whatsapp_notifications WHERE type_webhook <> 'outgoingMessageStatus'"
    )
    return figures


def _print_modes(figures: dict) -> None:
    print(f"\n  {'webhook requests/s':28}{'warm':>10}{'cold':>10}{'healthz':>10}{'warm %':>8}{'cold %':>8}")
    for mode, f in (("LOG_MODE=development", figures["development"]), ("LOG_MODE=production", figures)):
        w, c, h = f["webhook"]["rps"], f["cold"]["rps"], f["healthz"]["rps"]
        print(f"  {mode:28}{w:10.1f}{c:10.1f}{h:10.1f}{100 * w / h:8.1f}{100 * c / h:8.1f}")
    cold = figures["cold"]
    share = cold["clients_created"] / max(cold["message_notifications"], 1)
    created, messages = cold["clients_created"], cold["message_notifications"]
    print(f"  cold start: {created:,} clients created by {messages:,} message notifications ({100 * share:.0f}%)")


def _reset(db_url: str, *, known: bool) -> None:
    data.sql(db_url, "DELETE FROM messages", "DELETE FROM whatsapp_notifications", "DELETE FROM clients")
    if known:
        _known_clients(db_url)


def _candidates(
    args: argparse.Namespace, sizes: Sizes, out: Path, env: dict, port: int, db_url: str, figures: dict
) -> int:
    # The Procfile's line first: it also collects the static files the admin's probe needs.
    rows = candidates.run_all(
        env=env,
        port=port,
        out=out,
        db_url=db_url,
        duration=sizes.duration,
        slow=args.slow,
        slow_seconds=args.slow_seconds,
        reset=lambda: _reset(db_url, known=True),
        check=loss.check,
        only=args.only,
        repeat=args.repeat,
    )
    figures["candidates"] = rows
    (out / "candidates.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print("\n" + "\n".join(candidates.table(rows)))
    print(f"\nFigures in {(out / 'candidates.json').relative_to(ROOT)}")
    return 0 if all(row["loss_check"] for row in rows) else 1


def _media_stages(db_url: str, env: dict, port: int, token: str, sizes: Sizes, out: Path, webhook: dict) -> dict:
    size = sizes.download_bytes
    stage(f"worker: {sizes.downloads} files of {size // 1024} KB from a local file server, {sizes.download_runs} runs")
    got = downloads.run(
        db_url=db_url,
        env=env,
        port=port,
        token=token,
        files=sizes.downloads,
        size=size,
        runs=sizes.download_runs,
        out=out,
    )
    each = ", ".join(f"{r['per_second']:.1f}" for r in got["runs"])
    print(
        f"  worker downloads: {got['median_per_second']:.1f} files/s, {got['median_mib_per_second']:.1f} MiB/s "
        f"(median of {sizes.download_runs}: {each}); every file stored once with its size"
    )
    stage(f"enqueue cost: bench/hook_cost.py, {sizes.hook_rounds} text and image messages in-process")
    cost = downloads.enqueue_cost(env=env, rounds=sizes.hook_rounds, webhook=webhook, out=out)
    print(
        f"  CPU per new message: text {cost['text_cpu_ms']:.2f} ms, image with its job {cost['media_cpu_ms']:.2f} ms; "
        f"at {100 * cost['media_share']:.1f}% files in the mix: {cost['added_ms_per_notification']:.3f} ms "
        f"per webhook of {cost['webhook_cpu_ms']:.2f} ms"
    )
    verdict = "meets" if cost["percent"] <= TARGETS["enqueue cost %"] else "misses"
    print(f"  enqueue cost: {cost['percent']:.1f}% of the webhook's CPU ({verdict} the target of at most 10%)")
    return {"downloads": got, "enqueue_cost": cost}


def _known_clients(db_url: str, pool: int = 10_000, known: float = 0.9) -> int:
    """The shop's client book before the run: 90% of the numbers webhook.lua writes from.

    A CRM in use knows most people who write to it; the other 10% are new and go through
    creating a client (and its races) during the run. Same numbers as `person(i)` in webhook.lua.
    """
    kz, br = ["7701", "7705", "7707", "7747", "7771", "7777"], ["55119", "55219", "55319", "55619"]
    numbers = []
    for i in range(int(pool * known)):
        c = i % 10
        if c < 6:
            numbers.append(f"79{(i * 7919 + 104729) % 1_000_000_000:09d}")
        elif c < 8:
            numbers.append(f"{kz[(i // 10) % len(kz)]}{(i * 7919 + 13) % 10_000_000:07d}")
        else:
            numbers.append(f"{br[(i // 10) % len(br)]}{(i * 7919 + 17) % 100_000_000:08d}")
    with psycopg.connect(db_url, autocommit=True) as db:
        db.execute(
            "INSERT INTO clients (id, name, phone, whatsapp_id, created_at, updated_at) "
            "SELECT gen_random_uuid(), '', '+' || n, n, now(), now() FROM unnest(%s::text[]) AS n "
            "ON CONFLICT DO NOTHING",
            [numbers],
        )
    print(f"  {len(numbers):,} of {pool:,} numbers are existing clients; the rest write for the first time")
    return len(numbers)


# ---------------------------------------------------------------------------------------------
# The database.


def _database_create(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
