"""Servers side by side (`bench/run --candidates`): the same throughput runs and the same slow clients.

Each candidate serves the same application (crm.wsgi) on the same database, reset between them to
the same client book, one after the other in one run, so the machine's noise hits all alike.
"""

import os
import shutil
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import load
import processes
from results import ROOT

sys.path.insert(0, str(ROOT))
from crm.testing import slowloris  # the repository root, put on the path above

GUNICORN = "gunicorn crm.wsgi --config gunicorn.conf.py"
# Patched before anything is imported, as gevent needs (psycopg then waits cooperatively).
GUNICORN_GEVENT = "python -m gevent.monkey --module gunicorn crm.wsgi --config gunicorn.conf.py"


SLICE = 5  # seconds of each turn of wrk


@dataclass(frozen=True)
class Candidate:
    name: str
    command: str | None  # None: the Procfile's web line as it is
    args: str = ""  # added to GUNICORN_CMD_ARGS
    env: tuple[tuple[str, str], ...] = ()


def candidates(cores: int) -> list[Candidate]:
    granian = (
        "granian --interface wsgi --host 127.0.0.1 --port $PORT --workers {w} --blocking-threads {t} "
        "--no-ws crm.wsgi:application"
    )
    before = (("DB_POOL_SIZE", "0"),)  # what gunicorn.conf.py set before issue #13: no pool
    return [
        Candidate("Procfile web line (crm.gunicorn_worker: gevent, bounded body, one request a connection)", None),
        Candidate(
            f"gunicorn sync, {3 * cores} workers (before)",
            GUNICORN,
            f"--worker-class sync --workers {3 * cores}",
            before,
        ),
        Candidate(
            f"gunicorn gthread, {cores} x 32 threads",
            GUNICORN,
            f"--worker-class gthread --workers {cores} --threads 32",
            before,
        ),
        Candidate(
            f"gunicorn gthread, {3 * cores} x 8 threads",
            GUNICORN,
            f"--worker-class gthread --workers {3 * cores} --threads 8",
            before,
        ),
        Candidate(
            f"gunicorn gevent, {cores} workers, no pool",
            GUNICORN_GEVENT,
            f"--worker-class gevent --workers {cores}",
            before,
        ),
        Candidate(
            "Procfile web line, LOG_MODE=development (the guide's full banner)",
            None,
            env=(("LOG_MODE", "development"),),
        ),
        Candidate(
            "Procfile web line, connections reused (keep-alive)", None, env=(("GUNICORN_REUSE_CONNECTIONS", "true"),)
        ),
        Candidate(
            f"granian wsgi, {cores} workers x 8 threads",
            granian.format(w=cores, t=8),
            env=(*before, ("DB_LOCK_TIMEOUT_MS", "5000"), ("DB_STATEMENT_TIMEOUT_MS", "15000")),
        ),
    ]


def run_all(
    *,
    env: dict,
    port: int,
    out: Path,
    db_url: str,
    duration: int,
    slow: int,
    slow_seconds: int,
    reset: Callable[[], None],
    check: Callable[[str, load.Wrk], dict],
    only: str = "",
    repeat: int = 1,
) -> list[dict]:
    """Every candidate in turn, `repeat` rounds of throughput; the slow clients in the first round only."""
    chosen = [c for c in candidates(os.cpu_count() or 1) if not only or any(p in c.name for p in only.split(","))]
    if shutil.which("granian", path=env["PATH"]) is None:  # not a requirement: `pip install granian==2.8.7` to compare
        chosen = [c for c in chosen if not c.name.startswith("granian")]
    rows = []
    for round_ in range(repeat):
        for candidate in chosen:
            reset()
            slow_now = slow if round_ == 0 else 0
            rows.append(_one(candidate, env, port, out, db_url, duration, slow_now, slow_seconds, check))
            rows[-1]["round"] = round_ + 1
            _print_row(rows[-1])
    return rows


def _one(
    candidate: Candidate,
    env: dict,
    port: int,
    out: Path,
    db_url: str,
    duration: int,
    slow: int,
    slow_seconds: int,
    check: Callable[[str, load.Wrk], dict],
) -> dict:
    print(f"\n== candidate: {candidate.name}", flush=True)
    server_env = {**env, **dict(candidate.env)}
    server_env["GUNICORN_CMD_ARGS"] = f"{env.get('GUNICORN_CMD_ARGS', '')} {candidate.args}".strip()
    slug = "".join(c if c.isalnum() else "-" for c in candidate.name.lower())[:40]
    url = f"http://127.0.0.1:{port}"
    with processes.server(server_env, port, out / f"server-{slug}.log", candidate.command) as server:
        webhook, healthz = _interleaved(url, duration, out, server_env, server, db_url)
        lost = check(db_url, webhook)
        token = env["GREEN_API_WEBHOOK_TOKEN"]
        attack = slowloris.measure(port=port, token=token, count=slow, seconds=slow_seconds) if slow else None
    return {
        "name": candidate.name,
        "webhook": load.figures(webhook),
        "healthz": load.figures(healthz),
        "ratio": webhook.rps / healthz.rps if healthz.rps else 0.0,
        "loss_check": lost["ok"],
        "slow": attack,
    }


def _interleaved(
    url: str, duration: int, out: Path, env: dict, server: object, db_url: str
) -> tuple[load.Wrk, load.Wrk]:
    """webhook and /healthz in turns of 5 s, `duration` s each in all: the other load on a shared
    machine then falls on both alike, not on whichever ran while it came."""
    webhooks, healthzs = [], []
    for i in range(max(1, duration // SLICE)):
        webhooks.append(load.run("webhook", f"{url}/whatsapp/webhook", SLICE, out, env, server, db_url, f"-{i}"))
        healthzs.append(load.run("healthz", f"{url}/healthz", SLICE, out, env, server, db_url, f"-{i}"))
    return load.merged(webhooks), load.merged(healthzs)


def _print_row(row: dict) -> None:
    cpu = {
        k: sum(v for n, v in row[k]["cpu_ms_per_request"].items() if n != "machine_busy_pct")
        for k in ("webhook", "healthz")
    }
    print(
        f"  webhook {row['webhook']['rps']:.0f}/s, healthz {row['healthz']['rps']:.0f}/s, "
        f"ratio {100 * row['ratio']:.1f}%; CPU per request (server + PostgreSQL + wrk) webhook "
        f"{cpu['webhook']:.2f} ms, healthz {cpu['healthz']:.2f} ms; "
        f"loss check {'PASS' if row['loss_check'] else 'FAIL'}"
    )
    if slow := row["slow"]:
        added, fails = slow["added_median_ms"], {k: v["failures"] for k, v in slow["slow"].items()}
        print(
            f"  {slow['connections']} slow connections: median added webhook {added['webhook']} ms, "
            f"healthz {added['healthz']} ms, admin {added['admin']} ms; failures {fails}; "
            f"slow connections {slow['trickle']}",
            flush=True,
        )


def table(rows: list[dict]) -> list[str]:
    """One line per candidate: throughput as medians over the rounds, slow clients from the first."""
    lines = [
        "| server | webhook req/s | healthz req/s | ratio (each round) | loss checks "
        "| webhook p50, quiet → with the slow ones | healthz p50 | admin p50 | failed probes "
        "| slow connections closed after (median / max) |",
        "|---|---:|---:|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(row["name"] for row in rows):
        mine = [row for row in rows if row["name"] == name]
        ratios = ", ".join(f"{100 * row['ratio']:.1f}" for row in mine)
        median = statistics.median(row["ratio"] for row in mine)
        rps = {k: statistics.median(row[k]["rps"] for row in mine) for k in ("webhook", "healthz")}
        ok = "PASS" if all(row["loss_check"] for row in mine) else "FAIL"
        head = f"| {name} | {rps['webhook']:,.0f} | {rps['healthz']:,.0f} | **{100 * median:.1f}%** ({ratios}) | {ok} "
        lines.append(head + _slow_cells(mine[0]["slow"]))
    return lines


def _slow_cells(s: dict | None) -> str:
    if s is None:
        return "| | | | | |"
    q, d, t = s["quiet"], s["slow"], s["trickle"]
    fails = sum(v["failures"] for v in d.values())
    cells = "".join(f"| {_ms(q[k]['median_ms'])} → {_ms(d[k]['median_ms'])} " for k in ("webhook", "healthz", "admin"))
    total = sum(v["requests"] for v in d.values()) + fails
    return (
        cells + f"| {fails} of {total} | {t['lifetime_s_median']} / {t['lifetime_s_max']} s "
        f"({t['closed_by_server']:,} closed) |"
    )


def _ms(value: float | None) -> str:
    return "none answered" if value is None else f"{value:.1f} ms"
