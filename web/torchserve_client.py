"""Calls from the web front to TorchServe: a pooled session, timeouts, and errors a person understands."""

from __future__ import annotations

import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

import requests
from requests.adapters import HTTPAdapter


@dataclass
class Upstream:
    status: int
    body: dict


class CallObserver(Protocol):
    """Told of every call (web/observability.py): headers to add, then how long it took and how it failed."""

    def headers(self) -> dict[str, str]: ...

    def record(self, call: str, seconds: float, error_kind: str | None) -> None: ...


class TorchServeClient:
    def __init__(self, inference_url: str, management_url: str, model_name: str, timeout_s: float,
                 pool_size: int):
        self.predict_url = f"{inference_url.rstrip('/')}/predictions/{model_name}"
        self.model_url = f"{management_url.rstrip('/')}/models/{model_name}"
        self.timeout_s = timeout_s
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.observer: CallObserver | None = None

    def predict(self, image: bytes, want_preview: bool) -> Upstream:
        """Forward the image as it came, as the body; with ``want_preview`` as a form whose
        ``preview`` field asks for the 28x28 images the model saw (the only way to pass an option
        with the image: query parameters do not reach the handler)."""
        if want_preview:
            sent = {"files": {"data": ("image", image, "application/octet-stream")}, "data": {"preview": "true"}}
        else:
            sent = {"data": image, "headers": {"Content-Type": "application/octet-stream"}}
        try:
            response = self._send("predict", "POST", self.predict_url, **sent)
        except requests.Timeout:
            return Upstream(504, {"error": f"the model server did not answer within {self.timeout_s:g} s"})
        except requests.RequestException:
            return Upstream(503, {"error": "the model server is not reachable"})
        if response.status_code >= 500:
            return Upstream(503, {"error": f"the model server failed to answer (HTTP {response.status_code})"})
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            # TorchServe's frontend answers some refusals (413 over max_request_size) with no body.
            known = body if isinstance(body, dict) else {}
            reason = known.get("error") or known.get("message") or HTTPStatus(response.status_code).phrase.lower()
            return Upstream(response.status_code, {"error": reason})
        if not isinstance(body, dict):
            return Upstream(503, {"error": "the model server sent an unreadable answer"})
        return Upstream(200, body)

    def health(self) -> Upstream:
        """200 when the model has at least one READY worker, else 503 with the reason."""
        try:
            response = self._send("health", "GET", self.model_url)
            response.raise_for_status()
            workers = [worker["status"] for model in response.json() for worker in model.get("workers", [])]
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return Upstream(503, {"status": "unavailable", "reason": "the model server is not reachable"})
        ready = workers.count("READY")
        if not ready:
            return Upstream(503, {"status": "unavailable", "reason": "the model has no READY worker",
                                  "workers": workers})
        return Upstream(200, {"status": "ok", "ready_workers": ready, "workers": len(workers)})

    def _send(self, call: str, method: str, url: str, **kwargs) -> requests.Response:
        """One request to TorchServe, reported to the observer as a timeout, unreachable, 5xx or fine."""
        headers = {**kwargs.pop("headers", {}), **(self.observer.headers() if self.observer else {})}
        error_kind = None
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout_s, **kwargs)
            if response.status_code >= 500:
                error_kind = "5xx"
            return response
        except requests.Timeout:
            error_kind = "timeout"
            raise
        except requests.RequestException:
            error_kind = "unreachable"
            raise
        finally:
            if self.observer:
                self.observer.record(call, time.perf_counter() - started, error_kind)
