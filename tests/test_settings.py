"""Settings from flags and environment: validated before any request, token never from argv."""

from datetime import timedelta
from pathlib import Path

import pytest

from hf_audit.cli import OPTIONS, build_parser, load_settings
from hf_audit.declarations import BY_FIELD
from hf_audit.errors import AuthError, UsageError
from hf_audit.settings import Settings, converter, parse_duration, validate_endpoint, validate_org
from test_readme import settings_rows


def settings_from(env: dict, argv: list[str] | None = None):
    return load_settings(build_parser().parse_args(argv or []), env)


BASE = {"HF_ORG": "acme", "HF_TOKEN": "hf_example_token", "HOME": "/nonexistent"}


def test_environment_variables_configure_the_poll(tmp_path):
    s = settings_from({**BASE, "HF_ENDPOINT": "http://127.0.0.1:9/", "HF_AUDIT_STATE_DIR": str(tmp_path), "HF_AUDIT_QUERY": "type:repo.create"})
    assert (s.org, s.endpoint, s.state_dir, s.query) == ("acme", "http://127.0.0.1:9", tmp_path, "type:repo.create")
    assert s.token.get_secret_value() == "hf_example_token"
    assert s.token_source == "the HF_TOKEN environment variable"


def test_flags_override_environment():
    assert settings_from({**BASE}, ["--org", "other-org"]).org == "other-org"


def test_defaults_are_the_documented_ones():
    s = settings_from(BASE)
    assert s.endpoint == "https://huggingface.co"
    assert s.lookback == timedelta(hours=24)
    assert s.backfill.mode == "all"
    assert s.max_line_bytes == 65535
    assert s.effective_source_id == "huggingface-acme"
    assert str(s.state_dir) == "/nonexistent/.local/state/hf-audit"


# README defaults written in words, and the value each stands for with BASE's environment.
DEFAULTS_IN_WORDS = {
    "query": "",
    "state_dir": Path("/nonexistent/.local/state/hf-audit"),
    "ca_bundle": None,
    "source_id": "",  # the sourceID column then reads huggingface-<org>: see effective_source_id
    "metrics_file": None,  # the file is then <state dir>/<org>.prom: see metrics_path
    "geoip_city_db": None,  # no enrichment from a City database
    "geoip_asn_db": None,
    "iptoasn_tsv": None,
}
# Options that are not fields of the settings model: the token path is only where to look for the
# token, and logging is set up before the settings exist.
NOT_MODEL_FIELDS = {"token_path", "log_level", "log_format"}
# Model fields without a default: the organization must be given; the state directory's default
# depends on the environment, so the CLI works it out (default_state_dir).
REQUIRED_IN_MODEL = {"org", "state_dir"}


DECLARED_FIELDS = [name for name, field in Settings.model_fields.items() if field.json_schema_extra]


def readme_default(field: str, env: str) -> object:
    """The README's default for a model field, as the value it stands for."""
    text = settings_rows()[env][1]
    return DEFAULTS_IN_WORDS[field] if field in DEFAULTS_IN_WORDS else converter(BY_FIELD[field])(text)


@pytest.mark.parametrize("name", [n for n in DECLARED_FIELDS if n != "org"])
def test_each_default_is_the_same_in_the_readme_the_model_and_a_loaded_poll(name):
    field = Settings.model_fields[name]
    extra = field.json_schema_extra
    assert isinstance(extra, dict)
    flag, env = extra["flag"], extra["env"]
    assert settings_rows()[env] == (flag, extra["default_shown"])
    documented = readme_default(name, str(env))
    if name in REQUIRED_IN_MODEL:
        assert field.is_required()
    else:
        assert field.default == documented
    assert getattr(settings_from(BASE), name) == documented


def test_every_model_field_but_the_token_is_declared_with_its_flag_variable_and_help():
    assert set(Settings.model_fields) - set(DECLARED_FIELDS) == {"token", "token_source", "token_warning"}
    for name in DECLARED_FIELDS:
        field = Settings.model_fields[name]
        option = next(o for o in OPTIONS if o.field == name)
        assert field.json_schema_extra == {"flag": option.flag, "env": option.env, "default_shown": option.default}, name
        assert field.description == option.help, name


def test_the_options_that_are_not_model_fields_have_their_documented_defaults():
    assert settings_rows()["HF_AUDIT_LOG_LEVEL"][1] == "info" and settings_rows()["HF_AUDIT_LOG_FORMAT"][1] == "logfmt"
    assert settings_rows()["HF_TOKEN_PATH"][1] == "$HF_HOME/token"


def test_every_model_field_is_an_option_or_the_token():
    # token_warning is found with the token (a token file open to others), not set by the user.
    options = {o.field for o in OPTIONS}
    assert set(Settings.model_fields) - options == {"token", "token_source", "token_warning"}
    assert NOT_MODEL_FIELDS == options - set(Settings.model_fields)
    assert REQUIRED_IN_MODEL == {name for name, field in Settings.model_fields.items() if field.is_required()} - {
        "token", "token_source"
    }
    assert settings_rows()["HF_ORG"][1] == "(required)"


def test_the_defaults_given_in_words_read_as_documented():
    s = settings_from(BASE)
    assert s.effective_source_id == "huggingface-acme"
    assert s.metrics_path == Path("/nonexistent/.local/state/hf-audit/acme.prom")
    assert settings_rows()["HF_AUDIT_SOURCE_ID"][1] == "huggingface-<org>"
    assert settings_rows()["HF_AUDIT_METRICS_FILE"][1] == "<state dir>/<org>.prom"


def test_pinned_defaults():
    # The values operators rely on, pinned here too, so a change to both code and README is a decision.
    s = settings_from(BASE)
    assert (s.max_retries, s.deadline, s.connect_timeout, s.read_timeout) == (6, timedelta(seconds=240), 10.0, 60.0)
    assert (s.max_event_bytes, s.lock_timeout, s.workspace_id, s.source_ttl_days, s.trace) == (33554432, 5.0, "default", 365, False)


def test_token_file_from_hf_token_path(tmp_path):
    (tmp_path / "tok").write_text("hf_from_file\n")
    s = settings_from({"HF_ORG": "acme", "HF_TOKEN_PATH": str(tmp_path / "tok")})
    assert s.token.get_secret_value() == "hf_from_file"
    assert str(tmp_path / "tok") in s.token_source


def test_token_file_written_by_huggingface_cli_under_hf_home(tmp_path):
    (tmp_path / "token").write_text("hf_cli_login")
    s = settings_from({"HF_ORG": "acme", "HF_HOME": str(tmp_path)})
    assert s.token.get_secret_value() == "hf_cli_login"


def test_default_hf_home_is_under_the_home_cache(tmp_path):
    (tmp_path / ".cache" / "huggingface").mkdir(parents=True)
    (tmp_path / ".cache" / "huggingface" / "token").write_text("hf_home_cache")
    assert settings_from({"HF_ORG": "acme", "HOME": str(tmp_path)}).token.get_secret_value() == "hf_home_cache"


def test_missing_token_is_an_auth_error_that_says_where_it_looked(tmp_path):
    with pytest.raises(AuthError, match="HF_TOKEN"):
        settings_from({"HF_ORG": "acme", "HF_HOME": str(tmp_path)})


def test_token_is_not_in_the_settings_repr():
    assert "hf_example_token" not in repr(settings_from(BASE))


def test_missing_org_is_a_usage_error():
    with pytest.raises(UsageError, match="HF_ORG"):
        settings_from({"HF_TOKEN": "x" * 10})


@pytest.mark.parametrize("name", ["acme", "Acme-Corp", "a", "my_org.v2", "x1"])
def test_valid_org_names_pass(name):
    assert validate_org(name) == name


@pytest.mark.parametrize("name", ["", "a/b", "..", "a..b", "a b", "a;rm -rf", "%2e%2e", "-lead", "trail-", "a$(id)", "x" * 200, "a\nb"])
def test_invalid_org_names_are_rejected_before_any_request(name):
    with pytest.raises(ValueError):
        validate_org(name)
    with pytest.raises(UsageError, match="organization"):
        settings_from({**BASE, "HF_ORG": name})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9", "https://huggingface.co", "https://hub.example.com/"])
def test_https_anywhere_and_http_to_loopback_are_allowed(url):
    assert validate_endpoint(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://huggingface.co", "http://10.0.0.1", "ftp://x", "https://user:pw@huggingface.co", "huggingface.co"])
def test_plain_http_elsewhere_and_odd_urls_are_refused(url):
    with pytest.raises(ValueError):
        validate_endpoint(url)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 604800), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


def test_backfill_accepts_all_none_and_a_window():
    assert settings_from({**BASE, "HF_AUDIT_BACKFILL": "none"}).backfill.mode == "none"
    window = settings_from({**BASE, "HF_AUDIT_BACKFILL": "7d"}).backfill
    assert window.mode == "window" and window.window == timedelta(days=7)


def test_bad_values_name_the_setting():
    with pytest.raises(UsageError, match="HF_AUDIT_LOOKBACK"):
        settings_from({**BASE, "HF_AUDIT_LOOKBACK": "soon"})
    with pytest.raises(UsageError, match="max_line_bytes"):
        settings_from({**BASE, "HF_AUDIT_MAX_LINE_BYTES": "100"})


def test_there_is_no_token_flag(capsys):
    argv = ["--token", "hf_pasted_secret"]
    with pytest.raises(SystemExit) as exc:
        build_parser(argv).parse_args(argv)
    assert exc.value.code == 2
    assert "hf_pasted_secret" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--token=hf_pasted_secret"], ["state", "hf_pasted_secret"], ["check", "--bogus", "hf_pasted_secret"], ["hf_pasted_secret"]])
def test_argument_errors_never_echo_values(capsys, argv):
    with pytest.raises(SystemExit):
        build_parser(argv).parse_args(argv)
    assert "hf_pasted_secret" not in capsys.readouterr().err
