"""The Flask front: a drawing page, /predict and /explain, which forward the drawing to TorchServe."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from handler.mnist_contract import MODEL_VERSION_HEADER
from handler.mnist_errors import BadInput
from handler.mnist_payload import JSON, TEXT_BYTES, TRUE_WORDS, ImageRequest, digit_target, parse_body, parse_request
from handler.mnist_shrink import boxes_scaled, shrunk_to_fit
from web.canary import Canary
from web.config import load_config
from web.corrections import corrections_blueprint
from web.observability import install_observability
from web.receipts import RECEIPT_HEADER, Receipts
from web.torchserve_client import FORWARD_ENVELOPE_BYTES, TorchServeClient

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def upload_too_large(limit: int) -> str:
    """What a body over the upload limit is told, by the app and by waitress alike (web/serve.py)."""
    return f"the upload is over {limit:,} bytes"


def form_fields(body: bytes) -> dict:
    """A multipart form's fields by name, as TorchServe hands them to its handler; a raw image
    mislabelled as multipart is taken as the body."""
    try:
        files, form = request.files, request.form
    except RequestEntityTooLarge:
        # werkzeug says only "too large" for both of its form limits; count the parts to say which.
        boundary = request.mimetype_params.get("boundary", "").encode("latin-1", "replace")
        parts = body.count(b"--" + boundary) - 1 if boundary else 0
        if parts > request.max_form_parts:
            raise BadInput(f"the form has {parts:,} parts; the limit is {request.max_form_parts:,} "
                           "(send the drawing as one file field named image)", 413) from None
        raise BadInput(f"a text field of the form is over {request.max_form_memory_size:,} bytes "
                       "(send the image as a file field named image, not as text)", 413) from None
    fields: dict = dict(form.items())
    fields.update((name, upload.read()) for name, upload in files.items())
    if not fields and body and not TEXT_BYTES.fullmatch(body):
        return {"body": body}
    return fields


def image_request() -> ImageRequest:
    """The image and options of this request, read by the handler's own parser.

    The body is read as bytes first, so no parser sees what it was not meant for: a raw image is
    read whatever its Content-Type says, and a urlencoded form is refused without being parsed.
    """
    body = request.get_data(cache=True)
    if request.mimetype == "multipart/form-data":
        return parse_request(form_fields(body))
    return parse_body(body, request.content_type or "")


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    settings = load_config(config)
    app.config.update(settings, MAX_CONTENT_LENGTH=settings["MAX_UPLOAD_BYTES"])
    client = TorchServeClient(settings["TORCHSERVE_INFERENCE_URL"], settings["TORCHSERVE_MANAGEMENT_URL"],
                              settings["MODEL_NAME"], settings["REQUEST_TIMEOUT_S"], settings["WEB_THREADS"])
    install_observability(app, client)
    receipts = Receipts(settings["RECEIPT_KEY"])
    canary = Canary(settings["CANARY_VERSION"], settings["CANARY_SHARE"])
    app.register_blueprint(corrections_blueprint(settings, receipts))
    # Larger images are shrunk to fit TorchServe's request limit (config.properties) before forwarding.
    forward_limit = settings["TORCHSERVE_MAX_REQUEST_BYTES"] - FORWARD_ENVELOPE_BYTES

    @app.get("/")
    def page():
        return render_template("index.html")

    def forwarded(sent: ImageRequest, call) -> Response:
        """``call(image)`` on TorchServe with the image made to fit its request limit, and the
        answer's boxes given back in the client's pixels, with the version of the model that gave it."""
        image, factors = sent.image, None
        if len(image) > forward_limit:
            image, factors = shrunk_to_fit(image, forward_limit)
        answer = call(image)
        if factors and answer.status == 200:
            response = jsonify(boxes_scaled(json.loads(answer.body), factors))
        else:
            response = Response(answer.body, answer.status, mimetype=JSON)
        if answer.model_version:
            response.headers[MODEL_VERSION_HEADER] = answer.model_version
        return response

    @app.post("/predict")
    def predict():
        sent = image_request()
        # ?preview=1 asks for the 28x28 images the model saw (the page asks once the pen lifts, not while it moves).
        want_preview = sent.want_preview or request.args.get("preview", "").lower() in TRUE_WORDS
        version = canary.pick()
        response = forwarded(sent, lambda image: client.predict(image, want_preview=want_preview, version=version))
        if response.status_code == 200 and MODEL_VERSION_HEADER in response.headers:
            # What a correction of this answer must quote (web/corrections.py).
            response.headers[RECEIPT_HEADER] = receipts.sign(sent.image, response.get_data(),
                                                             response.headers[MODEL_VERSION_HEADER])
        return response

    @app.post("/explain")
    def explain():
        """Which ink made the model decide, per symbol (handler/mnist_explain.py); ``?target=4``
        (or a ``target`` field) explains that digit instead of the model's choice."""
        sent = image_request()
        target = sent.target if sent.target is not None else digit_target(request.args.get("target"))
        return forwarded(sent, lambda image: client.explain(image, target))

    @app.errorhandler(BadInput)
    def bad_input(error: BadInput):
        return jsonify(error=str(error)), error.status

    @app.get("/healthz")
    def healthz():
        answer = client.health()
        return Response(answer.body, answer.status, mimetype=JSON)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {413: upload_too_large(settings["MAX_UPLOAD_BYTES"])}
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
