"""The worker's downloads per second, and what enqueuing a download costs the webhook.

Downloads: N media notifications posted to the running web process (each stores its message, a
MediaFile and a download job) while no worker runs; then the Procfile's `worker:` line starts and
downloads every file from a local file server into a fresh MEDIA_ROOT. Timed from the first job's
start to the last one's end, as the job table records them (the worker's own start-up is not a
download); each file checked stored with its size. Median of the runs.

Enqueue cost: bench/hook_cost.py, in-process CPU of a new text message and of a new image message
(the MediaFile and its job on top); the difference, at the share of files in the webhook's mix,
against the webhook's CPU per request measured under load.
"""

import http.client
import json
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import processes
import psycopg
from results import PYTHON, ROOT

PDF = b"%PDF-1.4\n"


class _Files(BaseHTTPRequestHandler):
    """GET /<n>.pdf: one of the server's files, with its length."""

    files: dict[str, bytes] = {}

    def do_GET(self) -> None:
        content = self.files.get(self.path)
        if content is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args: object) -> None:
        pass


def run(*, db_url: str, env: dict, port: int, token: str, files: int, size: int, runs: int, out: Path) -> dict:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Files", (_Files,), {"files": {}}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rates = [_one_run(db_url, env, port, token, server, files, size, out / f"worker-{n}.log") for n in range(runs)]
    finally:
        server.shutdown()
    rates_per_s = [r["per_second"] for r in rates]
    return {
        "files": files,
        "file_bytes": size,
        "runs": rates,
        "median_per_second": round(statistics.median(rates_per_s), 1),
        "median_mib_per_second": round(statistics.median(rates_per_s) * size / 2**20, 1),
    }


def _one_run(db_url: str, env: dict, port: int, token: str, server, files: int, size: int, log: Path) -> dict:
    _empty(db_url)
    host = f"127.0.0.1:{server.server_address[1]}"
    server.RequestHandlerClass.files.clear()
    for n in range(files):
        server.RequestHandlerClass.files[f"/{n}.pdf"] = PDF + secrets.token_bytes(size - len(PDF))
    for n in range(files):
        body = _notification(f"http://{host}/{n}.pdf", n)
        for attempt in range(5):  # a 503 under load is delivered again, as Green API would
            if (status := _post(port, token, body)) == 200:
                break
            time.sleep(0.2 * (attempt + 1))
        else:
            raise SystemExit(f"the webhook answered {status} to a media notification")
    with tempfile.TemporaryDirectory(prefix="bench-media-") as media_root:
        worker_env = {
            **env,
            "MEDIA_ROOT": media_root,
            "MEDIA_FETCH_ALLOWED_HOSTS": host,
            "GREEN_API_BACKFILL_MINUTES": "0",
        }
        with log.open("w") as f:
            worker = subprocess.Popen(
                ["bash", "-c", processes.procfile("worker")],
                cwd=ROOT,
                env=worker_env,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            stored = _wait_stored(db_url, files, worker, log)
        finally:
            processes.stop(worker)
        kept = sum(p.stat().st_size for p in Path(media_root).rglob("*") if p.is_file())
    if stored["bytes"] != files * size or kept != files * size:
        raise SystemExit(f"downloads: {stored['bytes']:,} bytes recorded, {kept:,} on disk, {files * size:,} sent")
    return {**stored, "per_second": round(files / stored["seconds"], 1)}


def _post(port: int, token: str, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        conn.request("POST", "/whatsapp/webhook", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def _wait_stored(db_url: str, files: int, worker: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + max(120, files)
    with psycopg.connect(db_url, autocommit=True) as db:
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited ({worker.returncode}); see {log}")
            done = db.execute("SELECT count(*) FROM whatsapp_media WHERE state <> 'waiting'").fetchone()[0]
            if done >= files:
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"downloads: not done after {max(120, files)} s; see {log}")
        states = dict(db.execute("SELECT state, count(*) FROM whatsapp_media GROUP BY state").fetchall())
        if states != {"stored": files}:
            raise SystemExit(f"downloads: {states}; see {log}")
        seconds, size = db.execute(
            "SELECT extract(epoch FROM max(finished_at) - min(started_at)), "
            "(SELECT sum(size) FROM whatsapp_media) FROM django_tasks_database_dbtaskresult"
        ).fetchone()
    return {"seconds": round(float(seconds), 3), "bytes": int(size)}


def _empty(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as db:
        # Jobs the webhook stages enqueued for links to Green API's real storage go too.
        for table in ("django_tasks_database_dbtaskresult", "whatsapp_media", "messages", "whatsapp_notifications"):
            db.execute(f"DELETE FROM {table}")


def _notification(url: str, n: int) -> bytes:
    id_message = f"BENCH-DL-{n:06d}-{secrets.token_hex(4)}"
    number = f"7903{n % 200:07d}"
    return json.dumps(
        {
            "typeWebhook": "incomingMessageReceived",
            "instanceData": {"idInstance": 1103123456, "wid": "77017654321@c.us", "typeInstance": "whatsapp"},
            "timestamp": int(time.time()),
            "idMessage": id_message,
            "senderData": {"chatId": f"{number}@c.us", "sender": f"{number}@c.us", "senderName": "Анна"},
            "messageData": {
                "typeMessage": "documentMessage",
                "fileMessageData": {"downloadUrl": url, "fileName": f"{n}.pdf", "mimeType": "application/pdf"},
            },
        }
    ).encode()


def enqueue_cost(*, env: dict, rounds: int, webhook: dict, out: Path) -> dict:
    """bench/hook_cost.py on the benchmark's database: CPU per text and per image message, and
    what the image's job adds to the average webhook at the mix's share of files."""
    answer = subprocess.run(
        [PYTHON, "bench/hook_cost.py", "bench", str(rounds)],
        cwd=ROOT,
        env={**env, "WHATSAPP_LOG_LEVEL": "WARNING", "GREEN_API_WEBHOOK_TOKEN": ""},
        capture_output=True,
        text=True,
    )
    (out / "hook_cost.log").write_text(answer.stdout + answer.stderr)
    if answer.returncode:
        raise SystemExit(f"bench/hook_cost.py failed; see {out / 'hook_cost.log'}")
    cost = json.loads(answer.stdout.strip().splitlines()[-1])
    sent = webhook["sent"]
    share = sent.get("media", 0) / max(sum(sent.values()), 1)
    added = max(cost["media"]["cpu_ms"] - cost["text"]["cpu_ms"], 0.0)
    cpu = webhook["cpu_ms_per_request"]
    per_webhook = cpu["gunicorn"] + cpu["postgres"]
    return {
        "text_cpu_ms": cost["text"]["cpu_ms"],
        "media_cpu_ms": cost["media"]["cpu_ms"],
        "media_share": round(share, 4),
        "added_ms_per_notification": round(share * added, 4),
        "webhook_cpu_ms": round(per_webhook, 3),
        "percent": round(100 * share * added / per_webhook, 1) if per_webhook else 0.0,
    }
