#!/usr/bin/env bash
# The README's two commands as a newcomer meets them: in a fresh clone of the committed HEAD, with
# no environment, data or model archive, run `make run` until the page answers (then Ctrl-C, as a
# person would), then `make test`, and report how long each took. Slow (both Python environments
# are installed from nothing): not part of `make test`.
#
#   bash scripts/fresh_clone_check.sh [CLONE_DIR]     (default: a new temporary folder)
set -euo pipefail
source_repo=$(cd "$(dirname "$0")/.." && pwd)
clone=${1:-$(mktemp -d)/mnist-fresh}
READY_TIMEOUT_S=1200
STOP_TIMEOUT_S=60

git clone --quiet "$source_repo" "$clone"
cd "$clone"
echo "fresh clone of $(git rev-parse --short HEAD) in $clone"
for tool in java chromium npm; do
  command -v "$tool" >/dev/null && echo "before: $tool present" || echo "before: $tool missing"
done

echo "--- make run (log: $clone/make-run.log)"
started=$(date +%s)
# Job control: the job gets a process group of its own, and SIGINT is not ignored in it as it is in
# a plain background job, so Ctrl-C can be sent to it as a terminal would.
set -m
make run > make-run.log 2>&1 &
runner=$!
set +m
ready=
while kill -0 "$runner" 2>/dev/null && (($(date +%s) - started < READY_TIMEOUT_S)); do
  if grep -qs "The app is ready" make-run.log; then ready=yes; break; fi
  sleep 2
done
ready_s=$(($(date +%s) - started))
if [[ -z $ready ]]; then
  tail -20 make-run.log
  echo "make run: not ready after ${ready_s} s"
  kill -INT -- "-$runner" 2>/dev/null || true
  exit 1
fi
health=$(curl -sf http://127.0.0.1:5000/healthz)
stop_started=$(date +%s)
kill -INT -- "-$runner"
while kill -0 "$runner" 2>/dev/null; do
  if (($(date +%s) - stop_started > STOP_TIMEOUT_S)); then echo "make run: still running ${STOP_TIMEOUT_S} s after Ctrl-C"; exit 1; fi
  sleep 1
done
sleep 2
if pgrep -f "org.pytorch.serve.ModelServer .*$clone/config.properties" >/dev/null; then
  echo "make run: TorchServe outlived Ctrl-C"
  exit 1
fi
echo "make run: ready in ${ready_s} s, /healthz said $health, Ctrl-C stopped both"

echo "--- make test (log: $clone/make-test.log)"
started=$(date +%s)
status=0
make test > make-test.log 2>&1 || status=$?
test_s=$(($(date +%s) - started))
grep -E "^=+ .*(passed|failed|error).* in " make-test.log || true
echo "make test: exit $status after ${test_s} s"
exit "$status"
