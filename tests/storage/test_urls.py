"""Where the configured data directory puts the database files."""
from __future__ import annotations

import pytest

from cse.config import load_config
from cse.storage import StorageError, open_storage


@pytest.mark.parametrize("backend, place", [("sqlite", "cse.sqlite"), ("tinydb", "tinydb")])
def test_a_relative_data_dir_is_relative_to_the_working_directory(tmp_path, monkeypatch, backend, place):
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {"storage.data_dir": "data", "storage.backend": backend})
    storage = open_storage(config.storage.resolved_url())
    storage.open()
    try:
        assert (tmp_path / "data" / place).exists()
        assert storage.url == f"{backend}://{tmp_path / 'data' / place}"
    finally:
        storage.close()


@pytest.mark.parametrize("backend, place", [("sqlite", "cse.sqlite"), ("tinydb", "tinydb")])
def test_an_absolute_data_dir_is_used_as_is(tmp_path, backend, place):
    config = load_config(None, {"storage.data_dir": str(tmp_path / "abs"), "storage.backend": backend})
    storage = open_storage(config.storage.resolved_url())
    storage.open()
    storage.close()
    assert (tmp_path / "abs" / place).exists()


@pytest.mark.parametrize("url", ["postgre://x", "pg://host/db", "tinydb", "", "file:///x"])
def test_unknown_storage_urls_are_refused(url):
    with pytest.raises(StorageError, match="unsupported storage URL"):
        open_storage(url)


async def test_a_config_file_storage_url_runs_the_cse_on_postgresql(tmp_path):
    """[storage] url = "postgresql://..." in the config file: the CSE's tree is in that schema."""
    from cse.app import build_cse
    from tests.postgres import TestSchema, connect

    schema = TestSchema()
    config_file = tmp_path / "cse.toml"
    config_file.write_text(f'[storage]\nurl = "{schema.url}"\n[http]\nport = 0\n')
    cse = build_cse(load_config(config_file))
    await cse.start()
    try:
        with connect() as conn:
            paths = [row[0] for row in conn.execute(f'SELECT path FROM "{schema.name}".resources')]
        assert paths == ["cse-in"]
    finally:
        await cse.stop()
        schema.drop()
