"""How often one user may send: POST /whatsapp/messages and the admin's reply box share one count
(SEND_RATE_PER_USER), kept in the shared cache so every worker and host agrees."""

import math

from django.http import HttpRequest
from rest_framework.throttling import UserRateThrottle


class SendThrottle(UserRateThrottle):
    scope = "send"


def send_wait_seconds(*, request: HttpRequest) -> int | None:
    """For a send that is not a DRF view (the admin's reply box): None when `request.user` may send
    now, and the attempt is counted; otherwise the seconds until they may, and nothing is counted."""
    throttle = SendThrottle()
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))
