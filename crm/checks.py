"""What a server must not run without, said by `check --deploy` and by the web process at start.

Both checks are deployment checks, so management commands and the tests are not stopped by them;
crm/wsgi.py runs them when a WSGI server loads the application, refuses to start on an error and
logs each warning there, where the operator reads the server's output.
"""

import logging

from django.conf import settings
from django.core import checks

logger = logging.getLogger(__name__)

TAG = "crm"
KEY_HINT = (
    "Set SECRET_KEY to a long random value, the same on every server "
    "(python3 -c 'import secrets; print(secrets.token_urlsafe(50))'). "
    "./scripts/serve keeps a local one in .env."
)


@checks.register(checks.Tags.security, TAG, deploy=True)
def check_secret_key(**kwargs: object) -> list[checks.CheckMessage]:
    # Django marks generated throw-away keys "django-insecure-"; our development default is one.
    if settings.DEBUG or not settings.SECRET_KEY.startswith("django-insecure-"):
        return []
    return [
        checks.Error(
            "SECRET_KEY is not set (the development default is in use) and DEBUG is off: "
            "anyone who reads the code could forge sessions and JWTs.",
            hint=KEY_HINT,
            id="crm.E001",
        )
    ]


@checks.register(checks.Tags.security, TAG, deploy=True)
def check_webhook_token(**kwargs: object) -> list[checks.CheckMessage]:
    if settings.GREEN_API_WEBHOOK_TOKEN:
        return []
    return [
        checks.Warning(
            "GREEN_API_WEBHOOK_TOKEN is not set: the webhook accepts notifications from anyone.",
            hint=(
                "Set GREEN_API_WEBHOOK_TOKEN to a long random value and the same value as webhookUrlToken "
                "in Green API (manage.py greenapi_configure does it)."
            ),
            id="crm.W001",
        )
    ]


def checks_at_start() -> None:
    """The web process's start: an error stops it, a warning goes to the log."""
    found = checks.run_checks(tags=[TAG], include_deployment_checks=True)
    errors = [message for message in found if message.is_serious()]
    for message in found:
        if not message.is_serious():
            logger.warning("%s", message)
    if errors:
        # SystemExit, not a traceback: the operator reads only what to set.
        raise SystemExit("The server will not start:\n" + "\n".join(str(e) for e in errors))
