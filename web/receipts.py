"""Receipts for answers: an HMAC over the drawing, the answer and the model version, sent with every
answer of /predict, so that a correction can name only an answer this service really gave.

With one key shared by every replica (RECEIPT_KEY), a receipt from one is good at any other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

RECEIPT_HEADER = "X-Answer-Receipt"


class Receipts:
    def __init__(self, key: str):
        self.key = key.encode() if key else secrets.token_bytes(32)

    def sign(self, image: bytes, answer: bytes, model_version: str) -> str:
        message = b"\n".join([model_version.encode(), hashlib.sha256(image).digest(), hashlib.sha256(answer).digest()])
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def verify(self, receipt: str, image: bytes, answer: bytes, model_version: str) -> bool:
        return hmac.compare_digest(receipt.encode(), self.sign(image, answer, model_version).encode())
