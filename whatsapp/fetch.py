"""Fetching a file a webhook names, without letting the webhook reach inside our network.

A notification's `downloadUrl` is text anyone who can post to the webhook controls. The worker
fetches only http/https URLs whose host resolves to a public address, or hosts named in
MEDIA_FETCH_ALLOWED_HOSTS. The address is checked inside the connection, on the very address the
socket then connects to, for every redirect too: a name that resolves to a public address when
checked and to 127.0.0.1 a moment later (DNS rebinding) gains nothing. Not requests-hardened:
its filter allows loopback or not, with no list of hosts; the tests' Green API is one.

The body is streamed to a temporary file, bounded by a size and a wall-clock time.
"""

import hashlib
import ipaddress
import socket
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK = 64 * 1024
# The first bytes, kept to tell the file's type by (magic numbers sit at the start).
HEAD = 8 * 1024


class FetchError(Exception):
    """The fetch failed in a way that may pass (timeout, 5xx, connection reset): try again later."""


class LinkFailed(FetchError):
    """The link itself answered no (403, 404, 410…): it expired; a fresh one may work."""


class Refused(Exception):
    """We will not fetch this, however often asked: not http(s), not a public host, too large."""


@dataclass
class Fetched:
    file: tempfile.SpooledTemporaryFile
    size: int
    sha256: str
    head: bytes


def allowed_entry(entry: str) -> tuple[str, int | None]:
    """One MEDIA_FETCH_ALLOWED_HOSTS entry, `host`, `host:port`, `[v6]` or `[v6]:port`, parsed."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def host_allowed(host: str, port: int) -> bool:
    """Named in MEDIA_FETCH_ALLOWED_HOSTS, with this port or with none."""
    host = host.strip("[]").lower()
    for entry in settings.MEDIA_FETCH_ALLOWED_HOSTS:
        name, entry_port = allowed_entry(entry)
        if name == host and entry_port in (None, port):
            return True
    return False


def public_address(host: str, port: int) -> str:
    """The first public address `host` resolves to; Refused when it has none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise FetchError(f"cannot resolve {host}: {error.strerror}") from None
    seen = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if _public(address) and _public(getattr(address, "ipv4_mapped", None) or address):
            return sockaddr[0]
        seen.append(str(address))
    raise Refused(f"{host} is not a public address ({', '.join(seen)}); MEDIA_FETCH_ALLOWED_HOSTS names the exceptions")


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global leaves multicast in.
    return address.is_global and not address.is_multicast


class _Guarded:
    """Mixed into urllib3's connections: resolve, check, and connect to the address checked."""

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        if not host_allowed(name, self.port):
            # urllib3 connects to _dns_host; TLS and the Host header still use the name (self.host).
            self._dns_host = public_address(name, self.port)
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


class _HTTPConnection(_Guarded, HTTPConnection):
    pass


class _HTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def _session() -> requests.Session:
    session = requests.Session()
    # A proxy from the environment would be the host checked, not the file's.
    session.trust_env = False
    session.max_redirects = 5
    session.headers["User-Agent"] = "whatsapp-crm"
    session.mount("http://", _GuardedAdapter())
    session.mount("https://", _GuardedAdapter())
    return session


_fetcher = _session()


def fetch(url: str, *, max_bytes: int, seconds: float) -> Fetched:
    """GET `url` into a temporary file: at most `max_bytes`, within `seconds` from start to end."""
    if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
        raise Refused(f"not an http(s) link: {url[:100]!r}")
    deadline = time.monotonic() + seconds
    read_timeout = max(1.0, min(30.0, seconds))
    try:
        with _fetcher.get(url, stream=True, timeout=(min(10.0, read_timeout), read_timeout)) as response:
            _check_answer(response, max_bytes)
            return _read(response, max_bytes=max_bytes, deadline=deadline, seconds=seconds)
    except requests.Timeout:
        raise FetchError(f"the file's host did not answer within {read_timeout:g} s") from None
    except requests.TooManyRedirects:
        raise Refused("the link redirects more than 5 times") from None
    except requests.RequestException as error:
        raise FetchError(f"cannot fetch the file ({type(error).__name__})") from None


def _check_answer(response: requests.Response, max_bytes: int) -> None:
    status = response.status_code
    if 400 <= status < 500 and status not in (408, 429):
        raise LinkFailed(f"the file's link answered HTTP {status}")
    if status != 200:
        raise FetchError(f"the file's host answered HTTP {status}")
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise Refused(f"the file is {int(length):,} bytes, over MEDIA_MAX_BYTES ({max_bytes:,})")


def _read(response: requests.Response, *, max_bytes: int, deadline: float, seconds: float) -> Fetched:
    out = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        # read1 returns what one read of the socket gave: the deadline is checked at least once per
        # read timeout, however slowly a host trickles bytes.
        while chunk := response.raw.read1(CHUNK, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise Refused(f"the file is over MEDIA_MAX_BYTES ({max_bytes:,} bytes)")
            if time.monotonic() > deadline:
                raise FetchError(f"the download took over {seconds:g} s (MEDIA_FETCH_SECONDS)")
            if len(head) < HEAD:
                head += chunk[: HEAD - len(head)]
            digest.update(chunk)
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return Fetched(out, size, digest.hexdigest(), head)
