"""The one parser of request bodies: a request in, the encoded image bytes (and what else the
client asked) out. The TorchServe handler and the web front both read requests with it, so a body
gets the same answer, or the same refusal, from either.

TorchServe hands the handler one dict per request: the raw body under ``body`` or ``data``
(bytes, or already-parsed JSON for ``application/json``, or text for ``text/*``) and each form
field under its own name; query parameters do not reach the handler. The web front builds the same
dict: ``parse_body`` decodes a whole body as TorchServe's worker does, and a multipart form's fields
go to ``parse_request`` by name. The 28x28 preview is asked for with a form field ``preview=true``
or ``"preview": true`` in JSON. The image itself may be raw bytes, base64 (standard or URL-safe,
padded or not), or a ``data:image/...;base64,`` URL (scheme and type in any case, RFC 2397).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, replace

from handler.mnist_errors import BadInput
from handler.mnist_preprocess import MAX_IMAGE_BYTES

IMAGE_FIELDS = ("image", "data", "file", "body")
JSON_IMAGE_KEYS = ("image", "data")
MAX_BASE64_CHARS = (MAX_IMAGE_BYTES * 4) // 3 + 4
DATA_URL = re.compile(rb"^data:[\w.+-]+/[\w.+-]+(;[\w=.+-]+)*;base64,", re.IGNORECASE)
BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s_-]+$")
URL_SAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
TRUE_WORDS = {"1", "true", "yes", "on"}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# What a urlencoded form body, or text, is made of; any other byte means the body is binary (an image).
TEXT_BYTES = re.compile(rb"[\t\n\r\x20-\x7e]*")
IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*")


@dataclass(frozen=True)
class ImageRequest:
    image: bytes
    want_preview: bool = False
    target: int | None = None  # the digit to explain, when the client names one (else the model's choice)


def as_bytes(value) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            raise BadInput("the text holds a lone UTF-16 surrogate (such as \\ud800), so it is neither "
                           "base64 nor a data URL") from None
    raise BadInput(f"expected an image, base64 text or a data URL, got JSON {type(value).__name__}")


def decode_text_image(value: bytes) -> bytes:
    """Raw image bytes stay as they are; a data URL or base64 text is decoded.

    Text that is neither is passed on unchanged, for the image decoder to say what it is not.
    """
    if value.startswith(IMAGE_SIGNATURES):
        return value
    stripped = value.strip()
    match = DATA_URL.match(stripped)
    if match:
        stripped = stripped[match.end():]
    elif not BASE64_TEXT.match(stripped[:4096]):
        return value
    stripped = re.sub(rb"\s+", b"", stripped)
    if len(stripped) > MAX_BASE64_CHARS:
        raise BadInput(f"the base64 image is {len(stripped):,} characters; the limit is {MAX_BASE64_CHARS:,}",
                       status=413)
    padded = stripped + b"=" * (-len(stripped) % 4)
    try:
        # Strictly the alphabet: the lenient decoder skips other bytes, and "@@@" became an empty image.
        return base64.b64decode(padded.translate(URL_SAFE_TO_STANDARD), validate=True)
    except (binascii.Error, ValueError):
        if match:
            raise BadInput("the data URL does not hold valid base64") from None
        return value


def digit_target(value) -> int | None:
    """The digit a client asks to have explained: 0-9 as a JSON number or as text; None if absent."""
    if value is None or value in ("", b""):
        return None
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, (str, bytes, bytearray)):
        text = as_bytes(value).decode("utf-8", "replace").strip()
    if text is None or len(text) != 1 or text not in "0123456789":
        raise BadInput('"target" must be one digit, 0-9 (the digit to explain)')
    return int(text)


def request_from_json(document) -> ImageRequest:
    if not isinstance(document, dict):
        raise BadInput('JSON body must be an object such as {"image": "data:image/png;base64,..."}')
    for key in JSON_IMAGE_KEYS:
        if key in document:
            if not isinstance(document[key], str):
                raise BadInput(f'JSON field "{key}" must be a base64 string or a data URL')
            return ImageRequest(decode_text_image(as_bytes(document[key])), document.get("preview") is True,
                                digit_target(document.get("target")))
    raise BadInput('JSON body needs an "image" (or "data") field holding base64 or a data URL')


def parse_request(row: dict) -> ImageRequest:
    """The image and options of one request row; raises ``BadInput`` with a client-facing reason.
    Options come as form fields (``preview``, ``target``) or as JSON fields beside the image."""
    field = next((name for name in IMAGE_FIELDS if name in row), None)
    if field is None:
        raise BadInput(f"no image in the request (send it as the body or a multipart field named "
                       f"{', '.join(IMAGE_FIELDS[:3])})")
    value = row[field]
    form = ImageRequest(b"", as_bytes(row.get("preview", b"")).decode("utf-8", "replace").strip().lower() in TRUE_WORDS,
                        digit_target(row.get("target")))
    if isinstance(value, (dict, list)):
        return with_form_options(request_from_json(value), form)
    raw = as_bytes(value)
    if raw.lstrip()[:1] in (b"{", b"["):
        return with_form_options(request_from_json(json_document(raw)), form)
    if not raw:
        raise BadInput("the request body is empty: send a PNG or JPEG image")
    return replace(form, image=decode_text_image(raw))


def json_document(raw: bytes):
    """``raw`` parsed as JSON; ``BadInput`` with the reason when it is not UTF-8 JSON or nests too deeply."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("the body is not valid UTF-8 JSON") from None
    except RecursionError:
        raise BadInput("the JSON is nested too deeply; send {\"image\": \"data:image/png;base64,...\"}") from None


def with_form_options(request: ImageRequest, form: ImageRequest) -> ImageRequest:
    return replace(request, want_preview=request.want_preview or form.want_preview,
                   target=form.target if request.target is None else request.target)


def decoded_like_torchserve(body: bytes, content_type: str):
    """The value TorchServe's worker hands a handler for a whole body: parsed JSON for exactly
    ``application/json``, text for ``text/*``, else (or when that fails) the bytes."""
    try:
        if content_type == JSON:
            return json.loads(body.decode("utf-8"))
        if content_type.startswith("text"):
            return body.decode("utf-8")
    except (UnicodeDecodeError, ValueError, RecursionError):
        pass
    return body


def parse_body(body: bytes, content_type: str) -> ImageRequest:
    """A whole body that is not a multipart form, as TorchServe would read it.

    One difference, because TorchServe splits a urlencoded form into fields before its worker and
    this parser does not: a urlencoded text body is refused unread (a million empty fields cost
    nothing), while a binary body labelled urlencoded is the image itself (what ``curl
    --data-binary @digit.png`` sends).
    """
    mimetype = content_type.partition(";")[0].strip().lower()
    if mimetype == FORM and TEXT_BYTES.fullmatch(body):
        raise BadInput("the form has no file: send the drawing as a multipart file field named image, "
                       "or the image itself as the body (form fields are not read)")
    return parse_request({"body": decoded_like_torchserve(body, content_type)})
