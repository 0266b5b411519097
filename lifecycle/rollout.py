"""Roll a candidate out through TorchServe's versions of the model, over its management API.

    python -m lifecycle.rollout register --version 2.0     # archive the passed candidate as mnist-2.0.mar and load it
    python -m lifecycle.rollout promote --version 2.0      # make it TorchServe's default version
    python -m lifecycle.rollout rollback                   # the default goes back to the one promote replaced
    python -m lifecycle.rollout status                     # every version, and which is the default

Registering needs TorchServe's model API (enable_model_api=true), which the shipped
config.properties keeps off; set-default and describe do not. The management API stays on
loopback either way (docs/LIFECYCLE.md). Only a candidate whose gate report passed is registered.
Between register and promote, the web front's CANARY_VERSION and CANARY_SHARE send a share of
/predict to the new version.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import urllib3

from serving.archive import archive_name, build_archive
from serving.settings import INT8_MODEL, LIFECYCLE_DIR, MODEL_NAME, MODEL_STORE, SERIALIZED_MODEL
from web.canary import VERSION_NAME
from web.config import load_config

# Registering loads the model in a worker before TorchServe answers (synchronous=true).
REGISTER_TIMEOUT_S = 120
ROLLOUT_STATE = LIFECYCLE_DIR / "rollout.json"


class RolloutRefused(Exception):
    pass


class Management:
    """TorchServe's management API for the one model."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.http = urllib3.PoolManager(retries=False)

    def call(self, method: str, path: str, timeout_s: float = 10, **parameters) -> list | dict:
        """One call; TorchServe reads its parameters from the query string, whatever the method."""
        query = f"?{urlencode(parameters)}" if parameters else ""
        try:
            response = self.http.request(method, f"{self.url}{path}{query}", timeout=timeout_s)
        except urllib3.exceptions.HTTPError as error:
            raise RolloutRefused(f"TorchServe's management API at {self.url} is not reachable ({error})") from None
        try:
            body = json.loads(response.data or b"{}")
        except ValueError:
            body = {"message": response.data[:200].decode("utf-8", "replace")}
        if response.status != 200:
            hint = (" (registering needs enable_model_api=true in TorchServe's config, docs/LIFECYCLE.md)"
                    if response.status == 405 else "")
            raise RolloutRefused(f"TorchServe answered {response.status}: {body.get('message', body)}{hint}")
        return body

    def versions(self) -> list[dict]:
        return self.call("GET", f"/models/{MODEL_NAME}/all")

    def default_version(self) -> str:
        (described,) = self.call("GET", f"/models/{MODEL_NAME}")
        return described["modelVersion"]

    def register(self, archive: str) -> None:
        self.call("POST", "/models", timeout_s=REGISTER_TIMEOUT_S, url=archive, initial_workers="1",
                  synchronous="true")

    def set_default(self, version: str) -> None:
        self.call("PUT", f"/models/{MODEL_NAME}/{quote(version, safe='')}/set-default")


def passed_gate(candidate: Path) -> None:
    report = candidate / "gate_report.json"
    if not report.is_file():
        raise RolloutRefused(f"{candidate} has no gate report: run python -m lifecycle.gate first")
    if not json.loads(report.read_text()).get("passed"):
        raise RolloutRefused(f"the gate refused {candidate} ({candidate / 'gate_report.md'})")


def register(management: Management, candidate: Path, version: str, model_store: Path) -> str:
    passed_gate(candidate)
    known = {v["modelVersion"] for v in management.versions()}
    if version in known:
        raise RolloutRefused(f"version {version} is already registered ({', '.join(sorted(known))})")
    archive = build_archive(model_store, version, candidate / SERIALIZED_MODEL.name,
                            candidate / INT8_MODEL.name)
    management.register(archive.name)
    return f"registered {MODEL_NAME} {version} from {archive}"


def promote(management: Management, version: str, state: Path) -> str:
    previous = management.default_version()
    if previous == version:
        raise RolloutRefused(f"{version} is already the default version")
    management.set_default(version)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"default": version, "previous": previous}))
    return f"default version {previous} -> {version} (rollback returns to {previous})"


def rollback(management: Management, state: Path) -> str:
    if not state.is_file():
        raise RolloutRefused(f"nothing to roll back: no promotion recorded in {state}")
    recorded = json.loads(state.read_text())
    current = management.default_version()
    if current != recorded["default"]:
        raise RolloutRefused(f"the default is {current}, not the {recorded['default']} last promoted; "
                             f"set it by hand with promote --version")
    management.set_default(recorded["previous"])
    state.unlink()
    return f"default version {current} -> {recorded['previous']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("register", "promote", "rollback", "status"))
    parser.add_argument("--version", help="the model version to register or promote, such as 2.0")
    parser.add_argument("--candidate", type=Path, default=LIFECYCLE_DIR / "candidate")
    parser.add_argument("--management-url", default=load_config()["TORCHSERVE_MANAGEMENT_URL"])
    parser.add_argument("--model-store", type=Path, default=MODEL_STORE,
                        help="the model store of the TorchServe being changed")
    parser.add_argument("--state", type=Path, default=ROLLOUT_STATE, help="where promote records what it replaced")
    args = parser.parse_args(argv)
    if args.action in ("register", "promote") and not (args.version and VERSION_NAME.fullmatch(args.version)):
        parser.error(f"{args.action} needs --version, a name such as 2.0")
    if args.action == "register" and archive_name(args.version) == archive_name():
        parser.error(f"{args.version} is the shipped version's name; give the candidate a new one")
    management = Management(args.management_url)
    try:
        if args.action == "register":
            print(register(management, args.candidate, args.version, args.model_store))
        elif args.action == "promote":
            print(promote(management, args.version, args.state))
        elif args.action == "rollback":
            print(rollback(management, args.state))
        else:
            print(json.dumps([{"version": v["modelVersion"], "workers": [w["status"] for w in v.get("workers", [])]}
                              for v in management.versions()]) + f"\ndefault: {management.default_version()}")
    except RolloutRefused as refusal:
        print(f"{args.action} refused: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
