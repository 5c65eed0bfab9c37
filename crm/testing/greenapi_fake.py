"""A local HTTP server that behaves as Green API does (REFERENCE §10), for tests.

Built on pytest-httpserver: real HTTP on localhost, real JSON, Green API's status codes. It keeps an
instance's state and settings, records what was sent, and can be told to fail the way Green API does.
"""

import json
import re
import secrets
import time
from collections.abc import Callable

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

_PATH = re.compile(r"^/waInstance(?P<instance>[^/]+)/(?P<method>[A-Za-z]+)/(?P<token>[^/]*)$")

DEFAULT_SETTINGS = {
    "wid": "77017654321@c.us",
    "webhookUrl": "",
    "webhookUrlToken": "",
    "delaySendMessagesMilliseconds": 5000,
    "markIncomingMessagesReaded": "no",
    "outgoingWebhook": "no",
    "outgoingMessageWebhook": "no",
    "outgoingAPIMessageWebhook": "no",
    "incomingWebhook": "no",
    "stateWebhook": "no",
    "incomingCallWebhook": "no",
    "editedMessageWebhook": "no",
    "deletedMessageWebhook": "no",
    "pollMessageWebhook": "no",
}

# Green API's answers when things go wrong (REFERENCE §10).
FAILURES = {
    429: b"Too Many Requests",
    466: json.dumps(
        {
            "correspondentsStatus": {
                "method": "correspondents",
                "used": 3,
                "total": 3,
                "status": "CORRESPONDENTS_QUOTE_EXCEEDED",
                "description": "Monthly quota has been exceeded. Please change the tariff to business",
            }
        }
    ).encode(),
    500: b"Internal Server Error",
    502: b"Bad Gateway",
}


class FakeGreenAPI:
    def __init__(self, server: HTTPServer, *, id_instance: str = "1103123456", token: str = "fake-token-123") -> None:
        self.server = server
        self.id_instance = id_instance
        self.token = token
        self.state = "authorized"
        self.settings = dict(DEFAULT_SETTINGS)
        self.sent: list[dict] = []
        self.fail_with: int | None = None
        self.delay = 0.0
        self.before_answer: Callable[[str], None] | None = None  # runs with the idMessage before sendMessage answers
        server.expect_request(re.compile(r".*")).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def _handle(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        if not match:
            return Response("Not Found", status=404)
        if self.delay:
            time.sleep(self.delay)
        if match["instance"] != self.id_instance:
            return Response("Forbidden", status=403)
        if match["token"] != self.token:
            return Response("Unauthorized", status=401)
        if self.fail_with:
            return Response(FAILURES.get(self.fail_with, b"error"), status=self.fail_with)
        handler = getattr(self, f"_{match['method']}", None)
        if handler is None:
            return Response("Method Not Allowed", status=404)
        return handler(request)

    def _json(self, body: object) -> Response:
        return Response(json.dumps(body), status=200, content_type="application/json")

    def _sendMessage(self, request: Request) -> Response:  # noqa: N802 - Green API's method name
        body = request.get_json(silent=True) or {}
        chat_id, message = body.get("chatId", ""), body.get("message", "")
        if not isinstance(message, str) or not message or len(message) > 20_000:
            return Response(
                json.dumps({"message": "'message' length must be less than or equal to 20000"}),
                status=400,
                content_type="application/json",
            )
        if not re.match(r"^(\d+@c\.us|[\d-]+@g\.us|\d+@lid)$", str(chat_id)):
            return Response(
                json.dumps({"message": "'chatId' must be one of the next formats"}),
                status=400,
                content_type="application/json",
            )
        id_message = "BAE5" + secrets.token_hex(6).upper()
        self.sent.append({**body, "idMessage": id_message})
        if self.before_answer:
            self.before_answer(id_message)
        return self._json({"idMessage": id_message})

    def _getStateInstance(self, request: Request) -> Response:  # noqa: N802
        return self._json({"stateInstance": self.state})

    def _getSettings(self, request: Request) -> Response:  # noqa: N802
        return self._json(self.settings)

    def _setSettings(self, request: Request) -> Response:  # noqa: N802
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body:
            return Response(
                json.dumps({"message": "Bad Request Validation failed"}), status=400, content_type="application/json"
            )
        self.settings.update({k: v for k, v in body.items() if k in DEFAULT_SETTINGS})
        return self._json({"saveSettings": True})

    def outgoing_api_notification(self, sent: dict) -> dict:
        """The outgoingAPIMessageReceived Green API posts for a message we sent."""
        return {
            "typeWebhook": "outgoingAPIMessageReceived",
            **self._envelope(sent),
            "senderData": {"chatId": sent["chatId"], "sender": self.settings["wid"], "senderName": "Shop"},
            "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": sent["message"]}},
        }

    def status_notification(self, sent: dict, status: str) -> dict:
        return {
            "typeWebhook": "outgoingMessageStatus",
            "chatId": sent["chatId"],
            **self._envelope(sent),
            "status": status,
            "sendByApi": True,
        }

    def _envelope(self, sent: dict) -> dict:
        return {
            "instanceData": {
                "idInstance": int(self.id_instance),
                "wid": self.settings["wid"],
                "typeInstance": "whatsapp",
            },
            "timestamp": int(time.time()),
            "idMessage": sent["idMessage"],
        }
