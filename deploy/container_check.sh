#!/usr/bin/env bash
# Build the Dockerfile without a Docker engine (buildah, chroot isolation), run its entrypoint,
# and check the image from the outside: health, a real MNIST digit through the web app and through
# TorchServe directly, and the image's config (user, ports, healthcheck, entrypoint).
#
#   make container-check      (about 5 minutes the first time, with the base image to make)
#
# Needs Debian's buildah and debootstrap, and the serving environment (.venv-serve) for the probe.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/container_env.sh
IMAGE=localhost/mnist-digits:check
PROBE_PY=${PROBE_PY:-.venv-serve/bin/python}

bash deploy/container_base.sh

# pip inside the build needs this machine's CA bundle (TLS-inspecting proxy) and local wheel folder.
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "TORCH_INDEX_URL=")
build_args+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/host-ca.crt:ro --build-arg PIP_CERT=/etc/host-ca.crt)
if [[ -d /opt/wheels ]]; then
  build_args+=(-v /opt/wheels:/opt/wheels:ro --build-arg PIP_FIND_LINKS=/opt/wheels)
fi
started=$(date +%s)
# Docker format: the OCI format has no HEALTHCHECK.
buildah bud --isolation chroot --network host --layers --format docker "${build_args[@]}" -t "$IMAGE" .
echo "image built in $(( $(date +%s) - started )) s"

echo "--- image config"
buildah inspect --type image "$IMAGE" > "$CACHE_DIR/image.json"
"$PROBE_PY" - "$CACHE_DIR/image.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))["Docker"]["config"]
problems = []
if config.get("User") in (None, "", "root", "0"):
    problems.append(f"runs as root (User={config.get('User')!r})")
exposed = set(config.get("ExposedPorts") or {})
if not {"5000/tcp", "8080/tcp"} <= exposed or "8081/tcp" in exposed:
    problems.append(f"exposed ports {sorted(exposed)}, expected 5000 and 8080 and not 8081")
if config.get("Entrypoint") != ["python3", "-m", "web.run_app"]:
    problems.append(f"unexpected entrypoint {config.get('Entrypoint')}")
if "/healthz" not in " ".join((config.get("Healthcheck") or {}).get("Test", [])):
    problems.append("no HEALTHCHECK on /healthz")
if problems:
    sys.exit("image config: " + "; ".join(problems))
print(f"image config: user {config['User']}, ports {sorted(exposed)}, entrypoint {config['Entrypoint']}, "
      f"healthcheck {config['Healthcheck']['Test']}")
PY

echo "--- running the entrypoint"
container=$(buildah from "$IMAGE")
runner=
# The container's TorchServe is the Java process reading /app/config.properties.
CONTAINER_TORCHSERVE="org.pytorch.serve.ModelServer .*-f /app/config.properties"
cleanup() {
  # After a failed step: SIGTERM, so the entrypoint stops its TorchServe, then make sure Java is gone
  # (a SIGKILLed entrypoint left it running and holding the ports).
  if [[ -n $runner ]] && kill -0 "$runner" 2>/dev/null; then
    pkill -TERM -f "^[^ ]*python3 -m web.run_app" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$runner" 2>/dev/null || break; sleep 1; done
  fi
  pkill -KILL -f "$CONTAINER_TORCHSERVE" 2>/dev/null || true
  buildah rm "$container" >/dev/null 2>&1 || true
}
trap cleanup EXIT
buildah run --isolation chroot --network host "$container" -- python3 -m web.run_app &
runner=$!
for _ in $(seq 1 90); do
  if curl -sf http://127.0.0.1:5000/healthz >/dev/null; then break; fi
  sleep 2
done
curl -sf http://127.0.0.1:5000/healthz
echo
"$PROBE_PY" -m deploy.probe

echo "--- SIGTERM, as docker stop sends it"
pkill -TERM -f "^[^ ]*python3 -m web.run_app"
status=0
wait "$runner" || status=$?
runner=
if ((status != 0)); then echo "the entrypoint exited with $status after SIGTERM"; exit 1; fi
sleep 1
if pgrep -f "$CONTAINER_TORCHSERVE" >/dev/null; then
  echo "TorchServe outlived the entrypoint"; exit 1
fi
echo "entrypoint stopped cleanly; container check passed"
