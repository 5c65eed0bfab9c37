"""gunicorn settings for the Procfile's `web` process; each can be overridden from the environment."""

import os

# Database waits end before a worker's timeout does (crm/settings.py reads these).
os.environ.setdefault("DB_LOCK_TIMEOUT_MS", "5000")
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "15000")
# Each worker's greenlets share a few PostgreSQL connections instead of opening one per client
# connection (crm/settings.py); more than this many at once wait for one (bench/RESULTS.md).
os.environ.setdefault("DB_POOL_SIZE", "4")

bind = f"0.0.0.0:{os.environ.get('PORT', '3000')}"
# gevent workers, one per core, with the request's body read whole in bounded time
# (crm/gunicorn_worker.py): a slow client costs a greenlet, not a worker, so hundreds of them do
# not stop the webhook, /healthz or the admin, where six stopped six sync workers (issue #13;
# bench/RESULTS.md measures the candidates side by side). While a greenlet waits for PostgreSQL's
# durable commit, the worker runs another one.
worker_class = "crm.gunicorn_worker.Worker"
workers = int(os.environ.get("WEB_CONCURRENCY", str(os.cpu_count() or 1)))
# Connections one worker serves at once, slow ones included; past that, new ones wait in the backlog.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# A connection that sends nothing, or not its whole headers, is closed after this many seconds
# (gunicorn's gevent worker bounds the wait for a request by its keep-alive timeout); a body gets
# GUNICORN_BODY_TIMEOUT more. One request per connection, as the sync workers answered, unless
# GUNICORN_REUSE_CONNECTIONS is set (keep-alive: both the webhook and /healthz get faster, /healthz
# the most, bench/RESULTS.md); then an idle connection also closes after this long.
keepalive = int(os.environ.get("GUNICORN_HEADER_TIMEOUT", "5"))
# A worker whose event loop is stuck this long is killed and replaced (a stuck request is ended
# sooner by the database timeouts above); its transaction rolls back and the sender retries.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
preload_app = True
# Several servers may run on one machine (tests, the benchmark): no shared control socket.
control_socket_disable = True
