"""The README documents every setting (issue: "every setting documented in the README")."""
import dataclasses
import re
from pathlib import Path

from cse.config import Config

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
TOP = "**Top level and `[cse]`**"


def section(title: str) -> str:
    start = README.index(title)
    following = README.find("\n**", start + len(title))
    return README[start:following if following != -1 else len(README)]


def documented_names() -> list[tuple[str, str, str]]:
    """(section, key, README text of that section's table) for every setting."""
    found = [("", "log_level", section(TOP))]
    defaults = Config()
    for field in dataclasses.fields(Config):
        settings = getattr(defaults, field.name)
        if dataclasses.is_dataclass(settings):
            text = section(TOP if field.name == "cse" else f"**`[{field.name}]`**")
            found.extend((field.name, f.name, text) for f in dataclasses.fields(settings))
    return found


def test_every_setting_is_in_the_readme_table_of_its_section():
    missing = [f"[{name}] {key}" for name, key, text in documented_names()
               if not re.search(rf"`{re.escape(key)}`", text)]
    assert not missing, f"settings missing from the README: {missing}"
