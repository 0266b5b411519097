"""A quick end-to-end run of training/train.py: trains, evaluates, exports a loadable TorchScript file."""

from __future__ import annotations

import json

import torch

from handler.mnist_contract import NUM_OUTPUTS
from handler.mnist_device import int8_file
from training.export import reference_path
from training.train import main


def test_quick_training_run_writes_a_model_that_loads_and_predicts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative folders, as a person types them
    model_path = tmp_path / "model_store" / "mnist_resnet.pt"
    summary = main(["--quick", "--run-dir", "run", "--report-dir", "report",
                    "--model-path", "model_store/mnist_resnet.pt"])
    scripted = torch.jit.load(str(model_path))
    reference = torch.load(reference_path(model_path))
    assert torch.allclose(scripted(reference["pixels"]), reference["logits"], atol=1e-6)
    assert scripted(torch.rand(3, 1, 28, 28)).shape == (3, NUM_OUTPUTS)
    int8 = torch.jit.load(str(int8_file(model_path)))
    int8_reference = torch.load(reference_path(int8_file(model_path)))
    assert torch.allclose(int8(int8_reference["pixels"]), int8_reference["logits"], atol=1e-6)
    assert float(int8.non_digit_threshold) == float(scripted.non_digit_threshold)
    assert float(int8.unfamiliar_distance) == float(scripted.unfamiliar_distance) > 0
    assert torch.equal(int8.nearest.bank, scripted.nearest.bank)
    assert len(scripted.nearest.bank) == summary["bank_digits"]
    assert set(summary["served"]) == {"float", "int8"}
    for name in ("lr_find.png", "training_curves.png", "confusion_matrix.png", "misclassified.png",
                 "MODEL_CARD.md", "metrics.json"):
        assert (tmp_path / "report" / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["model_sha256"] == summary["model_sha256"]
    assert "Quick smoke-test run" in (tmp_path / "report" / "MODEL_CARD.md").read_text()
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len([line for line in history if line[:1].isdigit()]) == 2  # one epoch in each phase
