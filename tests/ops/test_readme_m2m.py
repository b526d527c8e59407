"""The README's m2m walkthrough works as written, command by command, against a CSE process."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def walkthrough() -> list[list[str]]:
    start = README.index("### The same with `m2m`")
    end = README.index("\n## ", start)
    return [shlex.split(line.strip()) for line in README[start:end].splitlines() if line.startswith("    m2m ")]


def test_the_readme_m2m_walkthrough(tmp_path):
    commands = walkthrough()
    assert [c[3] for c in commands] == ["register", "create", "create", "retrieve", "discover", "delete"]
    cse = subprocess.Popen([sys.executable, "-m", "server", "--port", "0", "--data-dir", str(tmp_path),
                            "--log-level", "WARNING"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, cwd=ROOT)
    try:
        url = re.search(r"serving (http://\S+)", cse.stdout.readline()).group(1)
        outputs = []
        for command in commands:
            done = subprocess.run([sys.executable, "-m", "client.m2m", *command[1:]], capture_output=True, text=True,
                                  timeout=60, cwd=ROOT, env={**os.environ, "M2M_URL": url})
            assert done.returncode == 0, (command, done.stderr)
            outputs.append(json.loads(done.stdout) if done.stdout.strip() else None)
    finally:
        cse.terminate()
        cse.wait(timeout=15)
    assert outputs[0]["m2m:ae"]["aei"] == "Cmeter01"
    assert json.loads(outputs[3]["m2m:cin"]["con"]) == {"w": 1530}
    assert outputs[4] == {"m2m:uril": ["cse-in/meter01/power"]}
