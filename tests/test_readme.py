"""README.md is the user's manual: its settings table must say what the code does."""

import html
import re
from pathlib import Path

from hf_audit import readme_settings
from hf_audit.cli import OPTIONS
from hf_audit.errors import ExitCode

README_PATH = Path(__file__).resolve().parents[1] / "README.md"
README = README_PATH.read_text()


def settings_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for match in re.finditer(r"^\| `(HF_[A-Z_]+)` \| (.+?) \| (.+?) \| .+ \|$", README, re.MULTILINE):
        env, flag, default = match.groups()
        rows[env] = (flag.strip("`"), html.unescape(default))
    return rows


def test_every_setting_is_in_the_readme_table_with_its_flag_and_default():
    rows = settings_rows()
    for option in OPTIONS:
        assert option.env in rows, f"{option.env} missing from the README settings table"
        assert rows[option.env] == (option.flag, option.default), option.env


def test_the_readme_table_lists_no_setting_the_code_lacks():
    assert set(settings_rows()) - {o.env for o in OPTIONS} == {"HF_TOKEN"}


def test_the_token_has_no_flag():
    assert settings_rows()["HF_TOKEN"][0].startswith("(none")


def test_every_exit_code_is_documented():
    documented = {int(code) for code in re.findall(r"^\| (\d+) \| ", README, re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}


def test_the_readme_names_the_two_setup_commands():
    assert "make demo" in README and "make test" in README


def test_the_settings_table_is_the_one_generated_from_the_declarations():
    # Regenerate with: python -m hf_audit.readme_settings --update README.md
    assert readme_settings.with_table(README) == README, "stale settings table: python -m hf_audit.readme_settings --update README.md"


def test_the_stale_table_check_fails_on_an_edited_table(tmp_path):
    edited = tmp_path / "README.md"
    edited.write_text(README.replace("| 24h |", "| 12h |", 1))
    assert readme_settings.main(["--check", str(edited)]) == 1
    assert readme_settings.main(["--update", str(edited)]) == 0
    assert edited.read_text() == README
    assert readme_settings.main(["--check", str(README_PATH)]) == 0
