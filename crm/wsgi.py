"""The WSGI application gunicorn serves (Procfile).

Green API's webhook goes to its own small WSGI application (whatsapp/webhook.py says why);
every other path goes through Django's full stack. Loading it runs crm/checks.py: a server without
SECRET_KEY does not start.
"""

import os
from collections.abc import Callable, Iterable

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
django_application = get_wsgi_application()

from crm.checks import checks_at_start  # noqa: E402 - needs Django set up

checks_at_start()

from whatsapp import webhook  # noqa: E402 - needs Django set up, by the line above

WEBHOOK_PATH = "/whatsapp/webhook"


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == WEBHOOK_PATH:
        return webhook.application(environ, start_response)
    return django_application(environ, start_response)
