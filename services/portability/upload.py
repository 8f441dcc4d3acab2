"""Reading an uploaded file from a request: a multipart field `file`, or the
raw body. The size limit holds while reading, before anything is parsed."""

from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from services.errors import InvalidInput
from services.portability.errors import ImportTooLarge
from services.portability.importing.drafts import MAX_BYTES

# Room for multipart boundaries and part headers around the file itself.
ENVELOPE = 64 * 1024
FIELD = "file"


@dataclass(frozen=True, slots=True)
class Upload:
    content: bytes
    media_type: str | None
    filename: str | None


def _too_large() -> ImportTooLarge:
    return ImportTooLarge(f"the file is over {MAX_BYTES // (1024 * 1024)} MB: split it")


async def read_upload(request: Request) -> Upload:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES + ENVELOPE:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BYTES + ENVELOPE:
            raise _too_large()
    media_type = request.headers.get("content-type")
    if (media_type or "").lower().startswith("multipart/form-data"):
        upload = await _from_form(request, bytes(body))
    else:
        upload = Upload(bytes(body), media_type, None)
    if len(upload.content) > MAX_BYTES:
        raise _too_large()
    return upload


async def _from_form(request: Request, body: bytes) -> Upload:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    try:
        part = form.get(FIELD)
        if not isinstance(part, UploadFile):
            raise InvalidInput(FIELD, "send the file as the multipart field `file`, or as the body")
        return Upload(await part.read(), part.content_type, part.filename)
    finally:
        await form.close()


__all__ = ["Upload", "read_upload"]
