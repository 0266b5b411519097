"""The Flask front: a drawing page, and /predict that forwards the canvas PNG to TorchServe."""

from __future__ import annotations

import base64
import binascii
import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from web.config import load_config
from web.torchserve_client import TorchServeClient

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
    pass


def image_from_request() -> bytes:
    """The image bytes from a multipart file, a raw image body, or JSON with a data URL / base64."""
    if request.files:
        upload = request.files.get("image") or request.files.get("data") or next(iter(request.files.values()))
        return upload.read()
    if request.is_json:
        document = request.get_json(silent=True)
        text = document.get("image") if isinstance(document, dict) else None
        if not isinstance(text, str):
            raise BadUpload('JSON must be {"image": "data:image/png;base64,..."}')
        encoded = text.split(",", 1)[1] if text.startswith("data:") else text
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise BadUpload("the image in the JSON is not valid base64") from None
    if request.form:
        raise BadUpload("the form has no file: send the drawing as a file field named image")
    return request.get_data()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    settings = load_config(config)
    app.config.update(settings, MAX_CONTENT_LENGTH=settings["MAX_UPLOAD_BYTES"])
    client = TorchServeClient(settings["TORCHSERVE_INFERENCE_URL"], settings["TORCHSERVE_MANAGEMENT_URL"],
                              settings["MODEL_NAME"], settings["REQUEST_TIMEOUT_S"], settings["WEB_THREADS"])

    @app.get("/")
    def page():
        return render_template("index.html")

    @app.post("/predict")
    def predict():
        try:
            image = image_from_request()
        except BadUpload as error:
            return jsonify(error=str(error)), 400
        if not image:
            return jsonify(error="no image received: draw a digit first"), 400
        answer = client.predict(image)
        return jsonify(answer.body), answer.status

    @app.get("/healthz")
    def healthz():
        answer = client.health()
        return jsonify(answer.body), answer.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {413: f"the upload is over {settings['MAX_UPLOAD_BYTES']:,} bytes"}
        return jsonify(error=messages.get(error.code, error.description)), error.code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        logging.getLogger(__name__).exception("unexpected error")
        return jsonify(error="internal error in the web front"), 500

    @app.after_request
    def security_headers(response):
        response.headers.update(SECURITY_HEADERS)
        return response

    return app
