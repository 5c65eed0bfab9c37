"""gunicorn settings for the Procfile's `web` process; each can be overridden from the environment."""

import os

# Database waits end before a worker's timeout does (crm/settings.py reads these).
os.environ.setdefault("DB_LOCK_TIMEOUT_MS", "5000")
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "15000")

bind = f"0.0.0.0:{os.environ.get('PORT', '3000')}"
# Sync workers, three per core: the webhook's time is CPU in Python around one database round trip,
# and while a worker waits for PostgreSQL's durable commit another one runs. Two per core plus one
# (gunicorn's usual advice) still left the machine idle 2% of the time; three per core gives the
# webhook 1-3% more and /healthz 1-2% less (bench/RESULTS.md). Under the GIL processes beat threads
# for this (bench/RESULTS.md compares).
workers = int(os.environ.get("WEB_CONCURRENCY", str(3 * (os.cpu_count() or 1))))
worker_class = "sync"
# A request stuck longer than this is killed; its transaction rolls back and the sender retries.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
preload_app = True
# Several servers may run on one machine (tests, the benchmark): no shared control socket.
control_socket_disable = True
