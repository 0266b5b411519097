"""The whole loop against a real TorchServe (its model API on, in its own configuration) and the
real web front: corrections posted through /corrections (some wrong on purpose), reviewed by the
rules and a person, a quick fine-tune in the training environment, the gate, the candidate
registered as version 2.0, a canary share served and counted by version, promoted, rolled back."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from bench.canvas_png import canvas_png
from bench.loadgen import web_app
from bench.mnist_samples import mnist_test_set
from corrections.store import open_store, with_status
from handler.mnist_contract import MODEL_VERSION_HEADER, NUM_DIGITS
from handler.mnist_device import INT8_ENGINE
from lifecycle import export_corrections, gate, review, rollout
from lifecycle.poisoning import PLACEMENTS
from lifecycle.review_rules import PLAUSIBLE_FLOOR
from serving.settings import INT8_MODEL, REPO_ROOT, TRAIN_PYTHON
from serving.torchserve import private_instance, start, stop
from web.corrections import quote_of

MISREAD_DIGITS = 6


@pytest.fixture(scope="module")
def lifecycle_torchserve(tmp_path_factory):
    """A TorchServe with the model API on (registering needs it); config.properties keeps it off."""
    instance = private_instance(tmp_path_factory.mktemp("lifecycle"), {"minWorkers": 1, "maxWorkers": 1},
                                {"enable_model_api": "true"})
    start(instance)
    yield instance
    stop(instance)


def answered(client, image: bytes) -> tuple[dict, dict]:
    response = client.post("/predict", data=image, content_type="image/png")
    assert response.status_code == 200
    return response.json, quote_of(image, response)


def misread_test_digits() -> list[tuple[np.ndarray, int]]:
    """MNIST test digits the served model gets wrong, most likely first (found in process, checked
    through the service below)."""
    images, labels = mnist_test_set()
    torch.backends.quantized.engine = INT8_ENGINE
    model = torch.jit.load(str(INT8_MODEL)).eval()
    with torch.inference_mode():
        outputs = model(torch.from_numpy(images).unsqueeze(1).float() / 255)[:, :NUM_DIGITS]
    wrong = (outputs.argmax(dim=1).numpy() != labels).nonzero()[0]
    ranked = sorted(wrong, key=lambda i: -float(outputs[i, labels[i]]))
    return [(images[i], int(labels[i])) for i in ranked]


def post_honest_corrections(client) -> list[int]:
    """Each misread digit drawn three ways by three addresses, corrected to its true label; the ids."""
    stored, digits_used = [], 0
    for digit, label in misread_test_digits():
        quotes = []
        for box, top, left in PLACEMENTS:
            answer, quote = answered(client, canvas_png(digit, box=box, top=top, left=left))
            symbols = answer["digits"]
            if len(symbols) == 1 and answer["is_digit"] and symbols[0]["digit"] != label and \
                    symbols[0]["probabilities"][label] >= PLAUSIBLE_FLOOR:
                quotes.append(quote)
        if len(quotes) < 2:
            continue
        for number, quote in enumerate(quotes):
            response = client.post("/corrections", json={**quote, "correction": str(label)},
                                   environ_base={"REMOTE_ADDR": f"198.51.{digits_used}.{number}"})
            assert response.status_code == 201, response.json
            stored.append(response.json["id"])
        digits_used += 1
        if digits_used == MISREAD_DIGITS:
            return stored
    pytest.fail(f"only {digits_used} MNIST test digits are misread alike in two placements")


def post_wrong_corrections(client) -> list[int]:
    """Clear digits labelled wrong, one of them by two addresses at once: none may pass a rule."""
    images, labels = mnist_test_set()
    stored = []
    for index in range(8):
        answer, quote = answered(client, canvas_png(images[index]))
        wrong = str((int(answer["number"]) + 5) % 10)
        for address in (f"203.0.113.{index}",) + (("203.0.113.99",) if index == 0 else ()):
            response = client.post("/corrections", json={**quote, "correction": wrong},
                                   environ_base={"REMOTE_ADDR": address})
            assert response.status_code == 201
            stored.append(response.json["id"])
    return stored


def versions_counted(app) -> dict[str, float]:
    samples = app.extensions["metrics"].model_answers.collect()[0].samples
    return {s.labels["version"]: s.value for s in samples if s.name.endswith("_total")}


def test_corrections_become_a_version_that_is_canaried_promoted_and_rolled_back(lifecycle_torchserve, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'corrections.sqlite'}"
    client = web_app(lifecycle_torchserve, DATABASE_URL=store_url).test_client()
    honest, wrong = post_honest_corrections(client), post_wrong_corrections(client)

    assert review.main(["--database-url", store_url, "--page", str(tmp_path / "review.html")]) == 0
    store = open_store(store_url)
    assert {c.id for c in with_status(store, "accepted")} == set(honest)
    assert {c.id for c in with_status(store, "pending")} == set(wrong)
    assert "<img" in (tmp_path / "review.html").read_text()
    assert review.main(["--database-url", store_url, "--page", str(tmp_path / "review.html"),
                        "--reject", *map(str, wrong)]) == 0
    assert with_status(store, "pending") == [] and len(with_status(store, "rejected")) == len(wrong)
    store.dispose()

    exported, candidate = tmp_path / "corrections.npz", tmp_path / "candidate"
    assert export_corrections.main(["--database-url", store_url, "--out", str(exported)]) == 0
    subprocess.run([str(TRAIN_PYTHON), "-m", "training.finetune", "--quick",
                    "--corrections", str(exported), "--candidate", str(candidate)], cwd=REPO_ROOT, check=True)
    assert (candidate / "MODEL_CARD_DIFF.md").is_file() and (candidate / "mnist_resnet_int8.pt").is_file()
    passed = gate.main(["--candidate", str(candidate), "--corrections", str(exported), "--quick"])
    report = json.loads((candidate / "gate_report.json").read_text())
    assert passed == 0 and report["passed"], (candidate / "gate_report.md").read_text()

    management = ["--management-url", lifecycle_torchserve.address("management"),
                  "--model-store", str(lifecycle_torchserve.model_store), "--state", str(tmp_path / "rollout.json"),
                  "--candidate", str(candidate)]
    assert rollout.main(["register", "--version", "2.0", *management]) == 0
    assert rollout.main(["register", "--version", "2.0", *management]) == 1  # not twice

    canary = web_app(lifecycle_torchserve, DATABASE_URL=store_url, CANARY_VERSION="2.0", CANARY_SHARE=0.5)
    seven = canvas_png(mnist_test_set()[0][0])
    served = [canary.test_client().post("/predict", data=seven, content_type="image/png").headers[MODEL_VERSION_HEADER]
              for _ in range(40)]
    counted = versions_counted(canary)
    assert counted == {"1.0": served.count("1.0"), "2.0": served.count("2.0")} and min(counted.values()) > 0

    default_answer = web_app(lifecycle_torchserve, DATABASE_URL=store_url).test_client()
    assert rollout.main(["promote", "--version", "2.0", *management]) == 0
    assert default_answer.post("/predict", data=seven, content_type="image/png").headers[MODEL_VERSION_HEADER] == "2.0"
    assert rollout.main(["rollback", *management]) == 0
    assert default_answer.post("/predict", data=seven, content_type="image/png").headers[MODEL_VERSION_HEADER] == "1.0"
    assert rollout.main(["rollback", *management]) == 1  # nothing left to roll back
