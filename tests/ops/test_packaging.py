"""Packaging: the licence matches setup.cfg, the wheel builds and runs from a fresh venv,
and the systemd unit in deploy/ is valid and hardened."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "cse.service"


def test_the_license_file_is_the_one_setup_cfg_names():
    metadata = configparser.ConfigParser()
    metadata.read(ROOT / "setup.cfg")
    assert metadata["metadata"]["license"] == "BSD-3-Clause"
    assert metadata["metadata"]["license_files"].strip() == "LICENSE"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "Neither the name of the copyright holder nor the names of its" in text


def _source_copy(target: Path) -> Path:
    """The files git knows or would add (what a release is built from), not the venv
    or build leftovers; the build then writes nothing into the worktree."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_the_wheel_builds_and_runs_in_a_fresh_venv(tmp_path):
    """`python -m build` (without isolation: the build requirements are in the test extra,
    so no network is needed), then a fresh venv gets the wheel with --no-deps and finds the
    dependencies in this venv's site-packages through a .pth file."""
    source = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)],
                   check=True, capture_output=True, timeout=120)
    (wheel,) = dist.glob("onem2m_cse-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "server/cli.py" in names and "client/m2m.py" in names and "schemas/common.json" in names
    assert any(name.endswith(".dist-info/LICENSE") for name in names)
    assert not any(name.startswith("tests/") for name in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "--disable-pip-version-check", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=120)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "test-venv-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    outside = tmp_path / "elsewhere"        # not the source tree: only the installed package
    outside.mkdir()
    version = subprocess.run([str(venv / "bin" / "cse"), "--version"], cwd=outside, capture_output=True,
                             text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "cse (onem2m-cse) 0.1.0"
    where = subprocess.run([str(python), "-c", "import server, client; print(server.__file__, client.__file__)"],
                           cwd=outside, capture_output=True, text=True, check=True).stdout.split()
    assert all(path.startswith(site) for path in where), where
    m2m = subprocess.run([str(venv / "bin" / "m2m"), "--help"], cwd=outside, capture_output=True, text=True,
                         timeout=60)
    assert m2m.returncode == 0 and "subscribe" in m2m.stdout


HARDENING = ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
             "PrivateDevices=yes", "CapabilityBoundingSet=", "RestrictAddressFamilies=", "SystemCallFilter=",
             "DynamicUser=yes", "StateDirectory=onem2m-cse")


def test_the_systemd_unit_is_hardened():
    lines = {line.strip() for line in UNIT.read_text().splitlines()}
    for option in HARDENING:
        assert any(line.startswith(option) for line in lines), option


def test_the_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # verify checks that ExecStart exists: point it at this venv's cse instead of /opt/onem2m-cse.
    unit = tmp_path / "onem2m-cse.service"
    cse = Path(sys.executable).parent / "cse"
    unit.write_text(UNIT.read_text().replace("/opt/onem2m-cse/bin/cse", str(cse)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # Unknown or misspelt options are only warnings: none may appear.
    assert done.stderr.strip() == "" and done.stdout.strip() == "", done.stderr + done.stdout
