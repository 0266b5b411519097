"""Play deploy/kubernetes.yaml with a real engine (podman) against the image the container check built.

    python -m deploy.kube_check [--manifest deploy/kubernetes.yaml] [--image localhost/mnist-digits:check]
    make kube-check        (builds the image first, then this, then the same with broken manifests)

The manifest is played as written, with only what a test on one machine must add, layered on a
copy (the overlay, ``overlaid_for_podman``): the local image name, one replica (two would ask for
the same host ports), and each container port published on 127.0.0.1 at a free port. Services and autoscalers
are left out: podman implements neither. Then, from outside the pod:

1. the startup probe's path answers 200 on the port it names (how long that took is printed);
2. ``/healthz`` is 200, and the readiness and liveness probes' paths answer 200 on their ports;
3. a real MNIST digit drawn as a canvas PNG is read right through the web port, and straight by
   TorchServe through the inference port (deploy/probe.py);
4. the container's process runs as the manifest's ``runAsUser`` and cannot gain privileges;
5. ``podman kube down`` leaves no container and no pod.

A probe whose port names no container port, or whose path answers 404, fails the check with a
message that names it; ``--broken`` plays the manifest with one such mistake made on purpose and
passes only if the check fails and names it (a test of the check itself, run by `make kube-check`).

podman runs with runc and no ulimits (``CONTAINERS_CONF``): its default runtime, crun, cannot start
containers in this sandbox. podman runs no probes itself here (it needs systemd's timers), which is
why this check calls their paths.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

from serving.settings import REPO_ROOT
from serving.torchserve import free_ports

MANIFEST = REPO_ROOT / "deploy" / "kubernetes.yaml"
IMAGE = "localhost/mnist-digits:check"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
# Kinds podman kube play implements; the rest (Service, HorizontalPodAutoscaler) are left out.
PLAYED_KINDS = {"Deployment", "ConfigMap", "Secret", "PersistentVolumeClaim", "Pod"}
# A mistake made on purpose -> (the change to the Deployment's container, what the failure must name).
BREAKAGES = {
    "probe-path": (lambda container: container["startupProbe"]["httpGet"].update(path="/no-such-probe"),
                   "startupProbe GET"),
    "probe-port": (lambda container: container["readinessProbe"]["httpGet"].update(port="webb"),
                   "readinessProbe uses port 'webb'"),
}
CONTAINERS_CONF = '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'


class ManifestProblem(Exception):
    """What is wrong with the manifest or the pod it makes, in words that name the setting."""


def deployment_of(documents: list[dict]) -> dict:
    (deployment,) = [document for document in documents if document and document.get("kind") == "Deployment"]
    return deployment


def app_container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def probe_problems(container: dict) -> list[str]:
    """Probes whose port names no container port (Kubernetes would fail them all, forever)."""
    names = {port.get("name") for port in container.get("ports", [])}
    problems = []
    for probe in PROBES:
        port = container.get(probe, {}).get("httpGet", {}).get("port")
        if isinstance(port, str) and port not in names:
            problems.append(f"{probe} uses port {port!r}, which is not a containerPort name ({sorted(names)})")
    return problems


def overlaid_for_podman(documents: list[dict], image: str, host_ports: dict[str, int]) -> list[dict]:
    """The manifest's documents podman plays, with the image, one replica and loopback host ports."""
    played = [copy.deepcopy(document) for document in documents if document and document["kind"] in PLAYED_KINDS]
    deployment = deployment_of(played)
    deployment["spec"]["replicas"] = 1
    container = app_container(deployment)
    container["image"] = image
    for port in container["ports"]:
        port.update(hostIP="127.0.0.1", hostPort=host_ports[port["name"]])
    return played


def probe_url(container: dict, probe: str, host_ports: dict[str, int]) -> str:
    http_get = container[probe]["httpGet"]
    port = http_get["port"]
    if isinstance(port, int):
        port = next(p["name"] for p in container["ports"] if p["containerPort"] == port)
    return f"http://127.0.0.1:{host_ports[port]}{http_get['path']}"


def status_of(url: str) -> int | None:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return None


def wait_for_startup(container: dict, host_ports: dict[str, int]) -> float:
    """Seconds until the startup probe's path answered 200, within the time the manifest allows."""
    probe = container["startupProbe"]
    allowed_s = probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3) + probe.get("initialDelaySeconds", 0)
    url = probe_url(container, "startupProbe", host_ports)
    started = time.monotonic()
    status = None
    while time.monotonic() - started < allowed_s:
        status = status_of(url)
        if status == 200:
            return time.monotonic() - started
        if status == 404:
            raise ManifestProblem(f"startupProbe GET {url} answers 404: the app has no such path")
        time.sleep(1)
    raise ManifestProblem(f"startupProbe GET {url} did not answer 200 within the {allowed_s} s the manifest "
                          f"allows (last: {status})")


def podman(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *arguments], capture_output=True, text=True, check=check)


def check_pod(deployment: dict, container: dict, host_ports: dict[str, int]) -> None:
    for probe in ("readinessProbe", "livenessProbe"):
        url = probe_url(container, probe, host_ports)
        status = status_of(url)
        if status != 200:
            raise ManifestProblem(f"{probe} GET {url} answers {status}, not 200")
    if status_of(f"http://127.0.0.1:{host_ports['web']}/healthz") != 200:
        raise ManifestProblem("/healthz is not 200 on the web port")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "deploy.probe", "--web", f"http://127.0.0.1:{host_ports['web']}",
                    "--torchserve", f"http://127.0.0.1:{host_ports['inference']}"], check=True, cwd=REPO_ROOT)
    print(f"three digits read through both ports in {time.monotonic() - started:.1f} s")
    name = f"{deployment['metadata']['name']}-pod-0-{container['name']}"
    resident_kb = podman("exec", name, "sh", "-c", "cat /proc/[0-9]*/status | grep VmRSS").stdout.split()[1::3]
    print(f"resident memory of the container's processes: {sum(map(int, resident_kb)) / 1024:.0f} MiB "
          f"(the manifest requests {container['resources']['requests']['memory']}, "
          f"limits {container['resources']['limits']['memory']})")
    expected_user = deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    status = podman("exec", name, "cat", "/proc/1/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    users = {int(value) for value in fields["Uid"].split()}
    if users != {expected_user}:
        raise ManifestProblem(f"the container's process runs as uid {sorted(users)}, not runAsUser {expected_user}")
    if fields.get("NoNewPrivs", "0").strip() != "1":
        raise ManifestProblem("the container's process may gain privileges (allowPrivilegeEscalation is not false)")
    print(f"the container's process runs as uid {expected_user} and cannot gain privileges")


def play(manifest: Path, image: str, broken: str | None = None) -> None:
    documents = list(yaml.safe_load_all(manifest.read_text()))
    deployment = deployment_of(documents)
    container = app_container(deployment)
    if broken:
        BREAKAGES[broken][0](container)
    problems = probe_problems(container)
    if problems:
        raise ManifestProblem("; ".join(problems))
    host_ports = dict(zip((port["name"] for port in container["ports"]), free_ports(len(container["ports"]))))
    with tempfile.TemporaryDirectory() as scratch:
        played = Path(scratch) / "played.yaml"
        played.write_text(yaml.safe_dump_all(overlaid_for_podman(documents, image, host_ports)))
        podman("kube", "play", str(played))
        try:
            print(f"pod ready after {wait_for_startup(container, host_ports):.1f} s (startup probe 200)")
            check_pod(deployment, container, host_ports)
        finally:
            podman("kube", "down", str(played), check=False)
        left = podman("ps", "-a", "--format", "{{.Names}}").stdout.split() + \
            podman("pod", "ps", "--format", "{{.Name}}").stdout.split()
        if left:
            raise ManifestProblem(f"podman kube down left {left}")
    print("podman kube down left nothing running")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--broken", choices=sorted(BREAKAGES),
                        help="make this mistake in the manifest; the check must then fail and name it")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
        conf.write(CONTAINERS_CONF)
    os.environ["CONTAINERS_CONF"] = conf.name
    try:
        play(args.manifest, args.image, args.broken)
    except ManifestProblem as problem:
        print(f"kube check failed: {problem}")
        if args.broken and BREAKAGES[args.broken][1] in str(problem):
            print(f"as it must with the mistake {args.broken!r}")
            return 0
        return 1
    finally:
        os.unlink(conf.name)
    if args.broken:
        print(f"the check passed with the mistake {args.broken!r}: it cannot see it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
