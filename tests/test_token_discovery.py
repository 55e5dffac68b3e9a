"""Finding the Hub token (token_discovery.py): where it is looked for, in which order, and the checks
a token file passes before it is trusted. Messages say where the token came from, never what it is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hf_audit.errors import AuthError
from hf_audit.token_discovery import MAX_TOKEN_FILE_BYTES, candidate_tokens, find_token

TOKEN = "hf_discovered_token_value"


def token_file(directory: Path, content: bytes = TOKEN.encode(), mode: int = 0o600, name: str = "token") -> Path:
    path = directory / name
    path.write_bytes(content)
    path.chmod(mode)
    return path


def test_hf_token_wins_over_a_token_file(tmp_path: Path) -> None:
    found = find_token({"HF_TOKEN": " hf_from_env ", "HF_TOKEN_PATH": str(token_file(tmp_path))})
    assert (found.token.get_secret_value(), found.source) == ("hf_from_env", "the HF_TOKEN environment variable")


def test_the_token_path_argument_wins_over_hf_token_path(tmp_path: Path) -> None:
    given = token_file(tmp_path, b"hf_given", name="given")
    found = find_token({"HF_TOKEN_PATH": str(token_file(tmp_path))}, str(given))
    assert found.token.get_secret_value() == "hf_given" and str(given) in found.source


def test_the_huggingface_cli_login_file_under_hf_home_is_the_last_resort(tmp_path: Path) -> None:
    token_file(tmp_path)
    found = find_token({"HF_HOME": str(tmp_path)})
    assert found.token.get_secret_value() == TOKEN and str(tmp_path / "token") in found.source


def test_hf_home_defaults_to_the_cache_under_home(tmp_path: Path) -> None:
    (tmp_path / ".cache" / "huggingface").mkdir(parents=True)
    token_file(tmp_path / ".cache" / "huggingface")
    assert find_token({"HOME": str(tmp_path)}).token.get_secret_value() == TOKEN


def test_no_token_anywhere_names_every_place_looked(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="HF_TOKEN, HF_TOKEN_PATH and .*token"):
        find_token({"HF_HOME": str(tmp_path)})


def test_a_named_token_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="does not exist"):
        find_token({"HF_TOKEN_PATH": str(tmp_path / "missing")})


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(AuthError, match="not a regular file"):
        find_token({"HF_TOKEN_PATH": str(fifo)})


def test_a_file_over_4_kb_is_refused(tmp_path: Path) -> None:
    big = token_file(tmp_path, b"h" * (MAX_TOKEN_FILE_BYTES + 1))
    with pytest.raises(AuthError, match=f"larger than {MAX_TOKEN_FILE_BYTES} bytes"):
        find_token({"HF_TOKEN_PATH": str(big)})


def test_a_file_of_exactly_4_kb_is_read(tmp_path: Path) -> None:
    exact = token_file(tmp_path, b"h" * MAX_TOKEN_FILE_BYTES)
    assert len(find_token({"HF_TOKEN_PATH": str(exact)}).token.get_secret_value()) == MAX_TOKEN_FILE_BYTES


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="not UTF-8"):
        find_token({"HF_TOKEN_PATH": str(token_file(tmp_path, b"hf_\xff\xfe"))})


@pytest.mark.parametrize("content", [b"", b"  \n", b"hf_two words", "hf_\u00e9t\u00e9".encode(), b"hf_\x07bell"])
def test_an_empty_or_unprintable_token_is_refused_without_quoting_it(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(AuthError) as raised:
        find_token({"HF_TOKEN_PATH": str(token_file(tmp_path, content))})
    assert content.strip() == b"" or content.decode() not in raised.value.message


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o400, False), (0o640, True), (0o644, True)])
def test_a_token_file_open_to_group_or_others_is_warned_about(tmp_path: Path, mode: int, warned: bool) -> None:
    found = find_token({"HF_TOKEN_PATH": str(token_file(tmp_path, mode=mode))})
    assert bool(found.warning) == warned
    assert TOKEN not in found.warning and TOKEN not in found.source


def test_candidate_tokens_reads_only_the_source_that_would_be_used(tmp_path: Path) -> None:
    token_file(tmp_path)  # the login file: not read when HF_TOKEN is set
    assert candidate_tokens({"HF_TOKEN": "hf_env", "HF_HOME": str(tmp_path)}, None) == ["hf_env"]


def test_candidate_tokens_keeps_an_unusable_hf_token_for_masking() -> None:
    # A token with a space is refused as a token, but must still be masked in any message.
    assert candidate_tokens({"HF_TOKEN": "hf_with space"}, None) == ["hf_with space"]
