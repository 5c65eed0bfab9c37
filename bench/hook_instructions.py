"""Instructions the PostgreSQL backend executes per text webhook of a known client: a count that,
unlike CPU time, other work on the machine does not change (bench/RESULTS.md, "The webhook's insert
path after the inbox"), so two checkouts or two variants of a trigger compare in one run each.

Run from the checkout to measure (needs valgrind, PostgreSQL's server binaries and root, to run
them as the `postgres` user): `DATABASE_URL=postgres://…/crm_hookir python bench/hook_instructions.py
<label> [--sql variant.sql]`. It migrates and seeds that database (`seed_demo_data --clients 10000
--messages 200000 --seed 1`), sends 260 text webhooks through `whatsapp.webhook.answer` and keeps
the fast path's statement and parameters, copies the database into a private cluster (a temporary
directory), then runs a single-user backend under callgrind on PREPARE + 50 and + 250 EXECUTEs
of them; the difference over 200 is one webhook. `--sql` runs a file's statements (separated by a
blank line) first: a candidate trigger or index, measured without committing it. Prints one JSON line.
"""

import argparse
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
os.environ["LOG_MODE"] = "production"
import django

django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from clients.models import Client  # noqa: E402
from whatsapp.webhook import answer  # noqa: E402

PG = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
FEW, MANY = 50, 250


def text_webhook(number: str) -> bytes:
    return json.dumps(
        {
            "typeWebhook": "incomingMessageReceived",
            "instanceData": {"idInstance": 1103123456, "wid": "77017654321@c.us", "typeInstance": "whatsapp"},
            "timestamp": 1763901234,
            "idMessage": uuid.uuid4().hex.upper(),
            "senderData": {"chatId": f"{number}@c.us", "sender": f"{number}@c.us", "senderName": "Анна"},
            "messageData": {
                "typeMessage": "textMessage",
                "textMessageData": {"textMessage": "Здравствуйте! Сколько стоит доставка?"},
            },
        },
        ensure_ascii=False,
    ).encode()


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.datetime):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def captured_statements(count: int) -> list[str]:
    """PREPARE of the fast path's statement, then an EXECUTE per webhook, as the webhook sent them."""
    seen: list[tuple[str, list]] = []

    def keep(execute, sql, params, many, context):
        if sql.lstrip().startswith("WITH"):
            seen.append((sql, list(params)))
        return execute(sql, params, many, context)

    numbers = list(Client.objects.exclude(whatsapp_id=None).order_by("id").values_list("whatsapp_id", flat=True)[:2000])
    with connection.execute_wrapper(keep):
        for i in range(count):
            raw = text_webhook(numbers[i % len(numbers)])
            reply = answer(method="POST", content_length=str(len(raw)), authorization="", read=io.BytesIO(raw).read)
            assert reply.body["outcome"] == "processed", reply.body
    assert len({sql for sql, _ in seen}) == 1, "one statement shape per text webhook"
    placeholders = iter(range(1, 1000))
    sql = re.sub(r"%s", lambda _: f"${next(placeholders)}", seen[0][0])
    return ["PREPARE hook AS " + " ".join(sql.split())] + [
        "EXECUTE hook(" + ", ".join(map(literal, params)) + ")" for _, params in seen
    ]


def as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, **kwargs)


def instructions(data: str, script: list[str], out: str) -> int:
    """Instructions of a single-user backend running `script` on the database `run`."""
    # Single-user mode with -j ends a statement at a semicolon and a blank line: none inside one.
    text = "".join("\n".join(line for line in s.splitlines() if line.strip()) + ";\n\n" for s in script)
    done = as_postgres(
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        str(PG / "postgres"), "--single", "-D", data, "-j", "-c", "fsync=off", "run",
        input=text.encode(),
    )  # fmt: skip
    errors = [line for line in done.stdout.decode().splitlines() if "ERROR" in line]
    assert not errors, errors[:3]
    return int(re.search(r"Collected : (\d+)", done.stderr.decode()).group(1))


def sql_file(path: str) -> list[str]:
    """A --sql file's statements (separated by a blank line); a usage error when it cannot be read."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {error.strerror}") from None
    return [s for s in text.split("\n\n") if s.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("label")
    parser.add_argument("--sql", type=sql_file, help="statements to run first, separated by a blank line")
    parser.add_argument(
        "--port", type=int, default=5499, help="of the private cluster (default 5499): two runs at once"
    )
    parser.add_argument("--keep", type=Path, help="a folder to keep callgrind's two outputs in (callgrind_annotate)")
    args = parser.parse_args()
    variant = args.sql or []
    call_command("migrate", verbosity=0)
    if not Client.objects.exists():
        call_command("seed_demo_data", clients=10000, messages=200000, seed=1, verbosity=0)
    settings = connection.settings_dict
    dump = subprocess.run(
        ["pg_dump", "-Fc", "-h", settings["HOST"], "-p", str(settings["PORT"] or 5432), "-U", settings["USER"],
         settings["NAME"]],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    statements = captured_statements(MANY + 10)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        data = f"{tmp}/data"
        as_postgres(str(PG / "initdb"), "-D", data, "-A", "trust")
        psql = ["psql", "-h", tmp, "-p", str(args.port), "-U", "postgres", "-d", "postgres", "-qc"]

        def server(*sql: str, restore: bytes = b"") -> None:
            options = f"-p {args.port} -k {tmp} -c listen_addresses=''"
            as_postgres(str(PG / "pg_ctl"), "-D", data, "-w", "-o", options, "-l", f"{tmp}/log", "start")
            try:
                if restore:
                    subprocess.run([*psql, "CREATE DATABASE seed"], check=True, capture_output=True)
                    restored = ["pg_restore", "-h", tmp, "-p", str(args.port), "-U", "postgres", "-d", "seed"]
                    subprocess.run(restored, input=restore, check=True, capture_output=True)
                    # Statistics once, in the template: ANALYZE samples at random, so running it in
                    # each copy moved the count between runs by up to 200,000 a webhook.
                    subprocess.run([*psql[:-3], "-d", "seed", "-qc", "VACUUM ANALYZE"], check=True, capture_output=True)
                for statement in sql:
                    subprocess.run([*psql, statement], check=True, capture_output=True)
            finally:
                as_postgres(str(PG / "pg_ctl"), "-D", data, "-w", "-m", "fast", "stop")

        server(restore=dump)
        counts = []
        for n in (FEW, MANY):
            # Each run on a fresh copy: a variant's DDL applies to the same database both times.
            server("DROP DATABASE IF EXISTS run", "CREATE DATABASE run TEMPLATE seed")
            counts.append(instructions(data, [*variant, "CHECKPOINT", *statements[: n + 1]], f"{tmp}/cg.{n}"))
        few, many = counts
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for n in (FEW, MANY):
                shutil.copy(f"{tmp}/cg.{n}", args.keep / f"callgrind.{args.label}.{n}")
    print(json.dumps({"label": args.label, "instructions_per_text_webhook": round((many - few) / (MANY - FEW))}))


if __name__ == "__main__":
    main()
