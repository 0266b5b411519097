"""The poisoning measurement of docs/LIFECYCLE.md: a simulated attacker sends 500 wrong labels from
500 addresses through the real web front and a real TorchServe, beside honest corrections; the
review rules run; the model is fine-tuned on what they accepted and gated. Then the worst case:
a reviewer who accepts every correction, fine-tuned and gated the same way.

    python -m lifecycle.poisoning [--attacks 500] [--out runs/lifecycle/poisoning] [--cases ...]

The attacker draws MNIST test digits (the set the gate measures on, the worst place to be hit)
and is clever about the rules: half of the labels are the model's own second choice, the other
half are pairs of the same drawing sent from two addresses with the same second-choice label.
The honest corrections are validation digits the service misreads, each drawn three ways by
three addresses, corrected to their true label.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.canvas_png import canvas_png
from bench.loadgen import web_app
from bench.mnist_samples import mnist_test_set
from bench.number_benchmark import validation_digits
from corrections.store import open_store, review, with_status
from lifecycle import export_corrections, gate
from lifecycle.review_rules import accepted_by_rule
from lifecycle.symbols import fitted_symbols
from serving.settings import LIFECYCLE_DIR, REPO_ROOT, TRAIN_PYTHON
from serving.torchserve import scratch_instance
from web.corrections import quote_of

# Where each drawing is drawn on the canvas (box, top, left): three people drawing it alike.
PLACEMENTS = ((180, 20, 60), (180, 40, 80), (180, 60, 30))
ATTACK_DIGITS_FROM = 5000  # the attacker's drawings: MNIST test digits from here on
HONEST_SEARCH = 1500  # validation digits searched for the ones the service misreads
CASES = ("after_rules", "everything_accepted")  # what is fine-tuned: what the rules accepted, or everything


def quoted(client, image: bytes) -> tuple[dict, dict] | None:
    response = client.post("/predict", data=image, content_type="image/png")
    if response.status_code != 200:
        return None
    return response.json, quote_of(image, response)


def second_choice(symbol: dict) -> int:
    return sorted(range(10), key=lambda d: -symbol["probabilities"][d])[1]


def attack(client, count: int) -> list[int]:
    """``count`` wrong labels from ``count`` addresses; the ids stored."""
    images, _ = mnist_test_set()
    stored, index = [], ATTACK_DIGITS_FROM
    while len(stored) < count:
        sent = quoted(client, canvas_png(images[index]))
        index += 1
        if not sent or not sent[0]["is_digit"] or len(sent[0]["digits"]) != 1:
            continue
        answer, quote = sent
        label = str(second_choice(answer["digits"][0]))
        senders = 2 if index % 2 else 1  # every other drawing comes from two addresses at once
        for _ in range(min(senders, count - len(stored))):
            response = client.post("/corrections", json={**quote, "correction": label},
                                   environ_base={"REMOTE_ADDR": f"10.66.{len(stored) // 250}.{len(stored) % 250}"})
            if response.status_code == 201:
                stored.append(response.json["id"])
    return stored


def honest(client) -> list[int]:
    """Validation digits the service misreads, each drawn three ways by three addresses and corrected
    to the true label where it is misread; the ids."""
    images, labels = validation_digits()
    stored = []
    for index in range(HONEST_SEARCH):
        truth = str(labels[index])
        for number, (box, top, left) in enumerate(PLACEMENTS):
            sent = quoted(client, canvas_png(images[index], box=box, top=top, left=left))
            if not sent or len(sent[0]["digits"]) != 1 or sent[0]["number"] == truth:
                break  # read right (or not as one symbol): nothing to correct in this drawing
            response = client.post("/corrections", json={**sent[1], "correction": truth},
                                   environ_base={"REMOTE_ADDR": f"192.168.{number}.{index % 250}"})
            if response.status_code == 201:
                stored.append(response.json["id"])
    return stored


def fine_tune_and_gate(store_url: str, folder: Path) -> dict:
    exported, candidate = folder / "corrections.npz", folder / "candidate"
    export_corrections.main(["--database-url", store_url, "--out", str(exported)])
    subprocess.run([str(TRAIN_PYTHON), "-m", "training.finetune", "--corrections", str(exported),
                    "--candidate", str(candidate)], cwd=REPO_ROOT, check=True)
    passed = gate.main(["--candidate", str(candidate), "--corrections", str(exported)]) == 0
    verdicts = json.loads((candidate / "gate_report.json").read_text())["verdicts"]
    mnist = next(v for v in verdicts if v["figure"] == "MNIST test accuracy")
    return {"gate_passed": passed, "mnist_test_serving": mnist["serving"], "mnist_test_candidate": mnist["candidate"],
            "mnist_test_change_points": 100 * (mnist["candidate"] - mnist["serving"]), "verdicts": verdicts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attacks", type=int, default=500)
    parser.add_argument("--out", type=Path, default=LIFECYCLE_DIR / "poisoning")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=CASES, help="which to fine-tune and gate")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    store_url = f"sqlite:///{args.out / 'corrections.sqlite'}"
    (args.out / "corrections.sqlite").unlink(missing_ok=True)
    with scratch_instance({"minWorkers": 1, "maxWorkers": 1}) as instance:
        client = web_app(instance, DATABASE_URL=store_url, CORRECTIONS_MAX_STORED=10 ** 6).test_client()
        attacks, honest_ones = attack(client, args.attacks), honest(client)
    store = open_store(store_url)
    accepted = accepted_by_rule(with_status(store, "pending"), fitted_symbols)
    result = {"attacks_stored": len(attacks), "honest_stored": len(honest_ones),
              "attacks_accepted_by_rules": len(set(attacks) & set(accepted)),
              "honest_accepted_by_rules": len(set(honest_ones) & set(accepted))}
    if accepted:
        review(store, {i: ("accepted", rule) for i, rule in accepted.items()})
    store.dispose()
    print(json.dumps(result))
    if "after_rules" in args.cases:
        result["after_rules"] = fine_tune_and_gate(store_url, args.out / "after_rules")
    if "everything_accepted" in args.cases:
        store = open_store(store_url)
        review(store, {c.id: ("accepted", "everything") for c in with_status(store, "pending")})
        store.dispose()
        result["everything_accepted"] = fine_tune_and_gate(store_url, args.out / "everything_accepted")
    (args.out / "poisoning.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
