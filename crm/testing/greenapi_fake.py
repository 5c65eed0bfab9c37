"""A local HTTP server that behaves as Green API does (REFERENCE §10), for tests.

Built on pytest-httpserver: real HTTP on localhost, real JSON, Green API's status codes. It keeps an
instance's state and settings, records what was sent, and can be told to fail the way Green API does.
It also keeps the notification queue (receiveNotification / deleteNotification, with receipt ids,
REFERENCE §9) and the message history (lastIncomingMessages, lastOutgoingMessages, getChatHistory
in their flat shape, §15), and answers 429 past each method's documented rate (§10).
"""

import hashlib
import json
import re
import secrets
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

_PATH = re.compile(r"^/waInstance(?P<instance>[^/]+)/(?P<method>[A-Za-z]+)/(?P<token>[^/]*)(?:/(?P<tail>[^/]+))?$")
# Where the fake serves media, as Green API's storage (sw-media-….storage.yandexcloud.net) does.
_FILE_PATH = re.compile(r"^/media/(?P<key>[0-9a-f]+)/(?P<name>[^/]+)$")


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (grey pixels), made here so the tests need no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# The first page of an Ogg Opus stream, as WhatsApp's voice notes start.
OGG_OPUS = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass
class FakeFile:
    """A file the fake serves, and how: "ok", "refuse" (500), "expired" (403; downloadFile gives a
    fresh link), "unsized" (no Content-Length, chunked), "redirect" (302 to `location`), "held"
    (the first fetch gets its first 64 KB at once and the rest once `release` is set: a download in
    flight for as long as a test needs; later fetches get it all at once); any of them after `delay`
    seconds. `served`: the fetches that got the whole file."""

    content: bytes
    name: str
    behaviour: str = "ok"
    delay: float = 0.0
    location: str = ""
    fetches: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    served: int = 0


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

# Calls per second per instance, as Green API documents them (REFERENCE §10, §15); 429 past them.
RATE_LIMITS = {
    "sendMessage": 50,
    "receiveNotification": 100,
    "deleteNotification": 100,
    "downloadFile": 5,
    "readChat": 10,
    "getStateInstance": 1,
    "getSettings": 1,
    "setSettings": 1,
    "getChatHistory": 1,
    "lastIncomingMessages": 1,
    "lastOutgoingMessages": 1,
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


class StreamingHTTPServer(HTTPServer):
    """pytest-httpserver reads every request's whole body into memory before its handler runs;
    this one leaves the body to the handler, so a test can tell what the sending process holds
    (with `FakeGreenAPI.keep_uploads` off, an upload is read a chunk at a time)."""

    def application(self, request: Request) -> Response:
        response = self.dispatch(request)
        self.log.append((request, response))
        return response


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
        self.files: dict[str, FakeFile] = {}
        self.downloads: dict[str, str] = {}  # idMessage → the file key downloadFile answers with
        self.download_requests: list[dict] = []
        self.sent_files: list[dict] = []  # what sendFileByUpload and sendFileByUrl received
        self.keep_uploads = True  # False: an upload's size and sha256 are recorded, not its bytes
        self.queue: list[tuple[int, dict]] = []  # (receiptId, body), oldest first
        self.deleted: list[int] = []
        self.read_chats: list[str] = []  # the chatIds readChat marked read
        # Runs with the receiptId before deleting; False: the request is dropped, as if never sent.
        self.before_delete: Callable[[int], bool] | None = None
        self.receive_wait = 0.3  # the longest an empty receiveNotification waits (tests need no 60 s)
        self.incoming: list[dict] = []  # the history, in its flat shape (REFERENCE §15)
        self.outgoing: list[dict] = []
        self.chat_only: list[dict] = []  # in getChatHistory but not the journals (green-api #1118)
        self.rate_limits = dict(RATE_LIMITS)
        self.calls: dict[str, deque] = {}  # method → arrival times of the calls answered
        self.refused: list[str] = []  # methods answered 429
        self._next_receipt = 1000
        self._lock = threading.Condition()
        server.expect_request(re.compile(r".*")).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def _handle(self, request: Request) -> Response:
        if served := _FILE_PATH.match(request.path):
            return self._serve_file(served["key"])
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
        if not self._within_rate(match["method"]):
            return Response(FAILURES[429], status=429)
        return handler(request, match["tail"]) if match["tail"] else handler(request)

    def _within_rate(self, method: str) -> bool:
        """At most the documented number of calls of `method` in any one second."""
        limit = self.rate_limits.get(method)
        if limit is None:
            return True
        with self._lock:
            now = time.monotonic()
            calls = self.calls.setdefault(method, deque())
            while calls and calls[0] <= now - 1.0:
                calls.popleft()
            if len(calls) >= limit:
                self.refused.append(method)
                return False
            calls.append(now)
            return True

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

    def _sendFileByUpload(self, request: Request) -> Response:  # noqa: N802
        """Multipart: chatId, file, fileName, caption (REFERENCE §15); at most 100 MB."""
        form, upload = request.form, request.files.get("file")
        if upload is None or not form.get("chatId"):
            return self._bad_request("'file' and 'chatId' are required")
        got = {"chatId": form["chatId"], "fileName": form.get("fileName", ""), "caption": form.get("caption", "")}
        if not self.keep_uploads:  # a large file's digest, so this process never holds it whole
            digest, size = hashlib.sha256(), 0
            while chunk := upload.read(65536):
                digest.update(chunk)
                size += len(chunk)
            got |= {"size": size, "sha256": digest.hexdigest()}
            return self._file_sent({"method": "sendFileByUpload", **got}, self.add_file(b"", got["fileName"]))
        content = upload.read()
        if len(content) > 100 * 1024 * 1024:
            return Response("File exceeded max upload size. Limit: 100mb", status=500)
        url = self.add_file(content, got["fileName"] or "file")
        return self._file_sent({"method": "sendFileByUpload", **got, "content": content}, url)

    def _sendFileByUrl(self, request: Request) -> Response:  # noqa: N802
        body = request.get_json(silent=True) or {}
        if not body.get("chatId") or not body.get("urlFile") or not body.get("fileName"):
            return self._bad_request("'chatId', 'urlFile' and 'fileName' are required")
        return self._file_sent({"method": "sendFileByUrl", **body}, body["urlFile"])

    def _file_sent(self, got: dict, url: str) -> Response:
        id_message = "BAE5" + secrets.token_hex(6).upper()
        self.sent_files.append({**got, "idMessage": id_message})
        if self.before_answer:
            self.before_answer(id_message)
        return self._json({"idMessage": id_message, "urlFile": url})

    def _bad_request(self, message: str) -> Response:
        return Response(json.dumps({"message": message}), status=400, content_type="application/json")

    def _readChat(self, request: Request) -> Response:  # noqa: N802
        chat_id = (request.get_json(silent=True) or {}).get("chatId", "")
        if not re.match(r"^(\d+@c\.us|[\d-]+@g\.us|\d+@lid)$", str(chat_id)):
            return self._bad_request("'chatId' must be one of the next formats")
        self.read_chats.append(chat_id)
        return self._json({"setRead": True})

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

    # -- the notification queue (REFERENCE §9) --------------------------------------------------

    def enqueue(self, body: dict) -> int:
        """A notification waiting in the instance's queue; its receiptId."""
        with self._lock:
            self._next_receipt += 1
            self.queue.append((self._next_receipt, body))
            self._lock.notify_all()
            return self._next_receipt

    def _receiveNotification(self, request: Request) -> Response:  # noqa: N802
        wait = min(float(request.args.get("receiveTimeout", 5)), self.receive_wait)
        with self._lock:
            self._lock.wait_for(lambda: self.queue, timeout=wait)
            if not self.queue:
                return self._json(None)
            receipt_id, body = self.queue[0]  # the same item until it is deleted
        return self._json({"receiptId": receipt_id, "body": body})

    def _deleteNotification(self, request: Request, receipt: str = "") -> Response:  # noqa: N802
        if request.method != "DELETE" or not receipt.isdigit():
            return Response("Method Not Allowed", status=405)
        if self.before_delete and not self.before_delete(int(receipt)):
            return Response("Service Unavailable", status=503)
        with self._lock:
            kept = [item for item in self.queue if item[0] != int(receipt)]
            found = len(kept) != len(self.queue)
            self.queue = kept
            if found:
                self.deleted.append(int(receipt))
        return self._json({"result": found})

    # -- the message history (REFERENCE §15) ----------------------------------------------------

    def _since(self, request: Request) -> float:
        return time.time() - 60 * float(request.args.get("minutes", 1440))

    def _lastIncomingMessages(self, request: Request) -> Response:  # noqa: N802
        since = self._since(request)
        return self._json([m for m in reversed(self.incoming) if m.get("timestamp", 0) >= since][:10_000])

    def _lastOutgoingMessages(self, request: Request) -> Response:  # noqa: N802
        since = self._since(request)
        return self._json([m for m in reversed(self.outgoing) if m.get("timestamp", 0) >= since][:10_000])

    def _getChatHistory(self, request: Request) -> Response:  # noqa: N802
        body = request.get_json(silent=True) or {}
        chat = body.get("chatId")
        if not chat:
            return Response(
                json.dumps({"message": "'chatId' is required"}), status=400, content_type="application/json"
            )
        chat_messages = sorted(
            (m for m in self.incoming + self.outgoing + self.chat_only if m.get("chatId") == chat),
            key=lambda m: m.get("timestamp", 0),
        )
        return self._json(list(reversed(chat_messages))[: int(body.get("count") or 100)])

    # -- media --------------------------------------------------------------------------------

    def add_file(self, content: bytes, name: str = "photo.jpg", *, id_message: str = "", **how: object) -> str:
        """Serve `content` at a new link; downloadFile for `id_message` answers with a fresh one."""
        key = secrets.token_hex(8)
        self.files[key] = FakeFile(content, name, **how)
        if id_message:
            self.downloads[id_message] = key
        return self.file_url(key)

    def file_url(self, key: str) -> str:
        return f"{self.url}/media/{key}/{self.files[key].name}"

    def _serve_file(self, key: str) -> Response:
        file = self.files.get(key)
        if file is None:
            return Response("<Error><Code>NoSuchKey</Code></Error>", status=404, content_type="application/xml")
        file.fetches += 1
        if file.delay:
            time.sleep(file.delay)
        if file.behaviour == "refuse":
            return Response("Internal Server Error", status=500)
        if file.behaviour == "expired":
            return Response("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", 403)
        if file.behaviour == "redirect":
            return Response("", status=302, headers={"Location": file.location})
        if file.behaviour == "held":
            headers = {"Content-Length": str(len(file.content))}
            body = _held(file, first=file.fetches == 1)
            return Response(body, status=200, content_type="application/octet-stream", headers=headers)
        if file.behaviour == "unsized":
            return Response(_chunks(file.content), status=200, content_type="application/octet-stream")
        return Response(file.content, status=200, content_type="application/octet-stream")

    def _downloadFile(self, request: Request) -> Response:  # noqa: N802
        body = request.get_json(silent=True) or {}
        self.download_requests.append(body)
        key = self.downloads.get(str(body.get("idMessage", "")))
        if not body.get("chatId") or key is None:
            return Response(json.dumps({"message": "file not found"}), status=400, content_type="application/json")
        # A fresh link to the same bytes, that works.
        old = self.files[key]
        fresh = self.add_file(old.content, old.name)
        return self._json({"downloadUrl": fresh})

    def media_notification(self, url: str, *, kind: str = "imageMessage", id_message: str = "", **file: str) -> dict:
        """An incomingMessageReceived with a file at `url`, as Green API posts it."""
        return {
            "typeWebhook": "incomingMessageReceived",
            **self._envelope({"idMessage": id_message or secrets.token_hex(16).upper()}),
            "senderData": {"chatId": "79031234567@c.us", "sender": "79031234567@c.us", "senderName": "Анна"},
            "messageData": {
                "typeMessage": kind,
                "fileMessageData": {"downloadUrl": url, "caption": "", "fileName": "", "mimeType": "", **file},
            },
        }

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


def _chunks(content: bytes) -> Iterator[bytes]:
    for start in range(0, len(content), 65536):
        yield content[start : start + 65536]


def _held(file: FakeFile, *, first: bool) -> Iterator[bytes]:
    yield file.content[:65536]
    if first:
        file.release.wait(timeout=120)
    yield from _chunks(file.content[65536:])
    file.served += 1
