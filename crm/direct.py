"""Endpoints that machines call many times a second, served without Django's middleware.

Green API posts every notification to /whatsapp/webhook. That request uses no session, user,
CSRF token, flash message, static file or redirect, yet each of the eight middleware would run for
it, and with URL resolution they cost about a fifth of a notification's CPU (bench/RESULTS.md).
`DirectRoutes` sits in front of Django's WSGI handler and gives the listed paths straight to their
view, everything else goes through the full stack unchanged.

What the view still gets, as Django's handler gives it: the same WSGIRequest, the request_started
and request_finished signals (so its database connection is checked, reused and closed exactly as
for any request), ALLOWED_HOSTS, and Django's own answer to an exception (400 for a suspicious
request, 500 and the `django.request` log line for a bug). The tests post the same bodies both ways and compare
the answers (crm/tests/test_direct.py).
"""

from collections.abc import Callable, Iterable

from django.core import signals
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.http import HttpRequest, HttpResponse
from django.urls import set_script_prefix

View = Callable[[HttpRequest], HttpResponse]


def _host_checked(view: View) -> View:
    def checked(request: HttpRequest) -> HttpResponse:
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it: DisallowedHost answers 400
        return view(request)

    return checked


class DirectRoutes:
    def __init__(self, app: Callable, routes: dict[str, View]) -> None:
        self.app = app
        self.routes = {path: convert_exception_to_response(_host_checked(view)) for path, view in routes.items()}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        handler = self.routes.get(environ.get("PATH_INFO", ""))
        if handler is None:
            return self.app(environ, start_response)
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        response = handler(WSGIRequest(environ))
        status = f"{response.status_code} {response.reason_phrase}"
        headers = [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())]
        start_response(status, headers)
        # The server closes the response once it is sent, which sends request_finished.
        return response
