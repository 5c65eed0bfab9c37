import logging

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.request import split_domain_port
from django.utils.html import format_html
from django.views import defaults

from crm.health import database_problem

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. Touches nothing else: a load balancer may call it every second."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """The database answers and every migration is applied: one small query."""
    problem = database_problem()
    if problem is None:
        return JsonResponse({"status": "ok"})
    reason, missing = problem
    if missing:
        return JsonResponse({"status": "unavailable", "reason": reason, "migrations": missing}, status=503)
    # The driver's error names the database's host, port and role: for the log, not for anyone who asks.
    logger.error("/readyz: %s", reason)
    return JsonResponse({"status": "unavailable", "reason": "database unavailable"}, status=503)


def host_refused(meta: dict) -> str:
    """What to set when a request's Host is not ours: a tunnel's address is the usual case."""
    domain, _ = split_domain_port(meta.get("HTTP_HOST", "")[:300])  # empty when not a valid host name
    if not domain:
        return "The Host header is not a valid host name."
    return (
        f"This server does not answer to the host {domain!r}: add it to ALLOWED_HOSTS, or set PUBLIC_URL "
        f"to the address it is reached at (e.g. PUBLIC_URL=https://{domain} for a tunnel), then restart."
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400, saying what to set when the Host was refused: JSON, except for the admin's pages."""
    if not isinstance(exception, DisallowedHost):
        return defaults.bad_request(request, exception)
    detail = host_refused(request.META)
    if request.path.startswith("/admin/"):
        return HttpResponseBadRequest(format_html("<h1>Bad Request (400)</h1><p>{}</p>", detail))
    return JsonResponse({"error": "Bad Request", "detail": detail}, status=400)
