"""Where the Hub token comes from: HF_TOKEN, a token file, or the file `huggingface-cli login` writes.

Finding the token is its own job, apart from validating settings: the token is never a flag (argv
shows in `ps` and in the Fluent Bit config), a token file is checked before it is trusted, and
what this module reports says where the token came from, never what it is.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, NamedTuple, overload

from pydantic import SecretStr

from .errors import AuthError


def _login_token_file(env: Mapping[str, str]) -> Path:
    """The file `huggingface-cli login` writes: $HF_HOME/token, HF_HOME defaulting to ~/.cache/huggingface."""
    hf_home = env.get("HF_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache" / "huggingface")
    return Path(hf_home).expanduser() / "token"


MAX_TOKEN_FILE_BYTES = 4096  # a token is ~40 bytes; anything far larger is not a token file


class FoundToken(NamedTuple):
    token: SecretStr
    source: str  # where it came from, for messages; never the token itself
    warning: str = ""  # e.g. a token file others may read


def candidate_tokens(env: Mapping[str, str], token_path: str | None) -> list[str]:
    """The token the settings name, read quietly, so that it is masked in any message printed
    before the settings are validated (a token pasted into another flag, say). Only the source
    that would be used is read: no other file is opened."""
    try:
        return [find_token(env, token_path).token.get_secret_value()]
    except AuthError:
        return [token] if (token := env.get("HF_TOKEN", "").strip()) else []


def find_token(env: Mapping[str, str], token_path: str | None = None) -> FoundToken:
    """The token and a description of where it came from (never the token itself).

    Order: HF_TOKEN, then the file named by --token-path / HF_TOKEN_PATH, then the file that
    `huggingface-cli login` writes ($HF_HOME/token, HF_HOME defaulting to ~/.cache/huggingface).
    """
    if env.get("HF_TOKEN", "").strip():
        return _checked_token(env["HF_TOKEN"], "the HF_TOKEN environment variable")
    path_text = token_path or env.get("HF_TOKEN_PATH")
    if path_text:
        return _read_token_file(Path(path_text).expanduser(), required=True)
    login_file = _login_token_file(env)
    found = _read_token_file(login_file, required=False)
    if found is None:
        raise AuthError(
            "no Hugging Face token found: set HF_TOKEN, or HF_TOKEN_PATH to a file holding it, "
            f"or run `huggingface-cli login` (checked HF_TOKEN, HF_TOKEN_PATH and {login_file})"
        )
    return found


@overload
def _read_token_file(path: Path, *, required: Literal[True]) -> FoundToken: ...
@overload
def _read_token_file(path: Path, *, required: Literal[False]) -> FoundToken | None: ...
def _read_token_file(path: Path, *, required: bool) -> FoundToken | None:
    """The token in `path`: a regular file of at most MAX_TOKEN_FILE_BYTES of UTF-8. Opened without
    blocking and checked before reading, so a FIFO cannot hang the poll nor /dev/zero fill memory."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if required:
            # A path whose directory is missing too is more likely a token pasted in the wrong place.
            shown = str(path) if path.parent.is_dir() and path.parent != Path(".") else "(path not shown: its directory does not exist either)"
            raise AuthError(f"token file {shown} does not exist") from None
        return None
    except OSError as exc:
        raise AuthError(f"token file {path} cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AuthError(f"token file {path} is not a regular file")
        data = b""
        while len(data) <= MAX_TOKEN_FILE_BYTES and (block := os.read(fd, MAX_TOKEN_FILE_BYTES + 1 - len(data))):
            data += block
    except OSError as exc:
        raise AuthError(f"token file {path} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise AuthError(f"token file {path} is larger than {MAX_TOKEN_FILE_BYTES} bytes: it does not hold just a token")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthError(f"token file {path} is not UTF-8 text") from None
    found = _checked_token(text, f"the file {path}")
    if info.st_mode & 0o077:
        warning = (
            f"the token file {path} is open to group or others (mode {stat.S_IMODE(info.st_mode):04o}): "
            "other users may read the token; chmod 600 it"
        )
        return found._replace(warning=warning)
    return found


def _checked_token(raw: str, source: str) -> FoundToken:
    token = raw.strip()
    if not token:
        raise AuthError(f"the token from {source} is empty")
    if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
        # Only printable ASCII can go in an HTTP header; anything else would fail deep in
        # http.client with an error that might quote the header.
        raise AuthError(f"the token from {source} contains whitespace, control or non-ASCII characters")
    return FoundToken(SecretStr(token), source)
