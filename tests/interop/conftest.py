"""tests/interop: ACME as a real peer.  Without ACME these tests are skipped, loudly: the
reason is in pytest's summary and a banner at the end says that interoperability was NOT
tested (scripts/test installs ACME into .venv-acme when it is missing)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from .peers import ACME_PYTHON, ACME_VERSION, acme_missing

_why_not: list[str] = []


@pytest.fixture(scope="session")
def acme_available() -> None:
    reason = acme_missing()
    if reason is not None:
        message = (f"ACME (acmecse=={ACME_VERSION}) cannot be run: {reason}. scripts/test installs it into "
                   f".venv-acme; set CSE_TEST_ACME_PYTHON to another interpreter with acmecse")
        _why_not.append(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def workdir():
    """A directory of the module's own for the peers' data and logs.  Not pytest's tmp_path:
    concurrent pytest runs of the same user prune each other's basetemp directories, which
    would pull the data directory from under a running ACME.  Removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="cse-interop-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _why_not:
        terminalreporter.write_sep("!", "INTEROPERABILITY WITH ACME NOT TESTED", red=True, bold=True)
        terminalreporter.write_line(_why_not[0], red=True)
