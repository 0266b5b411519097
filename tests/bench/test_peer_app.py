"""The benchmark's peer (bench/peer_app.py) answers like the served path, so the comparison is fair."""

from __future__ import annotations

from bench.canvas_png import canvas_png
from bench.mnist_samples import one_of_each_digit
from bench.peer_app import create_peer_app


def test_the_peer_reads_a_digit_and_refuses_bad_input_like_the_handler():
    client = create_peer_app().test_client()
    answer = client.post("/predict", data=canvas_png(one_of_each_digit()[6][1]), content_type="image/png")
    assert answer.status_code == 200 and answer.get_json()["number"] == "6"
    refused = client.post("/predict", data=b"not an image", content_type="image/png")
    assert refused.status_code == 400 and "error" in refused.get_json()
