#!/usr/bin/env bash
# Install the Debian packages a make task needs, if any is missing (called by the Makefile):
#
#   bash scripts/system_packages.sh openjdk-17-jre-headless chromium ...
#
# As root, or with password-less sudo, it runs apt-get; otherwise it stops, before anything else
# runs, with one line naming the missing packages and the command that installs them.
set -euo pipefail
PYTHON=${PYTHON:-python3}

java_17_or_later() {
  local major
  major=$(java -version 2>&1 | sed -nE 's/.*version "(1\.)?([0-9]+).*/\2/p' | head -1)
  [[ $major =~ ^[0-9]+$ ]] && ((major >= 17))
}

# Whether what a package provides is already there (not whether dpkg lists it: a Java or a
# Chromium installed another way counts too).
installed() {
  case $1 in
    openjdk-17-jre-headless) command -v java >/dev/null && java_17_or_later ;;
    python3-venv) "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null ;;
    # The browser tests and Playwright use Debian's Chromium at this path.
    chromium) [[ -x /usr/bin/chromium ]] ;;
    # The corrections store's tests start their own server from Debian's programs (tests/fixtures/postgres.py).
    postgresql) compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null ;;
    *) command -v "$1" >/dev/null ;;
  esac
}

missing=()
for package in "$@"; do
  installed "$package" || missing+=("$package")
done
((${#missing[@]})) || exit 0

install_command=(apt-get install -y --no-install-recommends "${missing[@]}")
if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "Missing system packages: ${missing[*]}. Install them with: sudo apt-get update && sudo ${install_command[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${missing[*]}, and no apt-get to install them with: install them with this system's package manager." >&2
  exit 1
fi
echo "Installing missing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" "${install_command[@]}" -qq
