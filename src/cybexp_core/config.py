"""Settings from the original ``config.json`` format, the environment and the command line.

Precedence: command line (``--mongo-url`` or ``--mongo-url-file``), then environment
(``CYBEXP_MONGO_URL`` or ``CYBEXP_MONGO_URL_FILE``, ``CYBEXP_DB``, ``CYBEXP_COLL``),
then the file, then the defaults. The file is the original CYBEX-P one: section
``analytics`` (falling back to ``tahoe``, then ``archive``) with ``mongo_url``,
``db`` and ``coll``. Two sections are ours: ``filters`` (settings per filter
plugin, by entry-point name) and ``runner``. The whole file is validated
(:mod:`cybexp_core.config_schema`). When no MongoDB URL is given anywhere,
``mongo_url`` stays ``None`` and the CLI starts its embedded server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import evolve, field, frozen

from cybexp_core.errors import ConfigError
from cybexp_core.mongo_url import check_url, read_url_file, redact_url

__all__ = ["DEFAULT_MONGO_URL", "Settings", "load_settings", "redact_url"]

DEFAULT_MONGO_URL = "mongodb://localhost:27017/"


def _positive(_: object, attribute: Any, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{attribute.name} must be positive, got {value!r}")


@frozen
class Settings:
    """Everything the runner needs; build it with :func:`load_settings`."""

    mongo_url: str | None = None
    db: str = "tahoe_db"
    coll: str = "instance"
    batch_size: int = field(default=1000, validator=_positive)
    #: Seconds a worker owns a claimed document before others may take it.
    lease_seconds: float = field(default=600.0, validator=_positive)
    #: Attempts of a document that raised an unexpected error before it is failed.
    max_attempts: int = field(default=3, validator=_positive)
    #: Most instances (descendants included) one document's output may hold; the rest
    #: is reported as a problem (``output_limits.py``).
    max_outputs: int = field(default=100_000, validator=_positive)
    #: Cap of the per-filter back-off after errors (seconds).
    max_backoff: float = field(default=3600.0, validator=_positive)
    #: Cap of the per-filter polling interval when there is no new data (seconds).
    max_idle: float = field(default=30.0, validator=_positive)
    #: ``run``: the verification every few seconds recounts the windows of this much
    #: ``_id`` time before now, for documents written late (see ``windows.py``).
    lookback_seconds: float = field(default=600.0, validator=_positive)
    #: Verify every window this often (``run`` and ``run --once`` alike, a schedule kept
    #: with the checkpoints); other verifications recount the last ``lookback_seconds``.
    rescan_seconds: float = field(default=3600.0, validator=_positive)
    #: Also write the original module's per-document marks (``filters``, ``_ref``,
    #: ``_failed``, ``_problems``) for readers that need them; costs an update per document.
    write_marks: bool = False
    filters: Mapping[str, Mapping[str, Any]] = field(factory=dict)
    source: str | None = None

    @property
    def safe_url(self) -> str:
        """The MongoDB URL without credentials."""
        return redact_url(self.mongo_url)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return value


def _from_file(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    # pydantic only when there is a file to validate (~0.5 s of start-up otherwise).
    from cybexp_core.config_schema import MONGO_SECTIONS, validate_file

    parsed = validate_file(data, path)
    values: dict[str, Any] = {"source": str(path), "filters": parsed.filters}
    sections = (getattr(parsed, name) for name in MONGO_SECTIONS)
    section = next((found for found in sections if found is not None), None)
    if section is not None:
        values["mongo_url"] = check_url(section.mongo_url, f"{path}: mongo_url")
        values.update(db=section.db, coll=section.coll)
    values.update(parsed.runner.model_dump(exclude_none=True))
    return values


def _url(given: str | None, given_file: str | None, names: tuple[str, str]) -> str | None:
    """The URL from a value or a file (not both), checked; ``None`` when neither is set."""
    if given and given_file:
        raise ConfigError(f"give {names[0]} or {names[1]}, not both")
    if given_file:
        return read_url_file(given_file)
    return check_url(given, names[0]) if given else None


def load_settings(
    config: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build :class:`Settings`; ``overrides`` (CLI values) win where they are not ``None``.

    :param config: Path of the config file; default ``$CYBEXP_CONFIG`` or
        ``./config.json`` when it exists.
    :param overrides: Settings fields, and ``mongo_url_file`` (a file holding the URL).
    :raises ConfigError: For a missing or unreadable file, bad JSON, bad values or a
        malformed MongoDB URL (the message never holds its credentials).
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    explicit = config if config is not None else env.get("CYBEXP_CONFIG")
    path = Path(explicit) if explicit else Path("config.json")
    if explicit or path.exists():
        values.update(_from_file(_read_file(path), path))
    for key, name in (("db", "CYBEXP_DB"), ("coll", "CYBEXP_COLL")):
        if env.get(name):
            values[key] = env[name]
    url = _url(
        overrides.pop("mongo_url", None),
        overrides.pop("mongo_url_file", None),
        ("--mongo-url", "--mongo-url-file"),
    ) or _url(
        env.get("CYBEXP_MONGO_URL"),
        env.get("CYBEXP_MONGO_URL_FILE"),
        ("CYBEXP_MONGO_URL", "CYBEXP_MONGO_URL_FILE"),
    )
    if url:
        values["mongo_url"] = url
    values.update({key: value for key, value in overrides.items() if value is not None})
    for key in ("db", "coll"):
        if key in values and (not isinstance(values[key], str) or not values[key]):
            raise ConfigError(f"{key} must be a non-empty string")
    try:
        return Settings(**values)
    except TypeError as exc:
        raise ConfigError(f"bad settings: {exc}") from exc


def with_url(settings: Settings, mongo_url: str) -> Settings:
    """A copy of ``settings`` that uses ``mongo_url``."""
    return evolve(settings, mongo_url=mongo_url)
