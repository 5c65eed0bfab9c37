"""gunicorn settings for the Procfile's `web` process; each can be overridden from the environment."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '3000')}"
# Sync workers: the webhook's time is CPU in Python between short database round trips, so one
# process per core (plus one to cover the waits) beats threads under the GIL. See bench/RESULTS.md.
workers = int(os.environ.get("WEB_CONCURRENCY", str((os.cpu_count() or 1) + 1)))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Green API's notifications must never wait behind a request that writes a large file.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
preload_app = True
