"""One key/value pair of a sighting as a normalised indicator attribute."""

from __future__ import annotations

import math

from cybexp_core import Attribute, InputError
from cybexp_core.builders import scalar_attribute
from cybexp_core.indicators import normalize_host, url_attributes

#: Keys whose values are normalised the way every plugin emits hosts and URLs.
HOST_TYPES = ("ipv4", "ipv6", "domain")


def indicator(key: str, value: object) -> tuple[Attribute, tuple[Attribute, ...]]:
    """The attribute for ``key: value`` and the extra attributes it implies.

    ``url`` values are normalised and also give their host (``ipv4``,
    ``ipv6`` or ``domain``) as an extra; ``ipv4``/``ipv6``/``domain`` values
    are normalised and must be of that kind; other keys are kept as given.

    :raises InputError: If the key is not an identifier (or starts with ``$``),
        the value is not a scalar, is empty, or is not a valid URL/host.
    """
    attribute = scalar_attribute(key, value, where="data")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError(f"data.{key}: the value is empty", field=f"data.{key}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"data.{key}: {value!r} is not a finite number", field=f"data.{key}")
    if key != "url" and key not in HOST_TYPES:
        return attribute, ()
    if not isinstance(value, str):
        raise InputError(
            f"data.{key}: must be a string, got {type(value).__name__}", field=f"data.{key}"
        )
    if key == "url":
        url, host = url_attributes(value)
        return url, (host,)
    kind, normal = normalize_host(value)
    if kind != key:
        raise InputError(
            f"data.{key}: {value!r} is not of type {key} (it is {kind})", field=f"data.{key}"
        )
    return Attribute(key, normal), ()
