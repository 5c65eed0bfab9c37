"""The Procfile's gunicorn worker: gevent's, with each request's body read whole, in bounded time.

A sync worker spends itself on whichever client it reads from: six clients sending a byte a second
took every worker (issue #13). Under gevent each connection is a greenlet, so a slow client costs
a few kilobytes instead of a worker; gunicorn bounds the wait for a request's headers by its
keep-alive timeout, and this worker bounds its body: read here, at most the size the application
accepts, within GUNICORN_BODY_TIMEOUT seconds, or the connection is answered 408 and closed. The
application is then called with the complete body, as a server with its own HTTP layer (granian)
would call it, and never waits on a client while it holds a database connection.
"""

# gevent first: gunicorn imports this class before it loads the application (preload_app), so
# everything imported after, psycopg included, sees the cooperative socket and select. Not signals
# or os in this, the arbiter's process: patched, SIGCHLD reaches gevent's hub, which the arbiter
# never runs, so a worker that died was never reaped nor replaced (a killed worker left a zombie;
# all of them killed, the server answered nothing). Each worker patches those too after the fork
# (gunicorn's GeventWorker.patch).
from gevent import monkey

monkey.patch_all(os=False, signal=False, subprocess=False)

import io  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import warnings  # noqa: E402

import gevent  # noqa: E402
from django.conf import settings  # noqa: E402
from gunicorn.http.message import Request  # noqa: E402
from gunicorn.workers.ggevent import GeventWorker  # noqa: E402

WEBHOOK_PATH = "/whatsapp/webhook"
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class Worker(GeventWorker):
    body_timeout = float(os.environ.get("GUNICORN_BODY_TIMEOUT", "10"))
    # One request per connection unless asked (as the sync workers did): see gunicorn.conf.py.
    reuse_connections = os.environ.get("GUNICORN_REUSE_CONNECTIONS", "false").lower() in ("1", "true", "yes", "on")

    def patch(self) -> None:
        # After the fork: what the arbiter left out (see the top). gevent warns that patching twice
        # patches the union, which is what is meant here; the warning would open every worker's log.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=monkey.MonkeyPatchWarning)
            super().patch()

    def handle_request(self, listener_name: object, req: Request, sock: socket.socket, addr: object) -> bool:
        if not self._read_body(req):
            self.log.info("Closed a connection whose body took over %.0f s: %s", self.body_timeout, req.path)
            sock.sendall(TIMED_OUT)
            raise StopIteration  # gunicorn closes the connection
        if not self.reuse_connections:
            req.must_close = True  # answered with Connection: close
        return super().handle_request(listener_name, req, sock, addr)

    def _read_body(self, req: Request) -> bool:
        """Replace the socket-backed body with the bytes read; False when they did not arrive in time."""
        limit = _limit(req.path)
        declared = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), None)
        if req.body is None or declared == "0" or (declared is not None and int(declared) > limit):
            return True  # nothing to read, or refused by the application unread (413), then closed
        body = None
        with gevent.Timeout(self.body_timeout, False):
            body = req.body.read(limit + 1)
        if body is None:
            return False
        if len(body) > limit:
            req.must_close = True  # the rest is still on the socket: no next request on it
        req.body = io.BytesIO(body)
        return True


def _limit(path: str) -> int:
    """What the application reads at most: the webhook's limit, Django's for every other page."""
    return settings.WEBHOOK_MAX_BODY_BYTES if path == WEBHOOK_PATH else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
