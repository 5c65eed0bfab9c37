"""Every kind of Green API notification (`typeWebhook`) the webhook knows, declared once.

A declaration names the kind's parser (whatsapp.notifications) and handler (whatsapp.messages,
statuses, instances), or the reason we keep it without acting on it, and the Green API instance
setting that turns it on (REFERENCE §2). Everything else reads this table: whatsapp.services
dispatches by it, and a test holds greenapi's wanted settings to it. A kind without a handler
cannot be declared: the declaration itself refuses it, at import, not at the first notification.

A new kind: a parser in notifications.py, a handler in a module of its own (or the one for its
family), one line below.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from whatsapp.instances import instance_event_record
from whatsapp.messages import message_receive
from whatsapp.models import Notification
from whatsapp.notifications import (
    Envelope,
    Malformed,
    Parsed,
    parse_instance,
    parse_message,
    parse_status,
    read,
)
from whatsapp.statuses import status_apply

Parser = Callable[[dict, Envelope], Parsed]
Handler = Callable[[Parsed, Notification], tuple[str, str]]


@dataclass(frozen=True)
class Kind:
    name: str
    parse: Parser | None
    handle: Handler | None
    setting: str = ""  # Green API's instance setting that turns it on; "" when none is documented
    wanted: Literal["required", "recommended", ""] = ""  # what greenapi_configure and the doctor ask for
    ignored: str = ""  # why a kind we know is kept without acting on it (then no parser or handler)

    def __post_init__(self) -> None:
        if self.ignored and (self.parse or self.handle):
            raise TypeError(f"{self.name}: an ignored kind has no parser or handler")
        if not self.ignored and not (callable(self.parse) and callable(self.handle)):
            raise TypeError(f"{self.name}: a kind needs a parser and a handler, or the reason it is ignored")


def _declare(*kinds: Kind) -> dict[str, Kind]:
    return {kind.name: kind for kind in kinds}


KINDS = _declare(
    Kind("incomingMessageReceived", parse_message, message_receive, "incomingWebhook", "required"),
    Kind("outgoingMessageReceived", parse_message, message_receive, "outgoingMessageWebhook", "required"),
    Kind("outgoingAPIMessageReceived", parse_message, message_receive, "outgoingAPIMessageWebhook", "required"),
    Kind("outgoingMessageStatus", parse_status, status_apply, "outgoingWebhook", "required"),
    Kind("stateInstanceChanged", parse_instance, instance_event_record, "stateWebhook", "recommended"),
    Kind("incomingCall", parse_instance, instance_event_record, "incomingCallWebhook", "recommended"),
    # Green API lists these settings as deprecated or not working (REFERENCE §2): read if they come.
    Kind("statusInstanceChanged", parse_instance, instance_event_record, "statusInstanceWebhook"),
    Kind("deviceInfo", parse_instance, instance_event_record, "deviceWebhook"),
    Kind("incomingBlock", parse_instance, instance_event_record, "incomingBlockWebhook"),
    Kind("quotaExceeded", parse_instance, instance_event_record),  # no setting of its own
    # Undocumented once; recorded as the incoming call is.
    Kind("outgoingCall", parse_instance, instance_event_record),
)

# The kinds that are messages (a message stored once under each of these names' notifications).
MESSAGE_KINDS = tuple(name for name, kind in KINDS.items() if kind.parse is parse_message)

# Kinds we know and deliberately do not act on: kept, and answered 200 so the queue moves on.
IGNORED = {name: kind.ignored for name, kind in KINDS.items() if kind.ignored}


def parse(body: dict, env: Envelope | None = None) -> Parsed:
    """The notification as its kind's dataclass; Malformed when it lacks what its kind needs, or
    its kind is unknown (kept and answered 200 all the same)."""
    body, env = read(body, env)
    kind = KINDS.get(env.type_webhook)
    if kind is None or kind.parse is None:
        raise Malformed(f"unknown typeWebhook {env.type_webhook!r}" if env.type_webhook else "typeWebhook is missing")
    return kind.parse(body, env)


def handler(kind: str) -> Handler:
    """The handler of a kind `parse` accepted."""
    return KINDS[kind].handle
