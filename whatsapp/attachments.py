"""A file staff send (the admin's reply box, POST /whatsapp/messages), checked before anything is
written or sent: not empty, at most MEDIA_MAX_BYTES, not a program, with a name Green API accepts.

The type is read from the file's bytes (whatsapp.media.sniff), as for files we receive.
"""

import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from whatsapp.media import sniff

# Programs and scripts: WhatsApp refuses some, and a CRM has no reason to pass any of them on.
REFUSED_EXTENSIONS = frozenset(
    ".exe .msi .bat .cmd .com .scr .pif .cpl .dll .sys .vbs .vbe .js .jse .wsf .wsh .ps1 .psm1 .hta .reg "
    ".lnk .jar .apk .app .sh .bash .elf .bin .run".split()
)
# Their signatures: Windows (MZ), Linux (ELF), macOS (Mach-O, fat binaries), scripts (#!).
_PROGRAM_SIGNATURES = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"#!")
# How Green API's message types follow from the file's type; anything else goes as a document.
_MESSAGE_TYPES = {"image": "imageMessage", "video": "videoMessage", "audio": "audioMessage"}
MAX_NAME = 255


@dataclass(frozen=True)
class Attachment:
    """A checked file: an upload (`file`) or a link Green API fetches (`url`)."""

    file_name: str
    content_type: str
    file: UploadedFile | None = None
    url: str = ""

    @property
    def type_message(self) -> str:
        return _MESSAGE_TYPES.get(self.content_type.split("/")[0], "documentMessage")


class SizeLimitedUpload(FileUploadHandler):
    """Stops keeping an upload once it passes MEDIA_MAX_BYTES, first of FILE_UPLOAD_HANDLERS.

    The admin's CSRF check reads the form before any view runs, so without this a file of any size
    would be written to a temporary file first. The view finds `request.upload_refused` instead.
    """

    def new_file(self, *args: object, **kwargs: object) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.MEDIA_MAX_BYTES:
            self.request.upload_refused = (
                f"The file is over MEDIA_MAX_BYTES ({settings.MEDIA_MAX_BYTES} bytes): not sent."
            )
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler keeps the file


def attachment_checked(*, upload: UploadedFile | None = None, url: str = "", file_name: str = "") -> Attachment:
    """The file as it will be sent; ValueError saying what is wrong with it."""
    if upload is not None:
        return _upload_checked(upload, file_name or upload.name or "")
    return _url_checked(url, file_name)


def _upload_checked(upload: UploadedFile, file_name: str) -> Attachment:
    if not upload.size:
        raise ValueError("The file is empty.")
    if upload.size > settings.MEDIA_MAX_BYTES:
        raise ValueError(f"The file has {upload.size} bytes, over MEDIA_MAX_BYTES ({settings.MEDIA_MAX_BYTES}).")
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    if head.startswith(_PROGRAM_SIGNATURES):
        raise ValueError("Programs and scripts are not sent.")
    content_type, extension = sniff(head, upload.content_type or "")
    name = _name_checked(file_name, extension)
    return Attachment(name, content_type or "application/octet-stream", file=upload)


def _url_checked(url: str, file_name: str) -> Attachment:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("The file's link must be an http or https address.")
    name = _name_checked(file_name or unquote(PurePosixPath(parts.path).name), "")
    # Green API fetches it, and our worker keeps a copy; until then the name is all there is.
    guessed, _ = mimetypes.guess_type(name)
    return Attachment(name, guessed or "application/octet-stream", url=url.strip())


def _name_checked(file_name: str, extension: str) -> str:
    """The sender's name without folders or control characters, with an extension (Green API
    picks how to show a file by it); a program's name is refused."""
    name = PurePosixPath(file_name.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip() or "file"
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in REFUSED_EXTENSIONS:
        raise ValueError(f"Files ending {suffix} (programs and scripts) are not sent.")
    if not re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) and extension:
        name += extension
    if len(name) > MAX_NAME:
        stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
        name = stem[: MAX_NAME - len(suffix)] + suffix
    return name
