"""Every command of the loop refuses bad input with one clear line and a non-zero status, and
changes nothing: review, export, fine-tune, gate, roll-out (the shipped TorchServe among them)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from corrections.store import Limits, NewCorrection, add_correction, open_store
from lifecycle import export_corrections, gate, review, rollout
from serving.settings import INT8_MODEL, REPO_ROOT, SERIALIZED_MODEL, TRAIN_PYTHON
from tests.fixtures.corrections_store import stored


@pytest.fixture
def store_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'corrections.sqlite'}"
    engine = open_store(url)
    for address in ("192.0.2.1", "192.0.2.2"):
        add_correction(engine, NewCorrection(b"\x89PNG", '{"number": "1", "digits": []}', "1.0", "7", address),
                       Limits(10, 10))
    engine.dispose()
    return url



def test_a_review_naming_an_unknown_id_changes_nothing(store_url, tmp_path, capsys):
    page = ["--page", str(tmp_path / "review.html"), "--no-rules"]
    assert review.main(["--database-url", store_url, "--accept", "1", "--reject", "99", *page]) == 1
    assert "99" in capsys.readouterr().err
    assert stored(store_url) == {"pending": 2, "accepted": 0, "rejected": 0}
    with pytest.raises(SystemExit) as refused:
        review.main(["--database-url", store_url, "--accept", "1", "--reject", "1", *page])
    assert refused.value.code == 2
    with pytest.raises(SystemExit):
        review.main(["--database-url", store_url, "--accept", "one", *page])
    assert stored(store_url)["pending"] == 2


def test_export_refuses_when_nothing_usable_was_accepted(store_url, tmp_path, capsys):
    out = tmp_path / "corrections.npz"
    assert export_corrections.main(["--database-url", store_url, "--out", str(out)]) == 1
    review.main(["--database-url", store_url, "--accept", "1", "--no-rules", "--page", str(tmp_path / "r.html")])
    # accepted, but its "drawing" has no symbols to match the digit: left out, so still nothing to learn from
    assert export_corrections.main(["--database-url", store_url, "--out", str(out)]) == 1
    assert "left out" in capsys.readouterr().err and not out.exists()


@pytest.mark.training_env
def test_fine_tuning_refuses_a_missing_or_malformed_corrections_file(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not numpy")
    for corrections in (tmp_path / "missing.npz", tmp_path / "bad.npz"):
        finished = subprocess.run([str(TRAIN_PYTHON), "-m", "training.finetune", "--corrections", str(corrections),
                                   "--candidate", str(tmp_path / "candidate")], cwd=REPO_ROOT,
                                  capture_output=True, text=True)
        assert finished.returncode != 0 and str(corrections) in finished.stderr
    assert not (tmp_path / "candidate").exists()


def test_the_gate_cannot_run_without_its_files(tmp_path, capsys):
    assert gate.main(["--candidate", str(tmp_path), "--corrections", str(tmp_path / "none.npz")]) == 2
    assert "missing" in capsys.readouterr().err and not (tmp_path / "gate_report.json").exists()


def candidate_folder(tmp_path, passed: bool | None):
    folder = tmp_path / "candidate"
    folder.mkdir()
    shutil.copy(SERIALIZED_MODEL, folder)
    shutil.copy(INT8_MODEL, folder)
    if passed is not None:
        (folder / "gate_report.json").write_text(json.dumps({"passed": passed}))
    return folder


@pytest.mark.parametrize("passed", [None, False])
def test_a_candidate_the_gate_did_not_pass_is_not_registered(tmp_path, capsys, passed):
    folder = candidate_folder(tmp_path, passed)
    assert rollout.main(["register", "--version", "2.0", "--candidate", str(folder),
                         "--management-url", "http://127.0.0.1:9", "--model-store", str(tmp_path)]) == 1
    assert "gate" in capsys.readouterr().err and not list(tmp_path.glob("*.mar"))


@pytest.mark.parametrize("version", [None, "../x", "1.0"])
def test_register_and_promote_need_a_new_plain_version(version):
    with pytest.raises(SystemExit) as refused:
        rollout.main(["register", *(["--version", version] if version else [])])
    assert refused.value.code == 2


def test_rollback_without_a_promotion_and_an_unreachable_torchserve_are_refused(tmp_path, capsys):
    unreachable = ["--management-url", "http://127.0.0.1:9", "--state", str(tmp_path / "rollout.json")]
    assert rollout.main(["rollback", *unreachable]) == 1
    assert rollout.main(["promote", "--version", "2.0", *unreachable]) == 1
    assert "not reachable" in capsys.readouterr().err


def test_the_shipped_configuration_refuses_registering(torchserve, tmp_path, capsys):
    """config.properties keeps the model API off: a passed candidate still cannot be registered."""
    folder = candidate_folder(tmp_path, True)
    assert rollout.main(["register", "--version", "2.0", "--candidate", str(folder), "--model-store",
                         str(torchserve.model_store), "--management-url", torchserve.address("management")]) == 1
    assert "enable_model_api" in capsys.readouterr().err
    assert rollout.main(["status", "--management-url", torchserve.address("management")]) == 0
    assert '"2.0"' not in capsys.readouterr().out
