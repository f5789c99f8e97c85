"""Exceptions of cybexp-core, grouped by what the runner does with them."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CybexpError",
    "InputError",
    "InvalidInstanceError",
    "PluginError",
]


class CybexpError(Exception):
    """Base class of every error raised on purpose by cybexp-core."""


class InputError(CybexpError):
    """The input document cannot be processed by this filter.

    Raise it from a filter for bad input. The runner keeps the document as
    *failed* with this message and never retries it with the same filter
    version. Other exceptions are retried a few times before they count as
    failures, because they may be bugs or passing faults.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        #: The input field at fault, when one is known (``"data.src_ip"``).
        self.field = field


class InvalidInstanceError(InputError, ValueError):
    """A TAHOE model was given a value it cannot hold; the message names the field."""


class ConfigError(CybexpError):
    """The configuration (file, environment or command line) is unusable."""


class PluginError(CybexpError):
    """A plugin could not be loaded, or its declaration breaks the hook contract."""
