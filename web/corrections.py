"""POST /corrections: what the person who drew it says a drawing really was.

The body is JSON: the drawing as sent to /predict (``image``, a data URL or base64), the answer
exactly as received (``answer``), its ``model_version`` and ``receipt`` (the X-Model-Version and
X-Answer-Receipt headers of that answer), and the ``correction``, digits only: as many as the
symbols found when the drawing was read as a number, else one to twelve. Anything else is a 4xx
with the reason and nothing stored; the per-address rate and the store's size are limited
(corrections/store.py).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from corrections.store import Limits, NewCorrection, StoreRefusal, add_correction, open_store
from handler.mnist_contract import MODEL_VERSION_HEADER
from handler.mnist_errors import BadInput
from handler.mnist_payload import JSON, json_document, request_from_json
from handler.mnist_segment import MAX_SYMBOLS
from web.canary import VERSION_NAME
from web.receipts import RECEIPT_HEADER, Receipts

DIGITS = re.compile(r"[0-9]{1,%d}" % MAX_SYMBOLS)
FIELDS = ("image", "answer", "model_version", "receipt", "correction")


def quote_of(image: bytes, answered: Response) -> dict:
    """What a correction of ``answered`` (a 200 of /predict for ``image``) quotes, as the page sends
    it: every field but the correction."""
    return {"image": "data:image/png;base64," + base64.b64encode(image).decode(),
            "answer": answered.get_data(as_text=True), "model_version": answered.headers[MODEL_VERSION_HEADER],
            "receipt": answered.headers[RECEIPT_HEADER]}


def text_field(document: dict, name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise BadInput(f'"{name}" is missing or not text (the body needs {", ".join(FIELDS)})')
    return value


def checked_correction(correction: str, answer: dict) -> str:
    """The correction, if it fits the answer: digits only, one per symbol found when the drawing was
    read as a number, and not the answer itself."""
    if not DIGITS.fullmatch(correction):
        raise BadInput(f'"correction" must be 1 to {MAX_SYMBOLS} digits, 0-9, and nothing else')
    symbols = answer.get("digits")
    if answer.get("is_digit") is True and isinstance(symbols, list):
        if len(correction) != len(symbols):
            raise BadInput(f"the drawing was read as {len(symbols)} symbol(s); type one digit for each "
                           f"(got {len(correction)})", 422)
        if correction == answer.get("number"):
            raise BadInput("the correction is what the model answered: nothing to correct", 422)
    return correction


class LazyStore:
    """The store, opened (and migrated) at the first correction, so /predict never waits on it."""

    def __init__(self, url: str):
        self.url, self.engine, self.lock = url, None, threading.Lock()

    def get(self) -> Engine:
        with self.lock:
            if self.engine is None:
                self.engine = open_store(self.url)
            return self.engine


def corrections_blueprint(settings: dict, receipts: Receipts) -> Blueprint:
    blueprint = Blueprint("corrections", __name__)
    store = LazyStore(settings["DATABASE_URL"])
    limits = Limits(settings["CORRECTIONS_PER_CLIENT_HOUR"], settings["CORRECTIONS_MAX_STORED"])

    @blueprint.post("/corrections")
    def correct():
        if request.mimetype != JSON:
            raise BadInput("send the correction as application/json", 415)
        document = json_document(request.get_data())
        if not isinstance(document, dict):
            raise BadInput(f"the body must be a JSON object with {', '.join(FIELDS)}")
        image = request_from_json(document).image
        answer_text = text_field(document, "answer").encode()
        version, receipt = text_field(document, "model_version"), text_field(document, "receipt")
        image_limit, answer_limit = settings["CORRECTION_MAX_IMAGE_BYTES"], settings["CORRECTION_MAX_ANSWER_BYTES"]
        if len(image) > image_limit or len(answer_text) > answer_limit:
            raise BadInput(f"corrections are kept for drawings up to {image_limit:,} bytes "
                           f"with answers up to {answer_limit:,}", 413)
        if not VERSION_NAME.fullmatch(version) or not receipts.verify(receipt, image, answer_text, version):
            raise BadInput("the receipt does not match this drawing, answer and model version "
                           "(send them exactly as /predict gave them)", 403)
        answer = json.loads(answer_text)  # it was signed, so it is the JSON object the service sent
        correction = checked_correction(text_field(document, "correction"), answer)
        try:
            stored = add_correction(store.get(), NewCorrection(image, answer_text.decode(), version, correction,
                                                               request.remote_addr or ""), limits)
        except StoreRefusal as refusal:
            return jsonify(error=str(refusal)), refusal.status
        except SQLAlchemyError:
            logging.getLogger(__name__).exception("the corrections store failed")
            return jsonify(error="the corrections store is not reachable; nothing was kept"), 503
        return jsonify(id=stored, status="pending", kept=list(FIELDS[:4]) + ["time", "salted address hash"]), 201

    return blueprint
