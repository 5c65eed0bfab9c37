"""Green API's rate limits, kept together by every process that calls it (REFERENCE §10, §15).

Green API counts calls per instance and method and answers 429 past its limit, whoever made them:
the receiver, the backfill, the web workers sending, the doctor. So each call first takes a slot
of its method in the shared cache (the database cache, or Redis with REDIS_URL). Slot n of a
method allowed L calls a second is the time from n·MARGIN/L to (n+1)·MARGIN/L; it is claimed with
cache.add, which only one process can win in every cache Django has (an INSERT on the primary key
of the database cache, SET NX in Redis). A caller that finds the slot under way and the next one
free takes both and calls at once; otherwise it takes a slot yet to begin (a slot taken sends it to
the next) and sleeps until it begins. Calls are spaced MARGIN times further apart than the limit
asks, so a process that the machine runs late cannot push two into one second.
"""

import logging
import math
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

# Calls per second per instance (REFERENCE §10 "Rate limits", §15). A method not named gets the
# strictest limit Green API documents.
RATES: dict[str, float] = {
    "sendMessage": 50,
    "sendFileByUrl": 50,
    "sendFileByUpload": 50,
    "receiveNotification": 100,
    "deleteNotification": 100,
    "downloadFile": 5,
    "getMessage": 10,
    "readChat": 10,
    "getStateInstance": 1,
    "getSettings": 1,
    "setSettings": 1,
    "getChatHistory": 1,
    "lastIncomingMessages": 1,
    "lastOutgoingMessages": 1,
    "getWebhooksCount": 1,
}
DEFAULT_RATE = 1.0
MARGIN = 1.2
PROBES = 32  # slots tried before sleeping while the ones ahead pass


def rate_interval(method: str) -> float:
    """Seconds between two calls of `method` to one instance."""
    return MARGIN / RATES.get(method, DEFAULT_RATE)


def rate_wait(*, instance: str, method: str, max_wait: float) -> bool:
    """Wait until this process may call `method` of `instance`; False when no slot came free
    within `max_wait` seconds (other processes hold them all).

    Two calls are at least one interval apart: a call made at once, inside the slot under way, holds
    that slot and the next; any other call waits for the start of a slot of its own.
    """
    interval = rate_interval(method)
    current = math.floor(time.time() / interval)
    if _claim(instance, method, current, interval) and _claim(instance, method, current + 1, interval):
        return True  # nobody called in this slot, nor waits for the next: no need to wait
    # A caller may find the slot under way and the next held by a call made at once: never give up
    # before a slot of its own could have come.
    deadline = time.time() + max(max_wait, 3 * interval)
    while time.time() <= deadline:
        now = time.time()
        first = math.ceil(now / interval)
        for slot in range(first, first + PROBES):
            start = slot * interval
            if start > deadline:
                return False
            if _claim(instance, method, slot, interval):
                if start > now:
                    time.sleep(start - now)
                return True
        time.sleep(min(PROBES * interval, max(0.0, deadline - time.time())))
    return False


def _claim(instance: str, method: str, slot: int, interval: float) -> bool:
    try:
        return cache.add(f"greenapi-rate:{instance}:{method}:{slot}", 1, timeout=max(2, math.ceil(2 * interval)))
    except Exception as error:  # noqa: BLE001 - a cache that cannot be reached must not stop every call
        # Green API's own 429 still stops a burst; the callers back off from it.
        logger.warning("Green API rate limiter: the cache is unusable (%s); calling without it", type(error).__name__)
        return True
