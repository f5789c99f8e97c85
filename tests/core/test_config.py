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
        ('{"runner": {"speed": 1}}', "unknown 'runner' settings"),
        ('{"runner": {"batch_size": 0}}', "batch_size must be positive"),
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
