"""Login throttles, counted in the shared cache (database, or Redis with REDIS_URL) so that every
worker and every host sees the same attempts."""

import hashlib

from django.contrib.auth import get_user_model
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class LoginIPThrottle(SimpleRateThrottle):
    """Attempts from one address (NUM_PROXIES decides whether X-Forwarded-For is believed)."""

    scope = "login_ip"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginEmailThrottle(SimpleRateThrottle):
    """Attempts at one account, from anywhere: a botnet guessing one password hits this."""

    scope = "login_email"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        email = request.data.get("email") if isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None  # a malformed body is a 400 anyway
        # The form the login looks the user up by: every spelling that reaches one account counts
        # against it. Hashed: an email may hold any character, a cache key may not.
        normal = get_user_model().objects.normalize_email(email)
        ident = hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
