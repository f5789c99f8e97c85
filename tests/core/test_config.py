"""The original config.json format, environment and command-line overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cybexp_core.config import ConfigError, load_settings, redact_url


def _write(tmp_path: Path, value: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(value))
    return path


def test_reads_the_analytics_section_that_the_original_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "analytics": {"mongo_url": "mongodb://db:1/", "db": "a", "coll": "b"},
            "api": {"url": "http://localhost:5000/"},
        },
    )
    settings = load_settings(path, environ={})
    assert (settings.mongo_url, settings.db, settings.coll) == ("mongodb://db:1/", "a", "b")


def test_original_defaults_apply_inside_a_section(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, {"tahoe": {}}), environ={})
    assert settings.mongo_url == "mongodb://localhost:27017/"
    assert (settings.db, settings.coll) == ("tahoe_db", "instance")


def test_no_configuration_means_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).mongo_url is None


def test_precedence_cli_then_env_then_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {"analytics": {"mongo_url": "mongodb://file/", "db": "filedb"}})
    env = {"CYBEXP_MONGO_URL": "mongodb://env/", "CYBEXP_DB": "envdb"}
    settings = load_settings(path, environ=env, db="clidb")
    assert settings.mongo_url == "mongodb://env/"
    assert settings.db == "clidb"


def test_filters_and_runner_sections(tmp_path: Path) -> None:
    path = _write(
        tmp_path, {"filters": {"cowrie": {"sub_types": ["x"]}}, "runner": {"batch_size": 50}}
    )
    settings = load_settings(path, environ={})
    assert settings.filters["cowrie"] == {"sub_types": ["x"]}
    assert settings.batch_size == 50


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"runner": {"speed": 1}}', "runner.speed: unknown key"),
        ('{"runner": {"batch_size": 0}}', "runner.batch_size: Input should be greater than 0"),
    ],
)
def test_bad_files_raise_config_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "nope.json", environ={})


def test_credentials_are_redacted() -> None:
    url = "mongodb://admin:s3cret@db1:27017,db2:27017/?replicaSet=rs"
    assert redact_url(url) == "mongodb://***@db1:27017,db2:27017/?replicaSet=rs"
    assert "s3cret" not in load_settings(environ={"CYBEXP_MONGO_URL": url}).safe_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"analytics": {"dbb": "x"}},
            "analytics.dbb: unknown key (did you mean 'db'?); known: coll, db, mongo_url",
        ),
        ({"analytcs": {"db": "x"}}, "analytcs: unknown section (did you mean 'analytics'?)"),
        (
            {"runner": {"batch_size": "10"}},
            'runner.batch_size: Input should be a valid integer (got "10")',
        ),
        ({"runner": {"max_idle": True}}, "runner.max_idle: Input should be a valid number"),
        ({"filters": {"cowrie": ["x"]}}, "filters.cowrie: Input should be a valid dictionary"),
        ({"analytics": {"db": ""}}, "analytics.db: String should have at least 1 character"),
    ],
)
def test_the_whole_file_is_validated_naming_key_type_and_file(
    tmp_path: Path, value: object, expected: str
) -> None:
    path = _write(tmp_path, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, {"runner": {"batch_size": "10", "max_idle": -1}, "analytcs": {}})
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert str(caught.value).count("\n") == 3


def test_the_2020_shape_is_refused_with_the_key_to_use(tmp_path: Path) -> None:
    path = _write(tmp_path, {"mongo": {"mongo_url": "mongodb://u:secret@db/", "tahoe_db": "t"}})
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "2020 CYBEX-P shape" in message
    assert '{"analytics": {"mongo_url": "...", "db": "t"}}' in message
    assert "secret" not in message


def test_other_cybexp_modules_sections_are_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, {"api": {"token": "x"}, "identity": {"db": "identity_db"}})
    assert load_settings(path, environ={}).db == "tahoe_db"


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://admin:Pass XYZ@db1:27017/?replicaSet=rs",
        "mongodb://admin:pa/ss@db1:27017/",
        "mongodb://admin:p@ss@db1:27017/",
        "mongodb://admin:pass?word@db1/",
    ],
)
def test_redaction_parses_the_url(url: str) -> None:
    shown = redact_url(url)
    assert shown.startswith("mongodb://***@db1")
    assert "Pass" not in shown and "pa" not in shown.split("@")[0]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mongodb://admin:pa/ss@db1/", "holds '/', which must be percent-encoded"),
        ("mongodb://admin:pass@db1:99999/", "Port must be an integer between 0 and 65535"),
        ("http://db1/", "must start with mongodb:// or mongodb+srv://"),
        ("mongodb://admin:p%zzss@db1/", "not a valid percent escape"),
    ],
)
def test_a_malformed_url_is_one_line_without_the_password(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"CYBEXP_MONGO_URL": url})
    message = str(caught.value)
    assert reason in message and "\n" not in message
    assert "pass" not in message.replace("password", "") and "ss@" not in message


def test_the_url_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("mongodb://admin:s3cret@db1:27017/\n")
    assert load_settings(environ={}, mongo_url_file=str(secret)).mongo_url == (
        "mongodb://admin:s3cret@db1:27017/"
    )
    env = {"CYBEXP_MONGO_URL_FILE": str(secret)}
    assert load_settings(environ=env).mongo_url == "mongodb://admin:s3cret@db1:27017/"
    with pytest.raises(ConfigError, match="not both"):
        load_settings(environ={}, mongo_url="mongodb://x/", mongo_url_file=str(secret))
    with pytest.raises(ConfigError, match="cannot read the MongoDB URL file"):
        load_settings(environ={}, mongo_url_file=str(tmp_path / "missing"))
