"""The processes the benchmark starts: the Procfile's lines, gunicorn, and HTTP to it."""

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from results import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, sep, command = line.partition(":")
        if sep and key.strip() == name:
            return command.strip()
    raise SystemExit(f"Procfile has no {name}: line")


def sh(command: str, env: dict, log: Path) -> None:
    with log.open("a") as f:
        subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, check=True)


def measured(command: list[str], env: dict, log: Path) -> tuple[float, int]:
    """Run to the end; wall seconds and the child's own peak RSS in KiB (wait4: no other child counts)."""
    with log.open("a") as f:
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(map(str, command))} failed ({child.returncode}); see {log}")
    return seconds, usage.ru_maxrss


@contextmanager
def server(env: dict, port: int, log: Path, command: str | None = None) -> Iterator[subprocess.Popen]:
    """The Procfile's web line (or another server's command), stopped (its whole process group) on the way out."""
    with log.open("w") as f:
        server = subprocess.Popen(
            ["bash", "-c", command or procfile("web")],
            cwd=ROOT,
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(server, port, log)
        yield server
    finally:
        stop(server)


def wait_ready(server: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}); see {log}")
        try:
            if get(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn not ready after 60 s; see {log}")


def stop(server: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 25), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def workers(log: Path) -> int:
    return log.read_text(errors="replace").count("Booting worker")


def get(port: int, path: str, token: str = "") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()
