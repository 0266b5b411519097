"""waitress's HTTP/1.1 parsing, strict where request framing is ambiguous, and its own refusals in JSON.

waitress reads a body as chunked when a request also has Content-Length, accepts a folded
Transfer-Encoding, and keeps the connection open afterwards: a client or proxy that framed the body
the other way then has its next request read from the middle of this body (request smuggling).
RFC 9112 (5.2, 6.1, 6.3) lets a server refuse all of these with 400; refusing through waitress's
parser makes waitress close the connection after the answer, as the RFC requires.
"""

from __future__ import annotations

import json

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.task import ErrorTask

from handler.mnist_payload import JSON


def framing_fault(header_plus: bytes) -> str | None:
    """Why the length of this request's body is not certain, or None; ``header_plus`` is the
    request line and headers, as waitress hands them to its parser."""
    request_line, _, fields = header_plus.partition(b"\r\n")
    lines = fields.split(b"\r\n")
    # A folded line continues the previous header, so a folded Transfer-Encoding reads differently
    # to a server that unfolds it and one that does not; no current client folds.
    if any(line.startswith((b" ", b"\t")) for line in lines):
        return "a header is folded over two lines (obs-fold); send each header on one line"
    values: dict[bytes, list[bytes]] = {b"transfer-encoding": [], b"content-length": []}
    for line in lines:
        name, _, value = line.partition(b":")
        if name.lower() in values:
            values[name.lower()].append(value.strip(b" \t").lower())
    lengths, codings = values[b"content-length"], values[b"transfer-encoding"]
    if len(lengths) > 1:
        return "the request has more than one Content-Length; send one"
    if not codings:
        return None
    if lengths:
        return "the request has both Content-Length and Transfer-Encoding; send one"
    if not request_line.rstrip().endswith(b" HTTP/1.1"):
        return "Transfer-Encoding needs HTTP/1.1"
    if codings != [b"chunked"]:
        return "the only Transfer-Encoding accepted is chunked, once"
    return None


class StrictFramingParser(HTTPRequestParser):
    """waitress's parser; a request whose framing is ambiguous becomes its parse error (a 400 that
    closes the connection) before waitress reads any of its body."""

    def parse_header(self, header_plus: bytes) -> None:
        fault = framing_fault(header_plus)
        if fault:
            raise ParsingError(fault)
        super().parse_header(header_plus)


class JSONErrorTask(ErrorTask):
    """waitress's own refusals (bad framing, headers or a body over its limits), answered in JSON as
    the app answers its refusals. waitress closes the connection after each."""

    too_large_message: str  # set by strict_json_channel, in the app's words

    def execute(self) -> None:
        error = self.request.error
        messages = {413: self.too_large_message,
                    431: f"the request's headers are over {self.channel.adj.max_request_header_size:,} bytes"}
        body = json.dumps({"error": messages.get(error.code, error.body)}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", JSON))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


def strict_json_channel(too_large_message: str) -> type[HTTPChannel]:
    """waitress's connection handler with the parser and refusals above; a body over waitress's own
    limit is told ``too_large_message``, the words the app uses for one over its limit."""
    error_task = type("JSONErrorTask", (JSONErrorTask,), {"too_large_message": too_large_message})
    return type("StrictJSONChannel", (HTTPChannel,),
                {"parser_class": StrictFramingParser, "error_task_class": error_task})
