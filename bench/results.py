"""What bench.py measures and found: the sizes of a run, the machine it ran on, and bench/RESULTS.md's
latest-run section."""

import os
import platform
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- latest run: start -->", "<!-- latest run: end -->"
TARGETS = {"webhook/healthz": 0.35, "stats large/small": 2.0, "clear/delete": 1.5, "enqueue cost %": 10.0}
CONNECTIONS, THREADS = 16, 2


@dataclass
class Sizes:
    duration: int
    small: int
    large: int
    stats_requests: int
    small_clients: int = 100
    large_clients: int = 10_000
    downloads: int = 300
    download_runs: int = 3
    download_bytes: int = 100 * 1024
    hook_rounds: int = 520


def machine(db_url: str, env: dict) -> dict:
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    with psycopg.connect(db_url) as db:
        server = {k: db.execute(f"SHOW {k}").fetchone()[0] for k in ("server_version", "fsync", "shared_buffers")}
    # As the application's own connection sees it: settings OPTIONS could turn it off per session.
    app_sync = (
        subprocess.run(
            [PYTHON, "manage.py", "shell", "--verbosity", "0", "-c", _SHOW_SYNC],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=ROOT, capture_output=True).returncode
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu.group(1).strip() if cpu else platform.processor(),
        "ram_gib": round(int(mem.group(1)) / 1024**2, 1) if mem else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": server["server_version"],
        "fsync": server["fsync"],
        "shared_buffers": server["shared_buffers"],
        "synchronous_commit_app": app_sync,
        "wrk": wrk.split(" Copyright")[0],
        "commit": commit.stdout.strip() + (" + uncommitted changes" if dirty else ""),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


_SHOW_SYNC = (
    "from django.db import connection\n"
    "with connection.cursor() as c:\n"
    "    c.execute('SHOW synchronous_commit')\n"
    "    print(c.fetchone()[0])"
)


def write(f: dict) -> None:
    """Replace the "latest run" section of bench/RESULTS.md; anything around it is left as written."""
    section = "\n".join([START, *_latest_run(f), END])
    text = RESULTS.read_text() if RESULTS.exists() else _RESULTS_HEADER
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def _latest_run(f: dict) -> list[str]:
    m, w, h, c = f["machine"], f["webhook"], f["healthz"], f["check"]
    ss, sl, cs, cl = f["stats_small"], f["stats_large"], f["clear_small"], f["clear_large"]
    delete, seed = f["delete_large"], f["seed_large"]
    small, large = f"{ss['messages']:,}", f"{sl['messages']:,}"
    return [
        "## Latest run",
        "",
        f"- **Date**: {m['date']} (commit {m['commit']})",
        f"- **Command**: `{f['command']}`",
        f"- **Machine**: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, Linux {m['kernel']}; "
        f"load average at start {m['load_average_at_start']} (a shared machine: figures are noisy)",
        f"- **Software**: PostgreSQL {m['postgresql']} (fsync {m['fsync']}, shared_buffers {m['shared_buffers']}), "
        f"Python {m['python']}, {m['wrk']}, gunicorn with {m['gunicorn_workers']} workers of "
        f"`crm.gunicorn_worker.Worker` (gevent; the Procfile's line)",
        f"- **Durability**: synchronous_commit `{m['synchronous_commit_app']}` as the application's connection sees it",
        f"- **Data before the run**: {f.get('known_clients', 0):,} existing clients (90% of the 10,000 numbers "
        "that write; the other 10% are new and are created during the run)",
        "",
        f"### Throughput: {f['sizes']['duration']} s each, {CONNECTIONS} connections, {THREADS} wrk threads",
        "",
        "| endpoint | requests/s | p50 | p99 | CPU per request: gunicorn / PostgreSQL / wrk |",
        "|---|---:|---:|---:|---|",
        _throughput_row("POST /whatsapp/webhook", w),
        _throughput_row("GET /healthz", h),
        "",
        f"Webhook / healthz: **{100 * f['ratio_webhook_healthz']:.1f}%**, "
        f"{_verdict(f['ratio_webhook_healthz'] >= TARGETS['webhook/healthz'])} (at least 35%). "
        f"Mix sent: {w['sent']}.",
        "",
        *_modes(f),
        "",
        f"**Loss check: {'PASS' if c['ok'] else 'FAIL'}**: {c['acknowledged']} distinct notifications acknowledged, "
        f"{c['rows']} rows ({c['rows'] - c['acknowledged']} from the {c['unanswered']} requests left unanswered when "
        f"wrk stopped); {c['answers_200']} answers 200, sum(deliveries) {c['deliveries']}; {c['messages']} messages; "
        f"outcomes {c['outcomes']}.",
        "",
        "### Stats, clear and DELETE",
        "",
        f"| measurement | at {small} messages | at {large} messages | ratio |",
        "|---|---:|---:|---|",
        f"| GET /whatsapp/stats, median of {sl['requests']} | {ss['median_ms']:.2f} ms | {sl['median_ms']:.2f} ms "
        f"| **{f['ratio_stats']:.2f}x**, {_verdict(f['ratio_stats'] <= TARGETS['stats large/small'])} (at most 2x) |",
        f"| clear_whatsapp_messages, max RSS | {cs['max_rss_kib'] / 1024:.0f} MiB | {cl['max_rss_kib'] / 1024:.0f} MiB "
        f"| {cl['max_rss_kib'] / max(cs['max_rss_kib'], 1):.2f}x |",
        "",
        f"| at {large} messages | seconds |",
        "|---|---:|",
        f"| `manage.py clear_whatsapp_messages --noinput` | {cl['seconds']:.2f} |",
        f"| raw `DELETE FROM messages WHERE channel = 'whatsapp'` | {delete['seconds']:.2f} |",
        f"| ratio | **{f['ratio_clear_delete']:.2f}x**, "
        f"{_verdict(f['ratio_clear_delete'] <= TARGETS['clear/delete'])} (at most 1.5x) |",
        "",
        f"Seeding {seed['messages']:,} messages (`seed_demo_data`): {seed['seconds']:.1f} s, "
        f"max RSS {seed['max_rss_kib'] / 1024:.0f} MiB. Raw numbers: `bench/out/latest/` (not committed).",
        "",
        *_media(f),
    ]


def _media(f: dict) -> list[str]:
    """The worker's downloads, and what enqueuing them costs the webhook."""
    d, e = f["downloads"], f["enqueue_cost"]
    each = ", ".join(f"{r['per_second']:.1f}" for r in d["runs"])
    return [
        "### Media: the worker's downloads, and the webhook's cost of enqueuing them",
        "",
        f"The Procfile's `worker:` line, one process, downloading {d['files']} files of {d['file_bytes'] // 1024} KB "
        "(enqueued through the webhook while no worker ran) from a local file server into `MEDIA_ROOT`, timed "
        "from the first job's start to the last one's end: "
        f"**{d['median_per_second']:.1f} files/s** ({d['median_mib_per_second']:.1f} MiB/s), median of "
        f"{len(d['runs'])} runs ({each}); every file stored once with its size.",
        "",
        f"Enqueuing (`bench/hook_cost.py`, in-process CPU per new message): text {e['text_cpu_ms']:.2f} ms, an image "
        f"with its MediaFile and job {e['media_cpu_ms']:.2f} ms. At the mix's {100 * e['media_share']:.1f}% of "
        f"files that is {e['added_ms_per_notification']:.3f} ms per webhook against "
        f"{e['webhook_cpu_ms']:.2f} ms (gunicorn + PostgreSQL, under load): **{e['percent']:.1f}%**, "
        f"{_verdict(e['percent'] <= TARGETS['enqueue cost %'])} (at most 10%).",
    ]


def _modes(f: dict) -> list[str]:
    """Warm and cold, with the README's production logging and with the guide's full banner."""
    cold = f["cold"]
    lines = [
        f"### Warm and cold, production and development logging ({CONNECTIONS} connections)",
        "",
        f"Cold start: an empty database, the same 10,000 numbers taken in turn for {cold['seconds']:.0f} s "
        f"(as long as the warm rate takes for 10,000 notifications), so {cold['clients_created']:,} of "
        f"{cold['message_notifications']:,} message notifications created their client.",
        "",
        "| logging | warm webhook req/s | cold webhook req/s | healthz req/s | warm / healthz | cold / healthz "
        "| warm p50 / p99 | cold p50 / p99 | loss checks |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for name, mode in (
        ("`LOG_MODE=development` (the guide's full banner)", f["development"]),
        ("`LOG_MODE=production`", f),
    ):
        w, c, h = mode["webhook"], mode["cold"], mode["healthz"]
        ok = mode["check"]["ok"] and c["check"]["ok"]
        lines.append(
            f"| {name} | {w['rps']:.1f} | {c['rps']:.1f} | {h['rps']:.1f} | {100 * w['rps'] / h['rps']:.1f}% "
            f"| {100 * c['rps'] / h['rps']:.1f}% | {w['latency_ms']['p50']:.1f} / {w['latency_ms']['p99']:.1f} ms "
            f"| {c['latency_ms']['p50']:.1f} / {c['latency_ms']['p99']:.1f} ms | {'PASS' if ok else 'FAIL'} |"
        )
    return lines


def _verdict(ok: bool) -> str:
    return "meets the target" if ok else "**misses the target**"


def _throughput_row(name: str, run: dict) -> str:
    latency, cpu = run["latency_ms"], run["cpu_ms_per_request"]
    return (
        f"| {name} | {run['rps']:.1f} | {latency['p50']:.2f} ms | {latency['p99']:.2f} ms "
        f"| {cpu['gunicorn']:.2f} / {cpu['postgres']:.2f} / {cpu['wrk']:.2f} ms "
        f"(machine {cpu['machine_busy_pct']:.0f}% busy) |"
    )


_RESULTS_HEADER = """# Benchmark results

Produced by `bench/run` (README, "Benchmark"); the section between the markers below is rewritten by
every full run, so notes and older figures belong above it.
"""
