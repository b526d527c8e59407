"""[notification] settings: bad values are refused at start-up with the setting's name."""
from __future__ import annotations

import pytest

from cse.config import ConfigError, load_config


@pytest.mark.parametrize("name, value, words", [
    ("queue_size", 0, "at least 1"),
    ("pipeline", 0, "at least 1"),
    ("timeout", 0.0, "positive"),
    ("retry_initial", -1.0, "positive"),
    ("max_attempts", -1, "cannot be negative"),
    ("shutdown_timeout", -0.5, "cannot be negative"),
])
def test_bad_notification_settings_are_refused(tmp_path, name, value, words):
    config = tmp_path / "cse.toml"
    config.write_text(f"[notification]\n{name} = {value}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert f"notification.{name}" in str(raised.value) and words in str(raised.value)


def test_unknown_and_mistyped_notification_settings_are_refused(tmp_path):
    config = tmp_path / "cse.toml"
    config.write_text("[notification]\nqueue_sise = 10\n")
    with pytest.raises(ConfigError, match="queue_sise"):
        load_config(config)
    config.write_text('[notification]\nqueue_size = "10"\n')
    with pytest.raises(ConfigError, match="notification.queue_size must be of type int"):
        load_config(config)


def test_notification_settings_are_read(tmp_path):
    config = tmp_path / "cse.toml"
    config.write_text("[notification]\nqueue_size = 50\npipeline = 1\ntimeout = 3\n")
    settings = load_config(config).notification
    assert (settings.queue_size, settings.pipeline, settings.timeout) == (50, 1, 3.0)
