"""The Procfile's `worker:` (or another) process, started for system tests as a platform would start it."""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from crm.testing.servers import ROOT, procfile_command


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    """Whether `condition()` came true within `seconds` (looked at five times a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


class Worker:
    def __init__(self, database_url: str, *, process: str = "worker", args: str = "", **env: str) -> None:
        self.command = f"{procfile_command(process)} {args}".strip()
        venv_bin = str(Path(os.sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "system-test-secret-key-that-is-long-enough-for-hs256",
            **env,
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.process: subprocess.Popen | None = None
        self.log_path = ROOT / f".worker-test-{os.getpid()}-{time.monotonic_ns()}.log"

    def start(self) -> "Worker":
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            ["bash", "-c", self.command],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def output(self) -> str:
        return self.log_path.read_text()

    def wait(self, timeout: float = 60) -> int:
        """The exit status once it ends by itself (`--once`)."""
        return self.process.wait(timeout=timeout)

    def signal(self, number: int) -> None:
        os.killpg(self.process.pid, number)

    def kill(self) -> None:
        """As a host that dies: no signal the worker can act on."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self, timeout: float = 30) -> int:
        """As the platform stops it (SIGTERM); the exit status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        if os.environ.get("KEEP_WORKER_LOG") != "1":
            self.log_path.unlink(missing_ok=True)
        return self.process.returncode
