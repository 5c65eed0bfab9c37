"""The OpenAPI schema's shared answers (403, 429), and the webhook.

The webhook is a plain Django view (it reads the raw body itself, see STYLE.md), so
drf-spectacular cannot see it; this hook describes it exactly, as the README's table does.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from crm.api import ErrorSerializer


def forbidden(permission: str) -> OpenApiResponse:
    """The 403 of a view whose `required_permission` is `permission` (crm.permissions)."""
    return OpenApiResponse(ErrorSerializer, description=f"The user lacks the permission {permission}")


TOO_MANY = OpenApiResponse(ErrorSerializer, description="Too many requests: try again after Retry-After seconds")
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    required=True,
    response=[429],
    description="Seconds until the next request is allowed",
)

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
_RECEIPT = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok"]},
        "notificationId": {"type": "integer"},
        "outcome": {"type": "string", "enum": ["processed", "ignored", "failed", "waiting"]},
        "detail": {"type": "string"},
        "duplicate": {"type": "boolean"},
    },
    "required": ["status", "notificationId", "outcome", "detail", "duplicate"],
}


def _error(description: str, **headers: dict) -> dict:
    answer: dict = {"description": description, "content": {"application/json": {"schema": _ERROR}}}
    if headers:
        answer["headers"] = headers
    return answer


WEBHOOK = {
    "post": {
        "operationId": "whatsapp_webhook",
        "summary": "Receive a Green API notification",
        "description": (
            "Every Green API notification (any typeWebhook). 200 once it is committed, whatever its "
            "content; see the README's table 'What the webhook answers'."
        ),
        "tags": ["whatsapp"],
        "security": [{"webhookToken": []}, {}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
        },
        "responses": {
            "200": {"description": "Kept", "content": {"application/json": {"schema": _RECEIPT}}},
            "400": _error("Not a JSON object"),
            "401": _error("Missing or wrong webhook token"),
            "413": _error("Body too large"),
            "503": _error(
                "Database unavailable; Green API delivers it again",
                **{"Retry-After": {"schema": {"type": "integer"}}},
            ),
        },
    }
}


_BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
# A plain Django view too (whatsapp/media_views.py): the admin's session or the API's token.
MEDIA = {
    "get": {
        "operationId": "whatsapp_media_file",
        "summary": "A message's kept file (the `url` of its `media`)",
        "description": (
            "The file's bytes as they were kept, typed by their content; pictures, sounds and videos "
            "inline, anything else as an attachment. One byte range (`Range: bytes=…`) is answered 206."
        ),
        "tags": ["whatsapp"],
        "security": [{"jwtAuth": []}, {}],  # or the admin's session cookie
        "parameters": [
            {"name": "mediaId", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}},
            {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "The file", "content": _BYTES},
            "206": {"description": "The bytes of the range asked for", "content": _BYTES},
            "302": {"description": "No token and no admin session: to the admin's login page"},
            "401": {
                "description": "Invalid access token",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
            "403": {"description": "The user lacks the permission whatsapp.view_message"},
            "404": {"description": "No stored file with this id"},
            "416": {"description": "The range starts past the end of the file"},
            "503": {"description": "The file storage cannot be reached"},
        },
    }
}


def add_webhook(result: dict, generator: object, request: object, public: bool) -> dict:
    result.setdefault("paths", {})["/whatsapp/webhook"] = WEBHOOK
    result["paths"]["/whatsapp/media/{mediaId}"] = MEDIA
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["webhookToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "GREEN_API_WEBHOOK_TOKEN, sent by Green API as webhookUrlToken (only when set)",
    }
    return result
