"""The app a user would write instead of this stack: one Flask process holding the model.

    python -m bench.peer_app --port 5100      (started by make bench, as the peer)

The same TorchScript file and the handler's own modules (payload, preprocessing and segmentation,
answer), so the benchmark compares serving paths only: no TorchServe, no second hop. waitress with
4 threads and one torch thread, the fastest settings on this 2-core machine for TorchServe's workers.
"""

from __future__ import annotations

import argparse

import torch
from flask import Flask, jsonify, request
from waitress import serve

from handler.mnist_batch import batch_answers, prepare_batch, read_batch
from serving.settings import INT8_MODEL

PEER_THREADS = 4


def create_peer_app() -> Flask:
    torch.set_num_threads(1)
    model = torch.jit.load(str(INT8_MODEL)).eval()
    threshold = float(model.non_digit_threshold)
    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        batch = prepare_batch([{"body": request.get_data()}])
        with torch.inference_mode():
            outputs = read_batch(batch, model)
        (answer,) = batch_answers(batch, outputs, threshold)
        return jsonify(answer), batch.errors[0].status if batch.errors else 200

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(create_peer_app(), host="127.0.0.1", port=args.port, threads=PEER_THREADS)


if __name__ == "__main__":
    main()
