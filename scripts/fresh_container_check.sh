#!/usr/bin/env bash
# `make run` on a Debian that has only Python 3.11 (the container check's base image, made by
# deploy/container_base.sh with debootstrap) plus make: a fresh clone of the committed tree, copied
# into a buildah container, where make run has to install Java and python3-venv itself, start, and
# answer /healthz; then Ctrl-C. Reports how long each step took. Slow, not part of `make test`.
# Uses ports 5000-5001, 8080-8082 and 7070-7071 of this machine (host networking).
#
#   bash scripts/fresh_container_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/container_env.sh
bash deploy/container_base.sh

clone=$(mktemp -d)/mnist-fresh
git clone --quiet . "$clone"
container=$(buildah from "$BASE_IMAGE")
trap 'buildah rm "$container" >/dev/null 2>&1 || true; rm -rf "$clone"' EXIT
buildah copy "$container" "$clone" /src >/dev/null
# pip there needs this machine's CA bundle (TLS-inspecting proxy) and local wheel folder, as in the image check.
mounts=(-v /etc/ssl/certs/ca-certificates.crt:/etc/host-ca.crt:ro --env PIP_CERT=/etc/host-ca.crt)
if [[ -d /opt/wheels ]]; then
  mounts+=(-v /opt/wheels:/opt/wheels:ro --env PIP_FIND_LINKS=/opt/wheels)
fi

buildah run --isolation chroot --network host "${mounts[@]}" "$container" -- bash -c '
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
for tool in make java; do command -v $tool >/dev/null && echo "before: $tool present" || echo "before: $tool missing"; done
started=$(date +%s)
apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null
echo "make installed by hand in $(($(date +%s) - started)) s"
cd /src
started=$(date +%s)
set -m
make run > /tmp/make-run.log 2>&1 &
runner=$!
set +m
until grep -qs "The app is ready" /tmp/make-run.log; do
  if ! kill -0 $runner 2>/dev/null; then tail -30 /tmp/make-run.log; echo "make run exited before it was ready"; exit 1; fi
  sleep 2
done
echo "make run: ready in $(($(date +%s) - started)) s"
grep "^Installing missing system packages" /tmp/make-run.log
python3 -c "import urllib.request; print(\"/healthz:\", urllib.request.urlopen(\"http://127.0.0.1:5000/healthz\", timeout=5).read().decode())"
kill -INT -- -$runner
wait $runner || true
java -version 2>&1 | head -1
echo "fresh container check passed"
'
