"""POST /whatsapp/webhook: what Green API's request gets as an answer (README, "What the webhook answers").

`answer()` decides it from the method, three headers and the body, whatever carries the request.
Two things carry it:

- `application`, a bare WSGI application: what gunicorn calls for this one path (crm/wsgi.py).
  Green API posts every notification here, dozens of times a second, and needs none of what
  Django's request and response objects, middleware and URL resolution do for a page; skipped,
  they were about a third of a notification's CPU (bench/RESULTS.md). It keeps what matters for
  this request: the database connection is checked, reused and closed as Django does it for any
  request, ALLOWED_HOSTS is enforced, and a bug answers 500 with the `django.request` log line.
- `whatsapp.views.webhook`, the Django view at the same URL: Django's test client, the URL table
  and the OpenAPI schema see the webhook through it. whatsapp/tests/test_webhook_application.py
  posts the same requests both ways and compares the answers.
"""

import codecs
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from crm.views import host_refused
from whatsapp import fields, logs
from whatsapp.services import notification_receive

# Green API waits 60 s before it redelivers; asking for sooner would not be honoured.
RETRY_AFTER_SECONDS = "60"
request_logger = logging.getLogger("django.request")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str, **headers: str) -> Answer:
    return Answer(status, {"error": message}, headers)


def _authorized(authorization: str) -> bool:
    expected = settings.GREEN_API_WEBHOOK_TOKEN
    if not expected:
        return True
    header = authorization.strip()
    scheme, _, credentials = header.partition(" ")
    # Green API sends `Bearer <webhookUrlToken>`; a bare token is accepted too (REFERENCE §8).
    token = credentials.strip() if scheme.lower() == "bearer" else header
    return hmac.compare_digest(token.encode(), expected.encode())


def answer(*, method: str, content_length: str | None, authorization: str, read: Callable[[int], bytes]) -> Answer:
    """Keep the notification and answer: 200, or why not (400, 401, 405, 413, 503 + Retry-After)."""
    if method != "POST":
        return _error(405, "Use POST.", Allow="POST")
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        length = int(content_length or 0)
    except ValueError:
        return _error(400, "Content-Length is not a number.")
    if length > limit:
        return _error(413, f"Body larger than {limit} bytes.")
    if not _authorized(authorization):
        return _error(401, "Missing or wrong webhook token (Authorization: Bearer <GREEN_API_WEBHOOK_TOKEN>).")
    raw = read(limit + 1)
    if len(raw) > limit:
        return _error(413, f"Body larger than {limit} bytes.")
    raw, body = _json_object(raw)
    if isinstance(body, Answer):
        return body
    logs.log_received(body)
    try:
        receipt = notification_receive(raw=raw, body=body)
    except (OperationalError, InterfaceError) as error:
        logs.log_error("database unavailable", error)
        return _error(503, "Database unavailable; deliver again later.", **{"Retry-After": RETRY_AFTER_SECONDS})
    except DatabaseError as error:
        # Storing the notification itself failed: answering 200 would lose it.
        logs.log_error("could not store the notification", error)
        return _error(
            503, "Could not store the notification; deliver again later.", **{"Retry-After": RETRY_AFTER_SECONDS}
        )
    logs.log_outcome(body, receipt.outcome, receipt.duplicate)
    return Answer(
        200,
        {
            "status": "ok",
            "notificationId": receipt.notification_id,
            "outcome": receipt.outcome,
            "detail": receipt.detail,
            "duplicate": receipt.duplicate,
        },
    )


def _json_object(raw: bytes) -> tuple[bytes, dict | Answer]:
    """The body as a JSON object, and the bytes to keep; or the 400 that says why it is not one.

    JSON on the wire is UTF-8 (RFC 8259 §8.1), as Green API sends it. json.loads would also take
    UTF-16 and UTF-32, and UTF-8 that encodes lone surrogates, none of which can be kept as text.
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]  # RFC 8259 lets a parser ignore it; nothing else needs it
    # NUL is never in UTF-8 JSON (it is written \u0000) and in every UTF-16 or UTF-32 text.
    bad = raw.find(b"\x00")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = error.start if bad < 0 else min(bad, error.start)
    if bad >= 0:
        logs.log_error("body is not UTF-8", f"byte {bad} is 0x{raw[bad]:02x}")
        return raw, _error(400, f"Body must be UTF-8 JSON (RFC 8259); byte {bad} is not UTF-8 text.")
    try:
        body = fields.loads(text)
    except RecursionError:
        logs.log_error("body is not JSON", "nested too deeply")
        return raw, _error(400, "Body is nested too deeply to be a Green API notification.")
    except ValueError as error:
        logs.log_error("body is not JSON", error)
        return raw, _error(400, f"Body is not valid JSON: {error}")
    if not isinstance(body, dict):
        logs.log_error("body is not a JSON object", type(body).__name__)
        return raw, _error(400, "Body must be a JSON object.")
    return raw, body


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """The webhook as a WSGI application (see the module's docstring)."""
    # What Django's request_started and request_finished do for the database: a connection that
    # broke or is older than CONN_MAX_AGE is closed before and after the request. (Their other
    # receivers reset caches and DEBUG's query log, which this request does not use; sending the
    # signals cost a sixth of this function's CPU.)
    check_connection()
    try:
        _check_host(environ)
        result = answer(
            method=environ["REQUEST_METHOD"],
            content_length=environ.get("CONTENT_LENGTH"),
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            read=environ["wsgi.input"].read,
        )
    except DisallowedHost as error:
        logging.getLogger("django.security.DisallowedHost").error("%s", error)
        result = Answer(400, {"error": "Bad Request", "detail": host_refused(environ)})
    except Exception:
        request_logger.error("Internal Server Error: %s", environ.get("PATH_INFO"), exc_info=True)
        result = _error(500, "Internal Server Error")
    finally:
        check_connection()
    content = json.dumps(result.body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(content))), *result.headers.items()]
    start_response(f"{result.status} {HTTPStatus(result.status).phrase}", headers)
    return [content]


def check_connection() -> None:
    """Django's close_old_connections() for the one connection this request uses."""
    connection.close_if_unusable_or_obsolete()


def _check_host(environ: dict) -> None:
    """ALLOWED_HOSTS, as Django checks it for every request: its own get_host(), which reads only
    the environ, so the rest of a request object is not built."""
    request = WSGIRequest.__new__(WSGIRequest)
    request.environ = request.META = environ
    request.get_host()
