"""`.ci/debian-packages` against the real apt-cache, with chromium hidden.

The script decides whether apt can install a missing package by reading the real
`apt-cache policy`; only apt-get is a stand-in, one that installs nothing, so every
run must get as far as "installed, but still not found". A check that lost a race with
SIGPIPE (`apt-cache policy | grep -q` under pipefail) said "apt has no package"
instead, most of the time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT

SCRIPT = ROOT / ".ci" / "debian-packages"
# What the script runs besides apt-get; each is linked into a folder that is all of PATH.
TOOLS = ("bash", "env", "grep", "id", "mktemp", "rm", "tail", "apt-cache")
RUNS = 12


def has_candidate(package: str) -> bool:
    policy = subprocess.run(
        ["apt-cache", "policy", package], capture_output=True, text=True, check=False
    ).stdout
    return "Candidate:" in policy and "Candidate: (none)" not in policy


@pytest.fixture(scope="module")
def apt_lists():
    """apt's package lists, read by the real apt-cache (fetched once if there are none)."""
    if shutil.which("apt-cache") is None:
        if IN_CI:
            pytest.fail("no apt-cache: CI runs on Debian", pytrace=False)
        pytest.skip("not a Debian system: no apt-cache")
    if not has_candidate("chromium"):
        if os.geteuid() != 0:
            pytest.fail("apt knows no chromium and `apt-get update` needs root", pytrace=False)
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)
    assert has_candidate("chromium"), "apt-get update brought no chromium candidate"


@pytest.fixture
def path_without_chromium(tmp_path) -> dict[str, str]:
    """An environment whose PATH has the script's tools, a stand-in apt-get, no chromium."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is not installed"
        (bin_dir / tool).symlink_to(found)
    log = tmp_path / "apt-get.log"
    stand_in = bin_dir / "apt-get"
    stand_in.write_text(f'#!{shutil.which("bash")}\necho "$*" >>{log}\n')
    stand_in.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if not key.startswith("APT_")}
    env.pop("MOODLAB_CHROMIUM", None)
    return {**env, "PATH": str(bin_dir), "TMPDIR": str(tmp_path), "APT_LOG": str(log)}


def test_a_missing_chromium_is_found_in_apt_every_time(apt_lists, path_without_chromium):
    env = path_without_chromium
    for run in range(RUNS):
        done = subprocess.run(
            [shutil.which("bash") or "bash", str(SCRIPT), "--caller", "make test", "chromium"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        # The stand-in installed nothing, so the script ends on its last check: apt
        # had the package, and installing it was tried.
        assert done.returncode == 1, (run, done.stdout, done.stderr)
        assert "apt-get installed chromium, but it is still not found" in done.stderr, (
            f"run {run + 1} of {RUNS}: {done.stderr}"
        )
        assert "installing Debian's chromium for the browser tests" in done.stdout
    calls = Path(env["APT_LOG"]).read_text().splitlines()
    assert calls.count("install -y -qq chromium") == RUNS
    assert calls.count("update -qq") == RUNS


def test_a_package_apt_does_not_know_is_named(apt_lists, path_without_chromium, tmp_path):
    # A stand-in apt-cache whose policy has no candidate: the script says so and stops
    # before installing anything.
    fake = tmp_path / "bin" / "apt-cache"
    fake.unlink()
    fake.write_text(
        "#!/bin/sh\nprintf 'chromium:\\n  Installed: (none)\\n  Candidate: (none)\\n'\n"
    )
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", str(SCRIPT), "--caller", "make test", "chromium"],
        capture_output=True,
        text=True,
        env=path_without_chromium,
        timeout=60,
    )
    assert done.returncode == 1
    assert "apt has no package chromium (needed by the browser tests)" in done.stderr
    assert "install" not in Path(path_without_chromium["APT_LOG"]).read_text()
