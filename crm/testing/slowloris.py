"""Slow clients against a local server, and how long real requests take meanwhile.

Used by the system test (crm/tests/test_slow_clients.py) and the benchmark (bench/bench.py). Loopback
only: the host is always 127.0.0.1. Half the slow connections send their headers one line at a
time, half send complete headers announcing a large body and then the body a byte at a time; each
one reopens as soon as the server closes it, as an attacker's would.
"""

import asyncio
import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"


@dataclass
class Trickle:
    """What the slow connections saw."""

    opened: int = 0
    refused: int = 0
    closed_by_server: int = 0
    lifetimes: list[float] = field(default_factory=list)  # seconds until the server closed one

    def figures(self) -> dict:
        lives = sorted(self.lifetimes)
        return {
            "opened": self.opened,
            "refused": self.refused,
            "closed_by_server": self.closed_by_server,
            "lifetime_s_median": round(statistics.median(lives), 2) if lives else None,
            "lifetime_s_max": round(lives[-1], 2) if lives else None,
        }


@dataclass
class Probe:
    """Real requests, one at a time on a new connection each (as Green API posts)."""

    port: int
    token: str = ""
    timeout: float = 10.0  # a request not answered by then counts as a failure
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"webhook": [], "healthz": [], "admin": []})
    failures: dict[str, int] = field(default_factory=lambda: {"webhook": 0, "healthz": 0, "admin": 0})
    codes: dict[str, set] = field(default_factory=lambda: {"webhook": set(), "healthz": set(), "admin": set()})
    sent: int = 0

    def once(self, name: str, ident: str = "") -> None:
        method, path, body, headers = self._request(name, ident)
        started = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            self.codes[name].add(answer.status)
            self.latencies[name].append(1000 * (time.perf_counter() - started))
        except OSError:
            self.failures[name] += 1
        finally:
            conn.close()

    def _request(self, name: str, ident: str) -> tuple[str, str, bytes | None, dict]:
        if name == "healthz":
            return "GET", "/healthz", None, {}
        if name == "admin":
            return "GET", "/admin/login/", None, {}
        self.sent += 1
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        return "POST", "/whatsapp/webhook", json.dumps(notification(ident)).encode(), headers

    def figures(self) -> dict:
        return {
            name: {
                "requests": len(values),
                "median_ms": round(statistics.median(values), 2) if values else None,
                "p90_ms": round(statistics.quantiles(values, n=10)[-1], 2) if len(values) > 1 else None,
                "max_ms": round(max(values), 2) if values else None,
                "failures": self.failures[name],
                "codes": sorted(self.codes[name]),
            }
            for name, values in self.latencies.items()
        }


def notification(ident: str) -> dict:
    number = 79300000000 + int(ident.rsplit("-", 1)[-1]) % 1000
    return {
        "typeWebhook": "incomingMessageReceived",
        "instanceData": {"idInstance": 1101000001, "wid": "79001234567@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1763902500,
        "idMessage": ident,
        "senderData": {"chatId": f"{number}@c.us", "sender": f"{number}@c.us", "senderName": "Slow Test"},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "probe"}},
    }


def probe_for(probe: Probe, seconds: float, prefix: str, pause: float = 0.05) -> None:
    """webhook and /healthz in turn, the admin's login page every tenth round."""
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        probe.once("webhook", f"{prefix}-{i}")
        probe.once("healthz")
        if i % 10 == 0:
            probe.once("admin")
        i += 1
        time.sleep(pause)


async def _slow_connection(port: int, kind: bytes, deadline: float, trickle: Trickle, interval: float) -> None:
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            trickle.refused += 1
            await asyncio.sleep(interval)
            continue
        trickle.opened += 1
        opened = time.monotonic()
        if await _trickle(reader, writer, kind, deadline, interval):
            trickle.closed_by_server += 1
            trickle.lifetimes.append(time.monotonic() - opened)
        writer.close()


async def _trickle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: bytes, deadline: float, interval: float
) -> bool:
    """Send one piece per interval until the deadline; True when the server closed or answered first."""
    piece = b"X-Slow: 1\r\n" if first.endswith(b"\r\n") else b" "
    try:
        writer.write(first)
        while time.monotonic() < deadline:
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(1), timeout=interval)
                return True  # an answer or EOF: the server gave up on this connection
            except TimeoutError:
                writer.write(piece)
    except OSError:
        return True
    return False


async def _slow_clients(port: int, token: str, count: int, seconds: float, trickle: Trickle, interval: float) -> None:
    deadline = time.monotonic() + seconds
    headers = b"POST /whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    # With the right token, as the worst case: without it the webhook answers 401 before reading a body.
    body = headers + f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
    body += b"Content-Length: 100000\r\n\r\n{"
    kinds = [headers, body] * (count // 2) + [headers] * (count % 2)
    await asyncio.gather(*(_slow_connection(port, kind, deadline, trickle, interval) for kind in kinds))


def attack(
    port: int, token: str, count: int, seconds: float, interval: float = 1.0
) -> tuple[Trickle, threading.Thread]:
    """`count` slow connections for `seconds`, in a thread of their own; join the thread to wait."""
    trickle = Trickle()
    slow = _slow_clients(port, token, count, seconds, trickle, interval)
    thread = threading.Thread(target=asyncio.run, args=(slow,), daemon=True)
    thread.start()
    return trickle, thread


def measure(*, port: int, token: str, count: int, seconds: float, baseline_seconds: float = 5.0) -> dict:
    """Probe alone, then probe while `count` slow connections trickle; the medians and what was added."""
    quiet = Probe(port, token)
    probe_for(quiet, baseline_seconds, "SLOW-QUIET")
    trickle, thread = attack(port, token, count, seconds)
    time.sleep(min(3.0, seconds / 4))  # let them all connect and start trickling
    loaded = Probe(port, token)
    probe_for(loaded, seconds - min(3.0, seconds / 4) - 1, "SLOW-LOADED")
    thread.join(timeout=seconds + 30)
    before, during = quiet.figures(), loaded.figures()
    added = {
        name: round(during[name]["median_ms"] - before[name]["median_ms"], 2)
        if during[name]["median_ms"] is not None and before[name]["median_ms"] is not None
        else None
        for name in before
    }
    return {
        "connections": count,
        "seconds": seconds,
        "quiet": before,
        "slow": during,
        "added_median_ms": added,
        "trickle": trickle.figures(),
        "webhooks_sent": quiet.sent + loaded.sent,
    }
