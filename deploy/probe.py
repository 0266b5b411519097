"""Draw a real MNIST test digit as a canvas PNG and check that the web app and TorchServe both read it.

    python -m deploy.probe [--web http://127.0.0.1:5000] [--torchserve http://127.0.0.1:8080]
"""

from __future__ import annotations

import argparse
import sys

import requests

from bench.canvas_png import canvas_png
from training.data import load_mnist


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--web", default="http://127.0.0.1:5000")
    parser.add_argument("--torchserve", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    mnist = load_mnist()
    failures = 0
    for index in (0, 1, 2):
        label = int(mnist.test_labels[index])
        png = canvas_png(mnist.test_images[index].numpy(), box=170, top=40, left=70)
        for name, url in (("web app", f"{args.web}/predict"), ("TorchServe", f"{args.torchserve}/predictions/mnist")):
            response = requests.post(url, data=png, headers={"Content-Type": "image/png"}, timeout=10)
            digit = response.json().get("digit") if response.ok else None
            print(f"{name}: test digit #{index} (a {label}) -> HTTP {response.status_code}, digit {digit}")
            failures += digit != label
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
