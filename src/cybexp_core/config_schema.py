"""The schema of ``config.json``: every section, key and type, and errors that name them.

Validated with pydantic in strict mode with unknown keys forbidden, so a typo
(``dbb``, ``analytcs``) or a wrong type (``"batch_size": "10"``) is refused with
the key path, the expected type and the file, instead of being ignored.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cybexp_core.errors import ConfigError

__all__ = ["ConfigFile", "MongoSection", "RunnerSection", "did_you_mean", "validate_file"]

#: Sections that name the archive, in the order the original read them.
MONGO_SECTIONS = ("analytics", "tahoe", "archive")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class MongoSection(_Section):
    """Where the TAHOE archive is (section ``analytics``, ``tahoe`` or ``archive``)."""

    mongo_url: str = "mongodb://localhost:27017/"
    db: str = Field(default="tahoe_db", min_length=1)
    coll: str = Field(default="instance", min_length=1)


class RunnerSection(_Section):
    """Section ``runner``: how the runner claims and retries work."""

    batch_size: int | None = Field(default=None, gt=0)
    lease_seconds: float | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, gt=0)
    max_outputs: int | None = Field(default=None, gt=0)
    max_backoff: float | None = Field(default=None, gt=0)
    max_idle: float | None = Field(default=None, gt=0)
    lookback_seconds: float | None = Field(default=None, gt=0)
    rescan_seconds: float | None = Field(default=None, gt=0)


class ConfigFile(_Section):
    """The whole file. Sections of the other CYBEX-P modules are accepted and not read."""

    analytics: MongoSection | None = None
    tahoe: MongoSection | None = None
    archive: MongoSection | None = None
    #: Settings per filter plugin, by entry-point name (checked when plugins load).
    filters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    runner: RunnerSection = Field(default_factory=RunnerSection)
    api: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    report: dict[str, Any] | None = None


def did_you_mean(name: str, known: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = ConfigFile
    for key in loc:
        field = model.model_fields.get(str(key)) if model else None
        if field is None:
            return None
        inner = [t for t in getattr(field.annotation, "__args__", (field.annotation,))]
        model = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), None)
    return model


def _describe(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    path = ".".join(str(part) for part in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = sorted(model.model_fields) if model else []
        where = "section" if len(loc) == 1 else "key"
        return (
            f"{path}: unknown {where}{did_you_mean(str(loc[-1]), known)}; "
            f"known: {', '.join(known)}"
        )
    given = json.dumps(error["input"])[:60] if _jsonable(error["input"]) else "?"
    return f"{path}: {error['msg']} (got {given})"


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _legacy_hint(data: Mapping[str, Any], path: Path) -> str | None:
    legacy = data.get("mongo")
    if not isinstance(legacy, dict):
        return None
    section: dict[str, Any] = {}
    if "mongo_url" in legacy:
        section["mongo_url"] = "..."
    if "tahoe_db" in legacy:
        section["db"] = legacy["tahoe_db"]
    return (
        f"{path}: section 'mongo' (mongo_url, tahoe_db) is the 2020 CYBEX-P shape, which "
        f"this version does not read; write it as {json.dumps({'analytics': section})}"
    )


def validate_file(data: Mapping[str, Any], path: Path) -> ConfigFile:
    """``data`` (the parsed file at ``path``) as a :class:`ConfigFile`.

    :raises ConfigError: Naming the file and, per problem, the key path and the
        expected type (all problems at once, one per line).
    """
    hint = _legacy_hint(data, path)
    if hint:
        raise ConfigError(hint)
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors()]
        raise ConfigError(f"{path}: invalid configuration:\n  " + "\n  ".join(lines)) from None
