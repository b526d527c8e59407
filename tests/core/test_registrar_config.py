"""[registrar] settings and their command-line flags: bad values are refused at start-up."""
import pytest

from cse.config import ConfigError, load_config
from server.cli import config_from_args

MN = {"cse.type": "MN", "cse.cse_id": "/id-mn", "registrar.url": "http://127.0.0.1:8080",
      "registrar.cse_id": "/id-in"}


def test_flags_fill_the_registrar_section():
    config = config_from_args(["--type", "MN", "--cse-id", "/id-mn", "--registrar-url", "http://10.0.0.1:8080",
                               "--registrar-id", "/id-in", "--registrar-rn", "platform",
                               "--registrar-keepalive", "5", "--deregister-on-exit"])
    registrar = config.registrar
    assert (registrar.url, registrar.cse_id, registrar.rn) == ("http://10.0.0.1:8080", "/id-in", "platform")
    assert registrar.keepalive == 5.0
    assert registrar.deregister_on_shutdown is True
    assert config_from_args([]).registrar.url == ""


def test_toml_registrar_section(tmp_path):
    path = tmp_path / "mn.toml"
    path.write_text('[cse]\ntype = "MN"\ncse_id = "/id-mn"\n'
                    '[registrar]\nurl = "http://127.0.0.1:9000"\ncse_id = "/id-in"\nkeepalive = 10\n')
    config = load_config(path)
    assert config.registrar.keepalive == 10.0
    assert config.registrar.rn == "cse-in"


@pytest.mark.parametrize("overrides, words", [
    ({"registrar.url": "10.0.0.1:8080"}, "registrar.url"),
    ({"registrar.cse_id": "id-in"}, "registrar.cse_id"),
    ({"registrar.cse_id": "/id-in/x"}, "registrar.cse_id"),
    ({"registrar.cse_id": "/id-mn"}, "own CSE-ID"),
    ({"cse.type": "IN"}, "IN-CSE has no registrar"),
    ({"registrar.rn": "a/b"}, "registrar.rn"),
    ({"registrar.keepalive": 0}, "registrar.keepalive"),
    ({"registrar.retry_min": 5.0, "registrar.retry_max": 1.0}, "retry_max"),
])
def test_bad_registrar_settings(overrides, words):
    with pytest.raises(ConfigError, match=words):
        load_config(None, {**MN, **overrides})


def test_bad_registrar_flag_is_a_clear_exit(capsys):
    from server.cli import main
    assert main(["--cse-id", "/id-mn", "--registrar-url", "http://127.0.0.1:1", "--registrar-id", "/id-in"]) == 2
    assert "IN-CSE has no registrar" in capsys.readouterr().err
