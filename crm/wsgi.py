"""The WSGI application gunicorn serves (Procfile).

Green API's webhook goes straight to its view (crm/direct.py explains why and what it keeps);
every other path goes through Django's full stack.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
django_application = get_wsgi_application()

from crm.direct import DirectRoutes  # noqa: E402 - Django is set up by the line above
from whatsapp.views import webhook  # noqa: E402

application = DirectRoutes(django_application, {"/whatsapp/webhook": webhook})
