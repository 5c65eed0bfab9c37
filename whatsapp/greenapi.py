"""Green API's HTTP API: the few methods the CRM calls, and what it needs of an instance's settings.

A thin client on `requests` rather than the official SDK: the SDK retries POST sendMessage on 429
by itself (a message could go twice), waits up to 180 s, reports errors only when asked to and
closes the connection after each call (REFERENCE §11). Here every call has a timeout, reuses its
connection, and every failure is one exception whose message says what to do.
The instance token is part of every URL: it never appears in a message or a log line. Every call
waits for its turn under the instance's rate limits, shared by every process (whatsapp/ratelimit.py).
"""

import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

import requests
from django.conf import settings
from requests_toolbelt import MultipartEncoder

from whatsapp import fields
from whatsapp.ratelimit import rate_wait

logger = logging.getLogger(__name__)

_session = requests.Session()
_session.headers["User-Agent"] = "whatsapp-crm"


class GreenAPIError(Exception):
    """Green API could not do what was asked; the message says why and what to do about it."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GreenAPINotConfigured(GreenAPIError):
    """Some of GREEN_API_URL, GREEN_API_ID_INSTANCE, GREEN_API_TOKEN are missing."""


@dataclass(frozen=True)
class GreenAPI:
    base_url: str
    id_instance: str
    token: str
    timeout: float
    media_url: str = ""  # where files are uploaded (the console's mediaUrl)

    @classmethod
    def from_settings(cls) -> "GreenAPI":
        values = {
            "GREEN_API_URL": settings.GREEN_API_URL,
            "GREEN_API_ID_INSTANCE": settings.GREEN_API_ID_INSTANCE,
            "GREEN_API_TOKEN": settings.GREEN_API_TOKEN,
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise GreenAPINotConfigured(
                f"Green API is not configured: set {', '.join(missing)} "
                "(from the instance's page in Green API's console)."
            )
        base_url = settings.GREEN_API_URL.rstrip("/")
        return cls(
            base_url,
            str(settings.GREEN_API_ID_INSTANCE),
            settings.GREEN_API_TOKEN,
            settings.GREEN_API_TIMEOUT,
            (settings.GREEN_API_MEDIA_URL or _media_host(base_url)).rstrip("/"),
        )

    @property
    def instance_number(self) -> int:
        return int(self.id_instance) if self.id_instance.isdigit() else 0

    def send_message(self, chat_id: str, text: str, quoted_message_id: str = "") -> str:
        body: dict[str, Any] = {"chatId": chat_id, "message": text}
        if quoted_message_id:
            body["quotedMessageId"] = quoted_message_id
        answer = self._call("POST", "sendMessage", body)
        id_message = answer.get("idMessage") if isinstance(answer, dict) else None
        if not isinstance(id_message, str) or not id_message:
            raise GreenAPIError("Green API accepted the message but returned no idMessage.")
        return id_message

    def send_file_by_upload(self, chat_id: str, file: BinaryIO, file_name: str, caption: str = "") -> tuple[str, str]:
        """Upload and send a file (up to 100 MB): Green API's (idMessage, urlFile)."""
        fields = {"chatId": chat_id, "fileName": file_name}
        if caption:
            fields["caption"] = caption
        # Read from storage as it is sent, a few KB at a time: requests' own `files=` would build
        # the whole body (up to 100 MB) in the web process's memory first.
        body = MultipartEncoder(fields={**fields, "file": (file_name, file, "application/octet-stream")})
        # A file's upload outlasts an API call: MEDIA_FETCH_SECONDS, as for a download.
        answer = self._call(
            "POST",
            "sendFileByUpload",
            data=body,
            headers={"Content-Type": body.content_type},
            base_url=self.media_url,
            timeout=max(self.timeout, settings.MEDIA_FETCH_SECONDS),
        )
        return self._sent_file(answer, "")

    def send_file_by_url(self, chat_id: str, url: str, file_name: str, caption: str = "") -> tuple[str, str]:
        """Send the file at `url` (Green API fetches it): (idMessage, the file's URL)."""
        body = {"chatId": chat_id, "urlFile": url, "fileName": file_name}
        if caption:
            body["caption"] = caption
        return self._sent_file(self._call("POST", "sendFileByUrl", body), url)

    def _sent_file(self, answer: Any, url: str) -> tuple[str, str]:
        id_message = answer.get("idMessage") if isinstance(answer, dict) else None
        if not isinstance(id_message, str) or not id_message:
            raise GreenAPIError("Green API accepted the file but returned no idMessage.")
        url_file = answer.get("urlFile")
        return id_message, url_file if isinstance(url_file, str) else url

    def download_file(self, chat_id: str, id_message: str) -> str:
        """A fresh link to a media message's file (the one in its notification may have expired)."""
        answer = self._call("POST", "downloadFile", {"chatId": chat_id, "idMessage": id_message})
        url = answer.get("downloadUrl") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            raise GreenAPIError("Green API answered downloadFile without a downloadUrl.")
        return url

    def read_chat(self, chat_id: str) -> bool:
        """Mark the whole chat read on the phone (the client sees blue ticks)."""
        answer = self._call("POST", "readChat", {"chatId": chat_id})
        return bool(answer.get("setRead")) if isinstance(answer, dict) else False

    def get_state_instance(self) -> str:
        answer = self._call("GET", "getStateInstance")
        return str(answer.get("stateInstance", "")) if isinstance(answer, dict) else ""

    def get_settings(self) -> dict:
        answer = self._call("GET", "getSettings")
        if not isinstance(answer, dict):
            raise GreenAPIError("Green API answered getSettings with something that is not a settings object.")
        return answer

    def set_settings(self, values: dict) -> bool:
        answer = self._call("POST", "setSettings", values)
        return bool(isinstance(answer, dict) and answer.get("saveSettings"))

    # -- receiving without a webhook, and the history (REFERENCE §9, §15) ----------------------

    def receive_notification(self, receive_timeout: int = 5) -> "Received | None":
        """The oldest notification in the instance's queue, or None when it stayed empty for
        `receive_timeout` seconds (5–60). It comes back until deleted."""
        receive_timeout = max(5, min(60, receive_timeout))
        answer = self._call(
            "GET",
            "receiveNotification",
            params={"receiveTimeout": receive_timeout},
            timeout=receive_timeout + self.timeout,
        )
        if answer is None:
            return None
        receipt_id = fields.as_int(answer.get("receiptId")) if isinstance(answer, dict) else None
        if receipt_id is None:
            raise GreenAPIError("Green API answered receiveNotification without a receiptId.")
        return Received(receipt_id, answer.get("body"))

    def delete_notification(self, receipt_id: int) -> bool:
        """Remove a received notification from the queue; False when it was not there (any more)."""
        answer = self._call("DELETE", "deleteNotification", suffix=f"/{int(receipt_id)}")
        return bool(isinstance(answer, dict) and answer.get("result"))

    def last_incoming_messages(self, minutes: int) -> list[dict]:
        return self._history("GET", "lastIncomingMessages", params={"minutes": minutes})

    def last_outgoing_messages(self, minutes: int) -> list[dict]:
        return self._history("GET", "lastOutgoingMessages", params={"minutes": minutes})

    def get_chat_history(self, chat_id: str, count: int = 100) -> list[dict]:
        return self._history("POST", "getChatHistory", {"chatId": chat_id, "count": count})

    def _history(self, http_method: str, method: str, body: dict | None = None, **options: Any) -> list[dict]:
        answer = self._call(http_method, method, body, **options)
        if not isinstance(answer, list):
            raise GreenAPIError(f"Green API answered {method} with something that is not a list of messages.")
        return [item for item in answer if isinstance(item, dict)]

    def _call(
        self,
        http_method: str,
        method: str,
        body: dict | None = None,
        *,
        base_url: str = "",
        timeout: float = 0.0,
        suffix: str = "",
        params: dict | None = None,
        **upload: Any,
    ) -> Any:
        """One call; `timeout` is the read timeout when it is not GREEN_API_TIMEOUT (a long poll, an upload)."""
        if not rate_wait(instance=self.id_instance, method=method, max_wait=self.timeout):
            raise GreenAPIError(
                f"Green API's rate limit for {method} is taken by other processes of this CRM; try again.", status=429
            )
        url = f"{base_url or self.base_url}/waInstance{self.id_instance}/{method}/{self.token}{suffix}"
        timeout = timeout or self.timeout
        try:
            response = _session.request(
                http_method, url, json=body, params=params, timeout=(min(5.0, self.timeout), timeout), **upload
            )
        except requests.Timeout:
            raise GreenAPIError(f"Green API did not answer {method} within {timeout:g} s; try again.") from None
        except requests.RequestException as error:
            # str(error) would contain the URL, and with it the token.
            raise GreenAPIError(
                f"Cannot reach Green API at {self.base_url} ({type(error).__name__}): check GREEN_API_URL "
                "and the network."
            ) from None
        if response.status_code != 200:
            message = _explain(method, response, self)
            logger.warning("Green API %s answered %s: %s", method, response.status_code, message)
            raise GreenAPIError(message, status=response.status_code)
        try:
            # The webhook's reader: an absurdly long number is absent, not a reason to refuse the body.
            return fields.loads(response.content)
        except ValueError:
            raise GreenAPIError(f"Green API answered {method} with something that is not JSON.") from None


def _media_host(base_url: str) -> str:
    """The console's mediaUrl beside its apiUrl: 7105.api.greenapi.com uploads to 7105.media.greenapi.com
    (REFERENCE §10); any other address (a local stand-in) takes uploads itself."""
    return re.sub(r"^(https?://(?:[^/.]+\.)?)api([.-])", r"\1media\2", base_url, count=1)


@dataclass(frozen=True)
class Received:
    """One item of the notification queue: `body` is the notification, as the webhook would get it."""

    receipt_id: int
    body: Any


def _explain(method: str, response: requests.Response, api: GreenAPI) -> str:
    status = response.status_code
    detail = _detail(response)
    if status == 401:
        return f"Green API refused the instance token (401): check GREEN_API_TOKEN. {detail}".strip()
    if status == 403:
        return (
            f"Green API does not know instance {api.id_instance} at {api.base_url} (403): check "
            f"GREEN_API_ID_INSTANCE and GREEN_API_URL. {detail}"
        ).strip()
    if status == 429:
        return f"Green API's rate limit for {method} was hit (429): wait a moment and try again."
    if status == 466:
        return f"Green API's quota is used up (466): {detail or 'change the plan in the console'}"
    if status == 400:
        return f"Green API rejected {method} (400): {detail or 'bad request'}"
    if status >= 500:
        return f"Green API failed on {method} ({status}); try again later. {detail}".strip()
    return f"Green API answered {method} with HTTP {status}. {detail}".strip()


def _detail(response: requests.Response) -> str:
    """The human part of Green API's error body: plain text, `{message}`, or the 466 quota object."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(body, dict):
        for key in ("invokeStatus", "correspondentsStatus"):
            if isinstance(body.get(key), dict) and body[key].get("description"):
                return str(body[key]["description"])[:300]
        for key in ("message", "description", "error"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:300]


# ---------------------------------------------------------------------------------------------
# What the CRM needs of an instance (REFERENCE §2, §10).

REQUIRED_NOTIFICATIONS = {
    "incomingWebhook": "incoming messages (incomingMessageReceived)",
    "outgoingMessageWebhook": "messages sent from the phone (outgoingMessageReceived)",
    "outgoingAPIMessageWebhook": "messages sent through the API (outgoingAPIMessageReceived)",
    "outgoingWebhook": "delivery statuses (outgoingMessageStatus)",
}
RECOMMENDED_NOTIFICATIONS = {
    "stateWebhook": "instance state changes (stateInstanceChanged)",
    "incomingCallWebhook": "incoming calls (incomingCall)",
    "editedMessageWebhook": "edited messages (editedMessage)",
    "deletedMessageWebhook": "deleted messages (deletedMessage)",
    "pollMessageWebhook": "polls (pollMessage, pollUpdateMessage)",
}


def expected_webhook_url() -> str:
    base = settings.PUBLIC_URL.rstrip("/")
    return f"{base}/whatsapp/webhook" if base else ""


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str


def instance_problems(*, state: str, instance_settings: dict, webhook_url: str) -> list[Problem]:
    """Everything about the instance that keeps the CRM from getting its notifications."""
    problems = []
    if state != "authorized":
        problems.append(
            Problem(
                f"instance state is {state or 'unknown'}, not authorized",
                "scan the QR code in Green API's console (or wait: starting/sleepMode recover in minutes)",
            )
        )
    actual_url = str(instance_settings.get("webhookUrl") or "")
    if settings.GREEN_API_RECEIVE == "poll":
        if actual_url:
            problems.append(
                Problem(
                    f"webhookUrl is {actual_url!r}: Green API posts there, and greenapi_receive "
                    "(GREEN_API_RECEIVE=poll) gets nothing while it is set",
                    "manage.py greenapi_configure --polling",
                )
            )
    elif webhook_url and actual_url != webhook_url:
        problems.append(
            Problem(
                f"webhookUrl is {actual_url or 'empty'!r}, not {webhook_url!r}",
                f"manage.py greenapi_configure --webhook-url {webhook_url}",
            )
        )
    elif not actual_url:
        problems.append(
            Problem(
                "webhookUrl is empty: Green API sends no notifications",
                "manage.py greenapi_configure --webhook-url https://<your-domain>/whatsapp/webhook, or receive "
                "without a public URL: GREEN_API_RECEIVE=poll and manage.py greenapi_configure --polling",
            )
        )
    ours = settings.GREEN_API_WEBHOOK_TOKEN
    theirs = str(instance_settings.get("webhookUrlToken") or "")
    if settings.GREEN_API_RECEIVE != "poll" and ours and not hmac.compare_digest(ours.encode(), theirs.encode()):
        problems.append(
            Problem(
                "webhookUrlToken differs from GREEN_API_WEBHOOK_TOKEN: every notification gets 401",
                "manage.py greenapi_configure (sets it to ours)",
            )
        )
    for key, what in REQUIRED_NOTIFICATIONS.items():
        if instance_settings.get(key) != "yes":
            problems.append(Problem(f"{key} is off: no {what}", f"manage.py greenapi_configure (turns {key} on)"))
    return problems


def token_status(instance_settings: dict) -> str:
    ours = settings.GREEN_API_WEBHOOK_TOKEN
    theirs = str(instance_settings.get("webhookUrlToken") or "")
    if not ours:
        return "not set here (GREEN_API_WEBHOOK_TOKEN): the webhook accepts anyone" + (
            "; Green API sends one" if theirs else ""
        )
    if not theirs:
        return "set here, not in Green API: every notification gets 401"
    return (
        "set, and matches ours" if hmac.compare_digest(ours.encode(), theirs.encode()) else "set, but differs from ours"
    )


def wanted_settings(webhook_url: str) -> dict:
    """What the CRM needs set; an empty `webhook_url` for polling (receiveNotification needs it so)."""
    wanted = {"webhookUrl": webhook_url}
    if webhook_url and settings.GREEN_API_WEBHOOK_TOKEN:
        wanted["webhookUrlToken"] = settings.GREEN_API_WEBHOOK_TOKEN
    for key in (*REQUIRED_NOTIFICATIONS, *RECOMMENDED_NOTIFICATIONS):
        wanted[key] = "yes"
    return wanted
