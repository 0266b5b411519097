"""scripts/system_packages.sh, which `make run` and `make test` call first: silent when nothing is
missing, and for a user who can neither be root nor sudo, one line naming every missing package and
the command that installs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from serving.settings import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "system_packages.sh"
NOBODY = 65534


def run_script(*packages: str, path: str, as_nobody: bool = False) -> subprocess.CompletedProcess:
    command = [shutil.which("bash"), str(SCRIPT), *packages]
    if as_nobody:
        command = [shutil.which("setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env={"PATH": path, "PYTHON": sys.executable, "HOME": "/"})


def test_nothing_missing_installs_nothing_and_says_nothing():
    finished = run_script("python3-venv", "bash", path=os.environ["PATH"])
    assert (finished.returncode, finished.stdout, finished.stderr) == (0, "", "")


def test_without_root_or_sudo_it_names_the_missing_packages_in_one_line(tmp_path):
    # A PATH with bash and nothing else: no java, no npm, no buildah, no sudo.
    (tmp_path / "bash").symlink_to(shutil.which("bash"))
    finished = run_script("openjdk-17-jre-headless", "npm", "buildah", path=str(tmp_path), as_nobody=True)
    assert finished.returncode == 1 and finished.stdout == ""
    [line] = finished.stderr.splitlines()
    assert line.startswith("Missing system packages: openjdk-17-jre-headless npm buildah.")
    assert "sudo apt-get install -y --no-install-recommends openjdk-17-jre-headless npm buildah" in line
