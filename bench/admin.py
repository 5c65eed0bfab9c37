"""The admin at a business's size (issue 16), in one command: `bench/admin`.

For each size (1,000 clients / 10,000 messages, and --clients / --messages), a PostgreSQL database
migrated by the Procfile's `release:` line and loaded by `seed_demo_data` (then VACUUM ANALYZE), unless
--reuse finds it loaded already; gunicorn as the Procfile's `web:` line starts it; a staff member signs
in through the admin's login form; every page staff open is timed (median of --requests, after one
untimed); the export of every message ("select all", then the CSV action) is a background job at
both sizes (EXPORT_STREAM_MAX_ROWS is set below the small size): the request is timed, then the
Procfile's worker line with `--batch` runs the job, timed with its peak RSS (the job's own time is
the export's started/finished), and the file is downloaded through the application, timed;
`whatsapp_doctor` is timed. The table with ratios is printed and written to bench/RESULTS.md
("Admin at scale"). `--export-only` measures the export alone and prints it.
"""

import argparse
import http.client
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import processes
import psycopg
from results import PYTHON, ROOT

RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- admin-at-scale -->", "<!-- /admin-at-scale -->"
ADMIN = ("admin-bench@example.com", "bench-password-" + secrets.token_hex(8))
TARGET_SECONDS, TARGET_RATIO = 0.5, 3.0
DOCTOR = "whatsapp_doctor"
DOCTOR_TARGET_SECONDS = 2.0  # at the big size (issue 16); a command, not a page: no ratio
EXPORT_STREAM_MAX_ROWS = 5_000
EXPORT = "export of all messages"
CLIENTS_PER_PAGE = 50  # ClientAdmin.list_per_page
PER_CLIENT_ALIKE = "per-client CSV, as many messages as the small size's busiest"
PER_CLIENT_BUSIEST = "per-client CSV, the busiest client"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/admin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=3_000_000)
    parser.add_argument("--requests", type=int, default=10, help="timed requests per page (median)")
    parser.add_argument("--database", default="crm_admin_bench", help="prefix: <name>_small and <name>_big")
    parser.add_argument("--reuse", action="store_true", help="keep a database already loaded at its size")
    parser.add_argument("--export-only", action="store_true", help="only the export of every message; print it")
    parser.add_argument(
        "--pages", type=_pattern, help="only the pages whose title matches this regular expression; print them"
    )
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database) or args.database.startswith("crm_bench"):
        parser.error(f"refusing the database name {args.database!r}")
    sizes = {"small": (1_000, 10_000), "big": (args.clients, args.messages)}
    figures, reference = {}, {}
    for size, (clients, messages) in sizes.items():
        name = f"{args.database}_{size}"
        print(f"== {size}: {clients:,} clients, {messages:,} messages in {name}", flush=True)
        env = _env(name)
        _load(name, env, clients, messages, reuse=args.reuse)
        figures[size] = _measure(env, args, reference)
    table = _table(figures, sizes, " ".join(["bench/admin", *argv]))
    print(table)
    if not args.export_only and not args.pages:
        _write(table)
    return 0


def _pattern(text: str) -> re.Pattern:
    try:
        return re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"not a regular expression: {error}") from None


def _env(database: str) -> dict:
    return {
        **{k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR")},
        "PATH": f"{PYTHON.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "PORT": str(processes.free_port()),
        "LOG_MODE": "production",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + secrets.token_hex(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GREEN_API_URL": "http://127.0.0.1:9",  # the doctor's Green API checks fail at once, offline
        "GUNICORN_CMD_ARGS": "--bind 127.0.0.1:{port}",
        "DJANGO_SUPERUSER_EMAIL": ADMIN[0],
        "DJANGO_SUPERUSER_PASSWORD": ADMIN[1],
        # Every export of all messages is a job at both sizes, so the two are measured alike.
        "EXPORT_STREAM_MAX_ROWS": str(EXPORT_STREAM_MAX_ROWS),
        "MEDIA_ROOT": str(ROOT / "bench" / "out" / f"media-{database}"),
    }


def _load(database: str, env: dict, clients: int, messages: int, *, reuse: bool) -> None:
    env["GUNICORN_CMD_ARGS"] = env["GUNICORN_CMD_ARGS"].format(port=env["PORT"])
    log = ROOT / "bench" / "out" / f"admin-{database}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if reuse and _loaded(database) == (clients, messages):
        processes.sh(processes.procfile("release"), env, log)
        _staff(env, log)
        return
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database}")
        conn.execute(f"CREATE DATABASE {database}")
    processes.sh(processes.procfile("release"), env, log)
    _staff(env, log)
    started = time.monotonic()
    seed = f"{PYTHON} manage.py seed_demo_data --clients {clients} --messages {messages} --seed 1"
    processes.sh(seed, env, log)
    print(f"  seeded in {time.monotonic() - started:.0f} s", flush=True)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _staff(env: dict, log: Path) -> None:
    """The benchmark's own superuser, whoever else the database has (the release line makes only the first)."""
    code = (
        "from django.contrib.auth import get_user_model; U = get_user_model(); "
        f"u = U.objects.filter(email={ADMIN[0]!r}).first() or U.objects.create_superuser(email={ADMIN[0]!r}); "
        f"u.set_password({ADMIN[1]!r}); u.save()"
    )
    processes.sh(f'{PYTHON} manage.py shell -c "{code}"', env, log)


def _loaded(database: str) -> tuple[int, int] | None:
    try:
        with psycopg.connect(f"postgres://postgres@127.0.0.1:5432/{database}") as conn:
            return conn.execute("SELECT (SELECT count(*) FROM clients), (SELECT count(*) FROM messages)").fetchone()
    except psycopg.Error:
        return None


def _pages(env: dict, reference: dict) -> dict[str, str]:
    """Each page's title and path. Alike at both sizes where the sizes differ: the last page of the
    client list and page 20 (the small size's last), a client with as many messages as the small
    size's busiest as well as the busiest, a rare word that is in the data (an order number)."""
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        busiest, most = conn.execute(
            "SELECT client_id, message_count FROM client_activity ORDER BY message_count DESC LIMIT 1"
        ).fetchone()
        reference.setdefault("messages", most)
        alike = conn.execute(
            "SELECT client_id FROM client_activity WHERE message_count <= %s ORDER BY message_count DESC LIMIT 1",
            [reference["messages"]],
        ).fetchone()[0]
        clients = conn.execute("SELECT count(*) FROM clients").fetchone()[0]
        rare = conn.execute(
            "SELECT substring(content from '№[0-9]+') FROM messages WHERE content LIKE '%%№%%' ORDER BY id LIMIT 1"
        ).fetchone()[0]
    last = max(1, -(-clients // CLIENTS_PER_PAGE))
    base, clients, messages = "/admin/", "/admin/clients/client/", "/admin/whatsapp/message/"
    inbox = "/admin/inbox/conversation/"
    return {
        "admin index (dashboard)": base,
        "client list": clients,
        "client list, page 20": clients + "?p=20",
        "client list, the last page": clients + f"?p={last}",
        "client list by messages": clients + "?o=-3",
        "client list by name": clients + "?o=1",
        "client search +7 900 034-91-15": clients + "?q=" + quote("+7 900 034-91-15"),
        "client search 8287": clients + "?q=8287",
        "client search by a word (доставка)": clients + "?q=" + quote("доставка"),
        "client search, a rare word (an order number)": clients + "?q=" + quote(rare or "№1000"),
        "client search, a word nobody wrote (пришёл 7)": clients + "?q=" + quote("пришёл 7"),
        "message list": messages,
        "message list, inbound images": messages + "?direction__exact=inbound&type_message=imageMessage",
        "message list, page 100": messages + "?p=100",
        "message list searched (доставка)": messages + "?q=" + quote("доставка"),
        "notification list": "/admin/whatsapp/notification/",
        "a conversation": f"{clients}{busiest}/change/",
        "inbox": inbox,
        "inbox, unassigned open": inbox + "?tab=unassigned&status=open",
        "inbox, waiting longest": inbox + "?o=7",
        "inbox, unread": inbox + "?unread=1",
        "inbox, a conversation": f"{inbox}{busiest}/change/",
        PER_CLIENT_ALIKE: f"{clients}{alike}/export/",
        PER_CLIENT_BUSIEST: f"{clients}{busiest}/export/",
    }


def _measure(env: dict, args: argparse.Namespace, reference: dict) -> dict:
    port = int(env["PORT"])
    out = ROOT / "bench" / "out" / f"admin-gunicorn-{port}.log"
    figures = {}
    with processes.server(env, port, out):
        session = Session(port)
        if not args.export_only:
            for title, path in _pages(env, reference).items():
                if args.pages and not args.pages.search(title):
                    continue
                figures[title] = session.median(path, args.requests)
                if title.startswith("per-client CSV"):
                    rows = session.get(path)[1].count(b"\n") - 1
                    figures[f"{title}: rows/s"] = (f"{rows / figures[title][0]:,.0f} rows/s ({rows:,} rows)", 200)
        if not args.pages:
            figures.update(_export(session, env))
    if args.export_only or args.pages:
        return figures
    started = time.monotonic()
    subprocess.run([str(PYTHON), "manage.py", "whatsapp_doctor"], cwd=ROOT, env=env, capture_output=True)
    figures[DOCTOR] = (time.monotonic() - started, 200)
    return figures


class Session:
    """A staff member signed in through the admin's own login form, on one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}
        self.location = ""
        status, body = self.get("/admin/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        form = f"csrfmiddlewaretoken={token}&username={quote(ADMIN[0])}&password={quote(ADMIN[1])}&next=/admin/"
        status, _ = self.request("POST", "/admin/login/", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise SystemExit(f"admin login failed: {status}")

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None) -> tuple:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {**(headers or {}), "Cookie": cookie, "Referer": f"http://127.0.0.1:{self.conn.port}/admin/login/"}
        self.conn.request(method, path, body=body, headers=headers)
        answer = self.conn.getresponse()
        self.location = answer.headers.get("Location", "")
        for value in answer.headers.get_all("Set-Cookie") or []:
            key, _, rest = value.partition("=")
            self.cookies[key] = rest.split(";", 1)[0]
        return answer.status, answer.read()

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def median(self, path: str, n: int) -> tuple[float, int]:
        status, _ = self.get(path)  # warm
        times = []
        for _ in range(n):
            started = time.perf_counter()
            status, _ = self.get(path)
            times.append(time.perf_counter() - started)
        return statistics.median(times), status

    def export(self) -> tuple[float, int, str]:
        """Select every message (Django's "select all") and export it: seconds, status, where it leads."""
        _, body = self.get("/admin/whatsapp/message/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        form = f"csrfmiddlewaretoken={token}&action=export_csv&select_across=1&index=0&_selected_action=x"
        started = time.perf_counter()
        status, _ = self.request(
            "POST", "/admin/whatsapp/message/", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        return time.perf_counter() - started, status, self.location

    def download(self, path: str) -> tuple[float, int, int]:
        """GET a file on a connection of its own, read to the end: seconds, status, bytes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.conn.port, timeout=600)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        answer = conn.getresponse()
        size = 0
        while chunk := answer.read1(1 << 20):
            size += len(chunk)
        conn.close()
        return time.perf_counter() - started, answer.status, size


def _export(session: Session, env: dict) -> dict:
    """The export of every message as staff ask for it, its job in the Procfile's worker, the download."""
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DELETE FROM whatsapp_message_exports")  # a run's own, never a previous run's
    asked, status, location = session.export()
    if status != 302 or not location.endswith("/exports/"):
        raise SystemExit(f"the export was not a job: {status} {location}")
    log = ROOT / "bench" / "out" / f"admin-worker-{env['PORT']}.log"
    worker = processes.procfile("worker") + " --batch --no-startup-delay"
    seconds, rss_kib = processes.measured(["bash", "-c", worker], env, log)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        export_id, state, rows, size, job_seconds = conn.execute(
            "SELECT id, state, rows, size, EXTRACT(EPOCH FROM finished_at - started_at) FROM whatsapp_message_exports"
        ).fetchone()
        if state != "ready":
            raise SystemExit(f"the export ended {state}; see {log}")
        download, status, got = session.download(f"/admin/whatsapp/message/exports/{export_id}/download/")
        if got != size:
            raise SystemExit(f"downloaded {got} bytes of {size}")
        conn.execute("DELETE FROM whatsapp_message_exports")
    shutil.rmtree(env["MEDIA_ROOT"], ignore_errors=True)
    return {
        f"{EXPORT}: the request (a job)": (asked, 302),
        f"{EXPORT}: the job (rows, MiB, worker's wall time and peak RSS)": (
            f"{job_seconds:.1f} s ({rows:,} rows, {size / 2**20:.0f} MiB; worker {seconds:.1f} s, "
            f"{rss_kib / 1024:.0f} MiB RSS)",
            "ready",
        ),
        f"{EXPORT}: its download": (f"{download:.1f} s", status),
    }


def _table(figures: dict, sizes: dict, command: str) -> str:
    small, big = sizes["small"], sizes["big"]
    lines = [
        f"`{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; median of the timed requests, "
        f"{small[0]:,} clients / {small[1]:,} messages against {big[0]:,} / {big[1]:,}. "
        f"Target: under {TARGET_SECONDS} s and within {TARGET_RATIO:g}x ({DOCTOR}: under {DOCTOR_TARGET_SECONDS:g} s).",
        "",
        "| page | small | big | ratio | status |",
        "|---|---|---|---|---|",
    ]
    for title, (value, status) in figures["big"].items():
        before = figures["small"][title][0]
        if isinstance(value, str) or title.startswith(EXPORT):
            before, value = (f"{v:.3f} s" if isinstance(v, float) else v for v in (before, value))
            lines.append(f"| {title} | {before} | {value} | | {status} |")
            continue
        ratio = value / before if before else 0
        met = value < DOCTOR_TARGET_SECONDS if title == DOCTOR else value < TARGET_SECONDS and ratio <= TARGET_RATIO
        mark = "" if met else " ❌"
        lines.append(f"| {title} | {before:.3f} s | {value:.3f} s | {ratio:.1f}x{mark} | {status} |")
    return "\n".join(lines)


def _write(table: str) -> None:
    text = RESULTS.read_text(encoding="utf-8")
    block = f"{START}\n{table}\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text += f"\n## Admin at scale (issue 16)\n\n{block}\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main(sys.argv[1:]))
