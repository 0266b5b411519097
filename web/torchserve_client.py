"""Calls from the web front to TorchServe: a pooled urllib3 client, timeouts, and errors a person understands.

urllib3 rather than requests: the same pooled connections at about 0.4 ms less per call (measured
through the web front, docs/BENCHMARKS.md), which is CPU the front, the busiest process at load,
keeps for answering. A 200 answer is passed on as TorchServe wrote it, once checked to be a JSON object.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol
from urllib.parse import quote

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as UpstreamTimeout

from handler.mnist_contract import MODEL_VERSION_HEADER

# What the multipart form around a forwarded image adds to it (a few hundred bytes), with room to spare.
FORWARD_ENVELOPE_BYTES = 1024


@dataclass
class Upstream:
    status: int
    body: bytes  # a JSON object
    model_version: str | None = None  # the version of the model that answered (a 200 from TorchServe)

    @classmethod
    def of(cls, http_status: int, **fields) -> Upstream:
        return cls(http_status, json.dumps(fields).encode())


class CallObserver(Protocol):
    """Told of every call (web/observability.py): headers to add, then how long it took and how it failed."""

    def headers(self) -> dict[str, str]: ...

    def record(self, call: str, seconds: float, error_kind: str | None) -> None: ...


def failure_kind(error: HTTPError) -> str:
    """"timeout" or "unreachable". urllib3's refused connection (NewConnectionError) is, for
    history's sake, a subclass of its connect timeout."""
    if isinstance(error, UpstreamTimeout) and not isinstance(error, NewConnectionError):
        return "timeout"
    return "unreachable"


def json_object(data: bytes) -> dict | None:
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class TorchServeClient:
    def __init__(self, inference_url: str, management_url: str, model_name: str, timeout_s: float,
                 pool_size: int):
        self.predict_url = f"{inference_url.rstrip('/')}/predictions/{model_name}"
        self.explain_url = f"{inference_url.rstrip('/')}/explanations/{model_name}"
        self.model_url = f"{management_url.rstrip('/')}/models/{model_name}"
        self.timeout_s = timeout_s
        # One pool per API (inference, management), each up to one connection per web front thread.
        self.pool = urllib3.PoolManager(num_pools=2, maxsize=pool_size, retries=False,
                                        timeout=urllib3.Timeout(total=timeout_s))
        self.observer: CallObserver | None = None

    def predict(self, image: bytes, want_preview: bool, version: str | None = None) -> Upstream:
        """Forward the image as it came, as the body; with ``want_preview`` as a form whose
        ``preview`` field asks for the 28x28 images the model saw (the only way to pass an option
        with the image: query parameters do not reach the handler). ``version``: that version of
        the model rather than TorchServe's default one."""
        url = self.predict_url if version is None else f"{self.predict_url}/{quote(version, safe='')}"
        return self._inference("predict", url, image, {"preview": "true"} if want_preview else {})

    def explain(self, image: bytes, target: int | None) -> Upstream:
        """The prediction with each symbol's explanation, from TorchServe's /explanations; ``target``
        names the digit to explain instead of the model's choice."""
        return self._inference("explain", self.explain_url, image, {} if target is None else {"target": str(target)})

    def _inference(self, call: str, url: str, image: bytes, options: dict[str, str]) -> Upstream:
        if options:
            sent = {"fields": {"data": ("image", image, "application/octet-stream"), **options}}
        else:
            sent = {"body": image, "headers": {"Content-Type": "application/octet-stream"}}
        try:
            response = self._send(call, "POST", url, **sent)
        except HTTPError as error:
            if failure_kind(error) == "timeout":
                return Upstream.of(504, error=f"the model server did not answer within {self.timeout_s:g} s")
            return Upstream.of(503, error="the model server is not reachable")
        if response.status >= 500:
            return Upstream.of(503, error=f"the model server failed to answer (HTTP {response.status})")
        body = json_object(response.data)
        if response.status >= 400:
            # TorchServe's frontend answers some refusals (413 over max_request_size) with no body.
            known = body or {}
            reason = known.get("error") or known.get("message") or HTTPStatus(response.status).phrase.lower()
            return Upstream.of(response.status, error=reason)
        if body is None:
            return Upstream.of(503, error="the model server sent an unreadable answer")
        return Upstream(200, response.data, response.headers.get(MODEL_VERSION_HEADER))

    def health(self) -> Upstream:
        """200 when the model has at least one READY worker, else 503 with the reason."""
        try:
            response = self._send("health", "GET", self.model_url)
            if response.status != 200:
                raise ValueError(response.status)
            workers = [worker["status"] for model in json.loads(response.data) for worker in model.get("workers", [])]
        except (HTTPError, ValueError, KeyError, TypeError, AttributeError):
            return Upstream.of(503, status="unavailable", reason="the model server is not reachable")
        ready = workers.count("READY")
        if not ready:
            return Upstream.of(503, status="unavailable", reason="the model has no READY worker", workers=workers)
        return Upstream.of(200, status="ok", ready_workers=ready, workers=len(workers))

    def _send(self, call: str, method: str, url: str, **kwargs) -> urllib3.BaseHTTPResponse:
        """One request to TorchServe, reported to the observer as a timeout, unreachable, 5xx or fine."""
        headers = {**kwargs.pop("headers", {}), **(self.observer.headers() if self.observer else {})}
        error_kind = None
        started = time.perf_counter()
        try:
            response = self.pool.request(method, url, headers=headers, **kwargs)
            if response.status >= 500:
                error_kind = "5xx"
            return response
        except HTTPError as error:
            error_kind = failure_kind(error)
            raise
        finally:
            if self.observer:
                self.observer.record(call, time.perf_counter() - started, error_kind)
