"""One settings module, read from the environment (django-environ).

Every variable is documented in the README's "Configuration" table. Local defaults are safe for a
developer's machine (SQLite, DEBUG off, localhost only); a bad value fails loudly at start-up.
"""

import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


class Env(environ.Env):
    """django-environ, strict: a value it cannot read stops the start with its variable's name.

    django-environ reads any boolean it does not know as false, so `DEBUG=maybe` or `HTTPS=ture`
    would quietly turn a protection off.
    """

    BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}

    @classmethod
    def parse_value(cls, value: object, cast: object) -> object:
        if cast is bool and isinstance(value, str):
            if value.strip().lower() not in cls.BOOLEANS:
                raise ValueError("not a boolean (true/false, yes/no, on/off, 1/0)")
            return cls.BOOLEANS[value.strip().lower()]
        return super().parse_value(value, cast)

    def get_value(self, var: str, cast: object = None, default: object = environ.Env.NOTSET, **kw: bool) -> object:
        try:
            return super().get_value(var, cast=cast, default=default, **kw)
        except ValueError as error:
            raise ImproperlyConfigured(f"{var}={self.ENVIRON.get(var)!r} cannot be read: {error}.") from None


env = Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; the real environment wins. ./scripts/serve keeps SECRET_KEY there.

DEBUG = env.bool("DEBUG", default=False)
# Without SECRET_KEY the development default is used, which Django marks insecure: `check --deploy`
# and the web process refuse it while DEBUG is off (crm/checks.py), so a server never signs sessions
# and JWTs with a key printed in this file. Management commands and tests may use it. Every worker
# and host must share one key, or each rejects the JWTs the others issued.
SECRET_KEY = env.str("SECRET_KEY", default="") or "django-insecure-local-development-key-change-me"
# Behind TLS (production): secure cookies, HSTS, HTTPS redirects, and the proxy's scheme header.
HTTPS = env.bool("HTTPS", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_SSL_REDIRECT = HTTPS
# Green API's POST must never be redirected (a redirect turns it into a GET and loses it); the
# health checks answer the load balancer on whatever scheme it uses.
SECURE_REDIRECT_EXEMPT = [r"^whatsapp/webhook", r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# This CRM's public address (https://crm.example.com, or a tunnel's): Green API must post to
# PUBLIC_URL/whatsapp/webhook. Its host is allowed and trusted for the admin's CSRF check by itself,
# so a tunnel needs this one variable.
PUBLIC_URL = env.str("PUBLIC_URL", default="").rstrip("/")
public = urlsplit(PUBLIC_URL)
if PUBLIC_URL and (public.scheme not in ("http", "https") or not public.hostname):
    raise ImproperlyConfigured(
        f"PUBLIC_URL must be an http(s) address such as https://crm.example.com, not {PUBLIC_URL!r}."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if PUBLIC_URL:
    ALLOWED_HOSTS.append(public.hostname)
    CSRF_TRUSTED_ORIGINS.append(f"{public.scheme}://{public.netloc}")
PORT = env.int("PORT", default=3000)

INSTALLED_APPS = [
    "crm.apps.CRMAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "clients",
    "whatsapp",
    "inbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
# The guide's URLs have no trailing slash; a redirect would turn Green API's POST into a GET.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite when DATABASE_URL is not given: `runserver` works on a fresh clone with nothing installed.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# The messages' list index carries channel and direction for index-only counts on PostgreSQL
# (whatsapp/models/messages.py); SQLite builds it on its key columns alone, which is all it needs,
# and Django would say so on every command.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
    # Persistent connections: a new PostgreSQL connection per webhook costs more than the work.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    # No health-check query before each request: it would double the round trips of a small
    # webhook. A connection that died in between fails that one request with 503, Django drops
    # it, and Green API delivers the notification again.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))
    # In the web process (gunicorn.conf.py turns these on) a request must end well before
    # gunicorn's timeout kills its worker, an answer nobody gets: a lock or statement that waits
    # too long becomes an error, so the webhook answers 503 and Green API delivers again. Off for
    # management commands, where a migration on a large table may rightly take minutes.
    timeouts = {
        "lock_timeout": env.int("DB_LOCK_TIMEOUT_MS", default=0),
        "statement_timeout": env.int("DB_STATEMENT_TIMEOUT_MS", default=0),
    }
    if any(timeouts.values()):
        DATABASES["default"]["OPTIONS"].setdefault(
            "options", " ".join(f"-c {name}={ms}" for name, ms in timeouts.items() if ms)
        )
    # Keepalives notice a connection that died without closing.
    for option, value in {
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 3,
        "keepalives_count": 3,
    }.items():
        DATABASES["default"]["OPTIONS"].setdefault(option, value)
    # Prepared statements: psycopg prepares a statement on a connection once it has run it this many
    # times, and PostgreSQL then skips parsing and planning it. Django turns them off unless asked;
    # for the webhook's one statement they halve PostgreSQL's CPU per notification (bench/RESULTS.md).
    # Set DB_PREPARE_THRESHOLD= (empty) behind a pooler in transaction mode, which cannot keep them.
    threshold = env.str("DB_PREPARE_THRESHOLD", default="5")
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", int(threshold) if threshold else None)
    # Server-side binding: parameters travel apart from the SQL, as prepared statements need.
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", env.bool("DB_SERVER_SIDE_BINDING", default=True))
    # A pool of connections per process, shared by whatever serves requests in it: gunicorn's gevent
    # workers (gunicorn.conf.py) serve each client connection in a greenlet of its own, which would
    # otherwise open and close a PostgreSQL connection of its own. Pooled connections keep their
    # prepared statements; Django's pool needs CONN_MAX_AGE 0 (a closed connection goes back).
    if pool_size := env.int("DB_POOL_SIZE", default=0):
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": pool_size,
            # A request waits this long for one of them, as it waited in the listen backlog for a
            # sync worker; past it, 503 and Green API delivers again.
            "timeout": 20,
        }

# Shared by every worker and host (login throttling): the database by default, Redis when given.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "crm_cache",
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def _rate(name: str, default: str) -> str:
    """A throttle rate from the environment, checked now: DRF would fail on it only at the first request."""
    rate = env.str(name, default=default)
    number, _, period = rate.partition("/")
    if not number.isdigit() or period not in ("s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"):
        raise ImproperlyConfigured(
            f"{name} must be a number of requests per s, min, hour or day (30/min), not {rate!r}."
        )
    return rate


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    # A valid token, then the Django permission each view names (README, "Who may do what").
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "crm.permissions.HasRequiredPermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "crm.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # How many proxies in front of us append to X-Forwarded-For. 0: the header is ignored and the
    # socket's address is the client's, so nobody can dodge the login throttle by forging it.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": _rate("LOGIN_RATE_PER_IP", "20/min"),
        "login_email": _rate("LOGIN_RATE_PER_EMAIL", "5/min"),
        # Each message reaches a client's phone, and Green API bans numbers that send in bulk.
        "send": _rate("SEND_RATE_PER_USER", "30/min"),
    },
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # Every token carries a hash of the user's password hash: a new password (the admin's form,
    # `changepassword`) makes every earlier access and refresh token a 401.
    "CHECK_REVOKE_TOKEN": True,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "WhatsApp CRM API",
    "DESCRIPTION": "Clients and their WhatsApp conversations (Green API).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI from the pinned drf-spectacular-sidecar, served with our static files: /api/docs/
    # works without internet and cannot change under us.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.openapi.add_webhook",
    ],
}

# Green API (see README "Configuration").
GREEN_API_URL = env.str("GREEN_API_URL", default="https://api.green-api.com").rstrip("/")
GREEN_API_ID_INSTANCE = env.str("GREEN_API_ID_INSTANCE", default="")
GREEN_API_TOKEN = env.str("GREEN_API_TOKEN", default="")
GREEN_API_WEBHOOK_TOKEN = env.str("GREEN_API_WEBHOOK_TOKEN", default="")
GREEN_API_TIMEOUT = env.float("GREEN_API_TIMEOUT", default=10.0)
# Files are uploaded to the console's mediaUrl; empty: GREEN_API_URL with `api` read as `media`.
GREEN_API_MEDIA_URL = env.str("GREEN_API_MEDIA_URL", default="").rstrip("/")
# Opening a conversation in the inbox also marks the chat read on the phone (Green API's readChat).
GREEN_API_MARK_READ = env.bool("GREEN_API_MARK_READ", default=False)
# How notifications come in: Green API posts them to the webhook, or `greenapi_receive` polls its
# queue (no public URL needed). The periodic backfill fills gaps either way; 0 turns it off.
GREEN_API_RECEIVE = env.str("GREEN_API_RECEIVE", default="webhook")
if GREEN_API_RECEIVE not in ("webhook", "poll"):
    raise ImproperlyConfigured(f"GREEN_API_RECEIVE must be 'webhook' or 'poll', not {GREEN_API_RECEIVE!r}.")
GREEN_API_BACKFILL_MINUTES = env.int("GREEN_API_BACKFILL_MINUTES", default=5)
if GREEN_API_BACKFILL_MINUTES < 0:
    raise ImproperlyConfigured(f"GREEN_API_BACKFILL_MINUTES must be 0 (off) or more, not {GREEN_API_BACKFILL_MINUTES}.")
# Real media notifications are a few KB; 1 MiB leaves room for long texts and vCards.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(WEBHOOK_MAX_BODY_BYTES, 2621440)
# PostgreSQL: store a known client's message in one statement (whatsapp/fast_path.py). Off only to
# compare the two ways in tests and benchmarks.
WEBHOOK_FAST_PATH = env.bool("WEBHOOK_FAST_PATH", default=True)
DEFAULT_PHONE_REGION = env.str("DEFAULT_PHONE_REGION", default="RU").upper()

# "development" keeps the guide's log lines word for word, full body included;
# "production" masks phone numbers and drops the full-body dump.
LOG_MODE = env.str("LOG_MODE", default="development")
if LOG_MODE not in ("development", "production"):
    raise ImproperlyConfigured(f"LOG_MODE must be 'development' or 'production', not {LOG_MODE!r}.")
WEBHOOK_LOG_FULL_BODY = env.bool("WEBHOOK_LOG_FULL_BODY", default=LOG_MODE == "development")

# Writing the lines: in production a few at a time (crm/log.py, StdoutHandler), and no format here
# shows where a line was logged from or by which thread, so logging need not look them up (the
# logging HOWTO's "Optimization" section names these switches). Together about 3% of the webhook.
LOG_BATCH_SECONDS = env.float("LOG_BATCH_SECONDS", default=1.0 if LOG_MODE == "production" else 0.0)
logging._srcfile = None
logging.logThreads = False
logging.logMultiprocessing = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # The guide's lines are shown bare: operators grep for them as written.
        "guide": {"format": "%(message)s"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "guide": {"class": "crm.log.StdoutHandler", "formatter": "guide", "batch_seconds": LOG_BATCH_SECONDS},
        "console": {"class": "crm.log.StdoutHandler", "formatter": "plain", "batch_seconds": LOG_BATCH_SECONDS},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "clients": {
            "handlers": ["guide"],
            "level": env.str("WHATSAPP_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
        "whatsapp": {
            "handlers": ["guide"],
            "level": env.str("WHATSAPP_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
    },
}

# ---------------------------------------------------------------------------------------------
# Background jobs and media (README "Background jobs and media"). A block of its own: the jobs
# live in the database the web process writes, so a job enqueued with the notification that asks
# for it commits with it, or not at all.
INSTALLED_APPS += ["django_tasks", "django_tasks_db", "jobs"]
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
# A worker whose heartbeat (a beat every quarter of this, at most every 30 s) is silent this long
# died (killed, its host gone, paused): another worker takes its running job again. How long a job
# runs does not matter (an export of millions of rows takes minutes).
JOBS_STALE_SECONDS = env.int("JOBS_STALE_SECONDS", default=120)
if JOBS_STALE_SECONDS < 1:
    raise ImproperlyConfigured(f"JOBS_STALE_SECONDS must be at least 1, not {JOBS_STALE_SECONDS}")

MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=100 * 1024 * 1024)  # WhatsApp's own limit
MEDIA_FETCH_SECONDS = env.float("MEDIA_FETCH_SECONDS", default=300.0)
# A file staff send is dropped as it arrives once past MEDIA_MAX_BYTES, not written out whole first.
FILE_UPLOAD_HANDLERS = [
    "whatsapp.attachments.SizeLimitedUpload",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Hosts the worker may fetch from although they are not public (host or host:port); Green API's
# file hosts are public and need no entry.
MEDIA_FETCH_ALLOWED_HOSTS = env.list("MEDIA_FETCH_ALLOWED_HOSTS", default=[])
# Any S3-compatible store (AWS, Yandex Object Storage, MinIO…) when a bucket is named; files stay
# private (no ACL, no public URL): staff get them through /whatsapp/media/<id>.
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
if MEDIA_S3_BUCKET:
    s3_options = {
        "bucket_name": MEDIA_S3_BUCKET,
        "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default=""),
        "region_name": env.str("MEDIA_S3_REGION", default=""),
        "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default=""),
        "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default=""),
        "location": env.str("MEDIA_S3_PREFIX", default=""),
    }
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        # Unset values fall back to boto3's own chain (AWS_* variables, an instance role).
        "OPTIONS": {
            **{name: value for name, value in s3_options.items() if value},
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            # A file read from the bucket (an upload to Green API, a range served) spills to a
            # temporary file past 1 MiB; django-storages' default keeps it whole in memory.
            "max_memory_size": 1024 * 1024,
        },
    }

# The admin's lists count rows exactly up to this many (by the planner's estimate); past it they show
# the estimate ("about 3,000,000"): an exact count of millions takes seconds on every page.
ADMIN_EXACT_COUNT_LIMIT = env.int("ADMIN_EXACT_COUNT_LIMIT", default=10_000)
# An export of more messages than this is written by a background job into the storage (staff
# download it from "Your exports") instead of streamed to the browser, which gunicorn's timeout ends.
EXPORT_STREAM_MAX_ROWS = env.int("EXPORT_STREAM_MAX_ROWS", default=100_000)
# Days an export's file is kept before the worker's hourly clean-up deletes it; 0 keeps them.
EXPORTS_KEEP_DAYS = env.float("EXPORTS_KEEP_DAYS", default=7)

# The inbox (inbox/): a manager sees the conversations assigned to them, and the unassigned ones
# while this is on. The open inbox and conversation ask for what changed this often.
INBOX_MANAGERS_SEE_UNASSIGNED = env.bool("INBOX_MANAGERS_SEE_UNASSIGNED", default=True)
INBOX_POLL_SECONDS = env.float("INBOX_POLL_SECONDS", default=1.0)
if not 0.2 <= INBOX_POLL_SECONDS <= 60:
    raise ImproperlyConfigured("INBOX_POLL_SECONDS must be between 0.2 and 60.")
