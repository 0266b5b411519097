"""Request framing (RFC 9112) and size refusals at the real web front under waitress, on raw sockets.

A request whose body length is ambiguous gets a JSON 400 and its connection closed, so a request
pipelined behind it is never read from the middle of its body; every refusal of a body too large
is JSON naming the upload limit. No TorchServe: /healthz answers 503 without one, and the bodies
here are refused before /predict would call it.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from typing import NamedTuple

import pytest
from waitress.adjustments import Adjustments

from serving.torchserve import free_ports
from web.app import create_app
from web.serve import make_server

# Only a guard against a hang: the server closes each of these connections itself.
HANG_GUARD_S = 30
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")
HEADER_LIMIT = Adjustments.max_request_header_size  # waitress's default, which make_server keeps
PIPELINED_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


class WebFront(NamedTuple):
    address: tuple[str, int]
    upload_limit: int  # what the app accepts
    spool_limit: int  # what waitress reads of a body before refusing it itself


@pytest.fixture(scope="module")
def web_front() -> WebFront:
    """The web front under waitress; its TorchServe URLs point at a port nobody serves."""
    nobody = f"http://127.0.0.1:{free_ports(1)[0]}"
    app = create_app({"TORCHSERVE_INFERENCE_URL": nobody, "TORCHSERVE_MANAGEMENT_URL": nobody})
    server = make_server(app, port=0)
    threading.Thread(target=server.run, daemon=True).start()
    yield WebFront(("127.0.0.1", server.effective_port), app.config["MAX_UPLOAD_BYTES"],
                   server.adj.max_request_body_size)
    server.close()


def until_closed(address: tuple[str, int], request: bytes) -> bytes:
    """Everything the server sends in answer to ``request`` until it closes the connection."""
    with socket.create_connection(address, timeout=HANG_GUARD_S) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def only_response(received: bytes) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of the one response in ``received``, which must hold nothing else."""
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    length = int(headers["content-length"])
    assert rest[length:] == b"", f"more than one response: {received[:300]!r}"
    return int(status_line.split()[1]), headers, json.loads(rest[:length])


def post(headers: str, body: bytes = b"", version: str = "1.1") -> bytes:
    return f"POST /predict HTTP/{version}\r\nHost: t\r\n{headers}\r\n".encode() + body


def test_a_well_framed_request_lets_the_pipelined_one_be_answered(web_front):
    """The control for the refusals below: the pipelined /healthz is answered when framing is clear."""
    received = until_closed(web_front.address, post("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n")
                            + PIPELINED_HEALTHZ)
    statuses = [int(status) for status in STATUS_LINE.findall(received)]
    assert len(statuses) == 2 and statuses[1] == 503, statuses


# Each body, read by the other framing, would leave "X" (or the whole body) as the start of the
# pipelined request: waitress answered "XGET /healthz" with 405 before the guard.
AMBIGUOUS_FRAMING = {
    "Content-Length then Transfer-Encoding": post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
                                                  b"0\r\n\r\nX"),
    "Transfer-Encoding then Content-Length": post("Transfer-Encoding: chunked\r\nContent-Length: 6\r\n",
                                                  b"0\r\n\r\nX"),
    "chunked not the last coding": post("Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\nX"),
    "chunked twice": post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\nX"),
    "two different Content-Lengths": post("Content-Length: 1\r\nContent-Length: 6\r\n", b"0\r\n\r\nX"),
    "Transfer-Encoding folded onto the next line": post("Transfer-Encoding: \r\n chunked\r\n", b"0\r\n\r\nX"),
    "Transfer-Encoding folded after identity": post("Transfer-Encoding: identity\r\n chunked\r\n",
                                                    b"0\r\n\r\nX"),
    "Transfer-Encoding in HTTP/1.0": post("Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n",
                                          b"0\r\n\r\nX", version="1.0"),
}


@pytest.mark.parametrize("name", AMBIGUOUS_FRAMING)
def test_ambiguous_framing_is_refused_and_the_connection_closed(web_front, name):
    status, headers, body = only_response(until_closed(web_front.address, AMBIGUOUS_FRAMING[name] + PIPELINED_HEALTHZ))
    assert status == 400, (name, body)
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert isinstance(body["error"], str) and body["error"]


def chunked(body: bytes, size: int = 65536) -> bytes:
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def multipart_with_filename(filename: str, boundary: str = "sizeboundary") -> tuple[bytes, str]:
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
            f"Content-Type: image/png\r\n\r\n\x89PNG\r\n--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def over_the_limit(limit: int, how: str) -> bytes:
    """A request to /predict whose body is over ``limit`` bytes, sent ``how``."""
    if how == "Content-Length":
        return post(f"Content-Type: image/png\r\nContent-Length: {limit + 1}\r\nConnection: close\r\n",
                    b"\0" * (limit + 1))
    if how == "Content-Length of 10 GB, no body sent":
        return post("Content-Type: image/png\r\nContent-Length: 10000000000\r\nConnection: close\r\n")
    if how == "chunked":
        return post("Content-Type: image/png\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
                    chunked(b"\0" * (limit + 1)))
    if how == "JSON":
        body = json.dumps({"image": "A" * limit}).encode()
        return post(f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n", body)
    body, content_type = multipart_with_filename("a" * limit + ".png")  # how == "multipart with a huge filename"
    return post(f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n", body)


@pytest.mark.parametrize("how", ["Content-Length", "Content-Length of 10 GB, no body sent", "chunked", "JSON",
                                 "multipart with a huge filename"])
def test_a_body_over_the_limit_is_refused_in_json_naming_the_limit(web_front, how):
    status, headers, body = only_response(until_closed(web_front.address, over_the_limit(web_front.upload_limit, how)))
    assert status == 413 and headers["content-type"] == "application/json"
    assert body["error"] == f"the upload is over {web_front.upload_limit:,} bytes"


def test_a_chunked_body_past_what_waitress_spools_is_refused_in_json_naming_the_limit(web_front):
    """waitress refuses this one itself, before the app; exactly as many bytes are sent as it reads
    before refusing, so none are left unread to reset the connection before the answer is read."""
    chunk_size_line = b"%x\r\n" % (2 * web_front.spool_limit)
    request = post("Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n",
                   chunk_size_line + b"\0" * (web_front.spool_limit - len(chunk_size_line)))
    status, headers, body = only_response(until_closed(web_front.address, request))
    assert status == 413 and headers["content-type"] == "application/json"
    assert body["error"] == f"the upload is over {web_front.upload_limit:,} bytes"


def headers_of(size: int) -> bytes:
    """The start of a request whose headers reach ``size`` bytes and go on: waitress refuses them on
    its ``size``-th byte, and with none sent past it, no unread byte resets the connection."""
    start = b"POST /predict HTTP/1.1\r\nHost: t\r\nX-Big: "
    return start + b"a" * (size - len(start))


@pytest.mark.parametrize("name, request_bytes, status, words", [
    ("headers over waitress's limit", headers_of(HEADER_LIMIT), 431, f"over {HEADER_LIMIT:,} bytes"),
    ("broken chunk size", post("Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"), 400, "chunk"),
    ("Content-Length not a number", post("Content-Length: 1e3\r\n"), 400, "Content-Length"),
])
def test_waitress_own_refusals_are_json(web_front, name, request_bytes, status, words):
    answered, headers, body = only_response(until_closed(web_front.address, request_bytes))
    assert answered == status and headers["content-type"] == "application/json", name
    assert words in body["error"], body
