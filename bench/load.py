"""wrk against the server, and where the CPU went while it ran (gunicorn, PostgreSQL, wrk)."""

import os
import secrets
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from results import CONNECTIONS, ROOT, TARGETS, THREADS

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Wrk:
    requests: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    sent: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    acks: dict[int, int] = field(default_factory=dict)
    idents: list[tuple[str, str, str]] = field(default_factory=list)
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run(
    name: str, url: str, duration: float, out: Path, env: dict, server: subprocess.Popen, db_url: str, tag: str = ""
) -> Wrk:
    """wrk with bench/<name>.lua; its files are wrk-<name><tag>.* in out."""
    files = f"wrk-{name}{tag}"
    report = out / f"{files}.tsv"
    wrk_env = {
        **env,
        "BENCH_WRK_OUT": str(report),
        "BENCH_RUN_ID": secrets.token_hex(4).upper(),
        "BENCH_WEBHOOK_TOKEN": env["GREEN_API_WEBHOOK_TOKEN"],
    }
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration:.0f}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        f"bench/{name}.lua",
        url,
    ]
    with psycopg.connect(db_url, autocommit=True) as db:
        before = _cpu_snapshot(server.pid, db)
        with (out / f"{files}.txt").open("w") as f:
            child = subprocess.Popen(command, cwd=ROOT, env=wrk_env, stdout=f, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(child.pid, 0)
        _wait_idle(db)
        after = _cpu_snapshot(server.pid, db)
    if os.waitstatus_to_exitcode(status) != 0 or not report.exists():
        raise SystemExit(f"wrk failed; see {out / f'{files}.txt'}")
    run = _report(report)
    requests = max(run.requests, 1)
    run.cpu_ms_per_request = {
        "gunicorn": 1000 * (after["gunicorn"] - before["gunicorn"]) / requests,
        "postgres": 1000
        * sum(cpu - before["backends"].get(pid, 0.0) for pid, cpu in after["backends"].items())
        / requests,
        "wrk": 1000 * (usage.ru_utime + usage.ru_stime) / requests,
        "machine_busy_pct": 100 * (after["busy"] - before["busy"]) / max(after["total"] - before["total"], 1),
    }
    return run


def _wait_idle(db: psycopg.Connection, limit: float = 10.0) -> None:
    """Until the requests wrk left in flight are done: a gevent worker may still be storing them,
    and the next stage (a loss check, a reset) must not race them."""
    deadline = time.monotonic() + limit
    time.sleep(0.3)
    while time.monotonic() < deadline:
        busy = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
        ).fetchone()[0]
        if not busy:
            return
        time.sleep(0.1)


def merged(runs: list[Wrk]) -> Wrk:
    """Several runs as one: counts added, latencies and CPU per request weighted by requests."""
    total = Wrk()
    for run in runs:
        total.requests += run.requests
        total.seconds += run.seconds
        total.sent.update(run.sent)
        total.codes.update(run.codes)
        total.idents.extend(run.idents)
        for ident, n in run.acks.items():
            total.acks[ident] = total.acks.get(ident, 0) + n
        for kind, n in run.errors.items():
            total.errors[kind] = total.errors.get(kind, 0) + n
    weight = max(total.requests, 1)
    for attr in ("latency_ms", "cpu_ms_per_request"):
        keys = getattr(runs[0], attr).keys()
        setattr(total, attr, {k: sum(getattr(r, attr)[k] * r.requests for r in runs) / weight for k in keys})
    return total


def _cpu_snapshot(server_pid: int, db: psycopg.Connection) -> dict:
    pids = [r[0] for r in db.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]
    me = db.execute("SELECT pg_backend_pid()").fetchone()[0]
    gunicorn = sum(cpu for _, pgrp, cpu in _processes() if pgrp == server_pid)
    backends = {pid: cpu for pid, _, cpu in _processes(set(pids) - {me})}
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return {"gunicorn": gunicorn, "backends": backends, "busy": sum(fields) - idle, "total": sum(fields)}


def _processes(only: set[int] | None = None) -> Iterator[tuple[int, int, float]]:
    """(pid, process group, CPU seconds) of live processes, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (only is not None and int(entry.name) not in only):
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        rest = stat.rsplit(")", 1)[1].split()
        yield int(entry.name), int(rest[2]), (int(rest[11]) + int(rest[12])) / TICKS


def _report(path: Path) -> Wrk:
    run = Wrk()
    for line in path.read_text().splitlines():
        kind, *values = line.split("\t")
        if kind == "summary":
            requests, duration, *errors = map(int, values)
            run.requests, run.seconds = requests, duration / 1e6
            run.errors = dict(zip(("connect", "read", "write", "status", "timeout"), errors, strict=True))
        elif kind == "latency":
            ms = (float(v) / 1000 for v in values)
            run.latency_ms = dict(zip(("p50", "p90", "p99", "max", "mean"), ms, strict=True))
        elif kind == "sent":
            run.sent[values[0]] += int(values[1])
        elif kind == "code":
            run.codes[int(values[0])] += int(values[1])
        elif kind == "ack":
            run.acks[int(values[0])] = run.acks.get(int(values[0]), 0) + int(values[1])
        elif kind == "ident":
            run.idents.append((values[0], values[1], values[2] if len(values) > 2 else ""))
    return run


def figures(run: Wrk) -> dict:
    return {
        "requests": run.requests,
        "seconds": round(run.seconds, 3),
        "rps": round(run.rps, 1),
        "latency_ms": {k: round(v, 2) for k, v in run.latency_ms.items()},
        "errors": run.errors,
        "sent": dict(run.sent),
        "codes": {str(k): v for k, v in run.codes.items()},
        "cpu_ms_per_request": {k: round(v, 3) for k, v in run.cpu_ms_per_request.items()},
    }


def print_throughput(webhook: Wrk, healthz: Wrk, ratio: float) -> None:
    print(f"\n  {'':24}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for name, run in (("POST /whatsapp/webhook", webhook), ("GET /healthz", healthz)):
        print(f"  {name:24}{run.rps:12.1f}{run.latency_ms['p50']:10.2f}{run.latency_ms['p99']:10.2f}")
    verdict = "meets" if ratio >= TARGETS["webhook/healthz"] else "misses"
    print(f"  ratio webhook/healthz: {100 * ratio:.1f}% ({verdict} the target of at least 35%)")
    for name, run in (("webhook", webhook), ("healthz", healthz)):
        cpu = run.cpu_ms_per_request
        print(
            f"  CPU per {name} request: gunicorn {cpu['gunicorn']:.2f} ms, PostgreSQL backends "
            f"{cpu['postgres']:.2f} ms, wrk {cpu['wrk']:.2f} ms; machine busy {cpu['machine_busy_pct']:.0f}%"
        )
