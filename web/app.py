"""The Flask front: a drawing page, and /predict that forwards the canvas PNG to TorchServe."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from web.config import load_config
from web.observability import install_observability
from web.torchserve_client import TorchServeClient

JSON = "application/json"
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class BadUpload(Exception):
    """The request holds no image the web front can forward; ``status`` is the HTTP status to send."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# ?preview=1 asks for the 28x28 images the model saw (the page asks once the pen lifts, not while it moves).
TRUE_WORDS = {"1", "true", "yes", "on"}
# What a urlencoded form body, or text, is made of; any other byte means the body is binary (an image).
TEXT_BYTES = re.compile(rb"[\t\n\r\x20-\x7e]*")


def image_from_form(body: bytes) -> bytes:
    """The first file of a multipart form; a raw image mislabelled as multipart is taken as it is."""
    try:
        files = request.files
    except RequestEntityTooLarge:
        # werkzeug says only "too large" for both of its form limits; count the parts to say which.
        boundary = request.mimetype_params.get("boundary", "").encode("latin-1", "replace")
        parts = body.count(b"--" + boundary) - 1 if boundary else 0
        if parts > request.max_form_parts:
            raise BadUpload(f"the form has {parts:,} parts; the limit is {request.max_form_parts:,} "
                            "(send the drawing as one file field named image)", 413) from None
        raise BadUpload(f"a text field of the form is over {request.max_form_memory_size:,} bytes "
                        "(send the image as a file field named image, not as text)", 413) from None
    if files:
        upload = files.get("image") or files.get("data") or next(iter(files.values()))
        return upload.read()
    if body and not TEXT_BYTES.fullmatch(body):
        return body
    raise BadUpload("the form has no file: send the drawing as a file field named image")


def image_from_json(body: bytes) -> bytes:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise BadUpload('the body is not valid JSON: send {"image": "data:image/png;base64,..."}') from None
    text = document.get("image") if isinstance(document, dict) else None
    if not isinstance(text, str):
        raise BadUpload('JSON must be {"image": "data:image/png;base64,..."}')
    if text.startswith("data:"):
        _, comma, text = text.partition(",")
        if not comma:
            raise BadUpload('the data URL has no comma: it must look like "data:image/png;base64,iVBOR..."')
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadUpload("the image in the JSON is not valid base64") from None


def image_from_request() -> bytes:
    """The image bytes from a multipart file, JSON with a data URL / base64, or a raw body.

    The body is read as bytes first, so no parser sees what it was not meant for: a raw image is
    forwarded whatever its Content-Type says (curl --data-binary labels it urlencoded), and a
    urlencoded form is refused without being parsed (a million empty fields cost nothing here).
    """
    body = request.get_data(cache=True)
    if request.mimetype == "multipart/form-data":
        return image_from_form(body)
    binary = not TEXT_BYTES.fullmatch(body)
    if body.lstrip()[:1] in (b"{", b"[") or (request.is_json and not binary):
        return image_from_json(body)
    if request.mimetype == "application/x-www-form-urlencoded" and not binary:
        raise BadUpload("the form has no file: send the drawing as a multipart file field named image, "
                        "or the image itself as the body (form fields are not read)")
    return body


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    settings = load_config(config)
    app.config.update(settings, MAX_CONTENT_LENGTH=settings["MAX_UPLOAD_BYTES"])
    client = TorchServeClient(settings["TORCHSERVE_INFERENCE_URL"], settings["TORCHSERVE_MANAGEMENT_URL"],
                              settings["MODEL_NAME"], settings["REQUEST_TIMEOUT_S"], settings["WEB_THREADS"])
    install_observability(app, client)

    @app.get("/")
    def page():
        return render_template("index.html")

    @app.post("/predict")
    def predict():
        try:
            image = image_from_request()
        except BadUpload as error:
            return jsonify(error=str(error)), error.status
        if not image:
            return jsonify(error="no image received: draw a digit first"), 400
        answer = client.predict(image, want_preview=request.args.get("preview", "").lower() in TRUE_WORDS)
        return Response(answer.body, answer.status, mimetype=JSON)

    @app.get("/healthz")
    def healthz():
        answer = client.health()
        return Response(answer.body, answer.status, mimetype=JSON)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {413: f"the upload is over {settings['MAX_UPLOAD_BYTES']:,} bytes"}
        # The error's own headers matter (a 405 must say which methods are allowed); its body is ours.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return jsonify(error=messages.get(error.code, error.description)), error.code, headers

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        logging.getLogger(__name__).exception("unexpected error")
        return jsonify(error="internal error in the web front"), 500

    @app.after_request
    def security_headers(response):
        response.headers.update(SECURITY_HEADERS)
        return response

    return app
