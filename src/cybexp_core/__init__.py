"""cybexp-core: TAHOE models, the filter hook spec and the runner of CYBEX-P analytics."""

from __future__ import annotations

from typing import Any

from cybexp_core.declaration import Consumes, FilterInfo, FilterResult, Problem
from cybexp_core.errors import (
    ConfigError,
    CybexpError,
    InputError,
    InvalidInstanceError,
    PluginError,
)
from cybexp_core.models import (
    CATEGORIES,
    Attribute,
    Child,
    Event,
    EventShape,
    Instance,
    Object,
    Raw,
    Session,
)
from cybexp_core.plugins import hookimpl

__all__ = [
    "CATEGORIES",
    "Attribute",
    "Child",
    "ConfigError",
    "Consumes",
    "CybexpError",
    "Event",
    "EventShape",
    "FilterInfo",
    "FilterResult",
    "InputError",
    "Instance",
    "InvalidInstanceError",
    "Object",
    "PluginError",
    "Problem",
    "Raw",
    "Session",
    "__version__",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("cybexp-core")
    raise AttributeError(name)
