"""Settings whose list items have the wrong type are refused at start-up, not at the first
request that uses them (an AE registration that matched the pattern 1 answered 5000)."""
import pytest

from cse.config import ConfigError, load_config


@pytest.mark.parametrize("toml, words", [
    ("[cse]\nallowed_ae_originators = [1]\n", "cse.allowed_ae_originators"),
    ("[cse]\nsupported_releases = [3]\n", "cse.supported_releases"),
    ("[cse]\nallowed_cse_originators = ['/*', true]\n", "cse.allowed_cse_originators"),
])
def test_list_items_of_the_wrong_type(tmp_path, toml, words):
    path = tmp_path / "cse.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=words) as caught:
        load_config(path)
    assert "str" in str(caught.value)


def test_lists_of_strings_are_read(tmp_path):
    path = tmp_path / "cse.toml"
    path.write_text("[cse]\nallowed_ae_originators = ['Cmeter*']\nsupported_releases = ['3']\n")
    config = load_config(path)
    assert config.cse.allowed_ae_originators == ["Cmeter*"]
    assert config.cse.supported_releases == ["3"]
