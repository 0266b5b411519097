"""What the costliest request of each kind costs a TorchServe worker, sent straight to TorchServe.

    python -m bench.worker_cost [--rounds 3]      (make bench-worker-cost)

TorchServe's Java front splits a urlencoded or multipart body into fields and its Python worker
decodes every field before the handler runs, so the handler's own limits cannot bound that part:
only ``max_request_size`` (config.properties) does. For each content type this sends the worst body
we know at just under that limit to a private TorchServe on loopback and prints the worker's CPU
time (all worker processes, from /proc via psutil, far steadier than wall time on a shared machine)
and the wall time of the answer, as the maximum over ``--rounds`` rounds. Target: at most 1 s each.
"""

from __future__ import annotations

import argparse
import base64
import json
import time

import requests
from PIL import Image

from bench.hostile_images import encode, noise
from bench.image_mutations import jpeg_parts
from bench.loadgen import worker_cpu_s
from handler.mnist_container import MAX_JPEG_SCANS
from handler.mnist_payload import FORM
from serving.torchserve import read_properties, scratch_instance


def multipart(fields: list[tuple[str, bytes]], boundary: str = "costboundary") -> tuple[bytes, str]:
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value
                    + b"\r\n" for name, value in fields) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def progressive_jpeg_under(limit: int) -> bytes:
    """A 4096x3072 progressive JPEG with the most scans the handler allows, as large as fits."""
    density = 0.0005
    while True:
        parts = jpeg_parts(encode(noise(4096, 3072, "L", density), "JPEG", quality=75, progressive=True))
        scans = [part for part in parts if part[:2] == b"\xff\xda"]
        data = b"".join(parts[:-1] + [min(scans, key=len)] * (MAX_JPEG_SCANS - len(scans)) + parts[-1:])
        if len(data) < limit:
            return data
        density /= 2


def png_under(limit: int) -> bytes:
    """A 2048x2048 PNG, the largest side decoded at full size, with as much noise as fits."""
    density = 0.01
    while len(data := encode(noise(2048, 2048, "L", density), "PNG")) >= limit:
        density /= 2
    return data


def worst_bodies(limit: int) -> dict[str, tuple[bytes, str]]:
    """Content type -> the costliest body we know that TorchServe still accepts."""
    room = limit - 1024  # headers and framing
    fields, field_type = multipart([(f"f{i}", b"") for i in range(room // 80)])
    image = progressive_jpeg_under(room * 3 // 4 - 64)
    text = base64.b64encode(image)
    return {
        "urlencoded, empty fields (a&a&...)": (b"a&" * (room // 2), FORM),
        "urlencoded, distinct empty names": (b"&".join(b"f%d=" % i for i in range(room // 8))[:room], FORM),
        "multipart, distinct empty fields": (fields, field_type),
        "JSON nested arrays": (b'{"image": ' + b"[" * (room // 2 - 8) + b"]" * (room // 2 - 8) + b"}",
                               "application/json"),
        "JSON with a base64 progressive JPEG": (json.dumps({"image": text.decode()}).encode(), "application/json"),
        "text/plain base64 progressive JPEG": (text, "text/plain"),
        "image/jpeg progressive, most scans": (image, "image/jpeg"),
        "image/png 2048x2048 noise": (png_under(room), "image/png"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    Image.MAX_IMAGE_PIXELS = None  # our own generated images
    with scratch_instance() as instance:
        limit = int(read_properties(instance.config)["max_request_size"])
        bodies = worst_bodies(limit)
        worst: dict[str, tuple[float, float, int]] = {}
        for _ in range(args.rounds):
            for name, (body, content_type) in bodies.items():
                cpu, started = worker_cpu_s(instance), time.perf_counter()
                status = requests.post(instance.predictions_url(), data=body,
                                       headers={"Content-Type": content_type}, timeout=60).status_code
                wall, spent = time.perf_counter() - started, worker_cpu_s(instance) - cpu
                previous = worst.get(name, (0.0, 0.0, status))
                worst[name] = (max(previous[0], spent), max(previous[1], wall), status)
    print(f"max_request_size {limit:,} bytes; the maximum over {args.rounds} rounds\n")
    print("| body (just under the limit) | bytes | status | worker CPU (s) | wall (s) |\n|---|---|---|---|---|")
    for name, (spent, wall, status) in worst.items():
        print(f"| {name} | {len(bodies[name][0]):,} | {status} | {spent:.2f} | {wall:.2f} |")


if __name__ == "__main__":
    main()
