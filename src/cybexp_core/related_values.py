"""What a VALUE given to ``related`` may be: the hashes of the attributes it may stand for."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Sequence

from cybexp_core.errors import InputError, InvalidInstanceError
from cybexp_core.indicators import INDICATOR_TYPES, normalize_host, normalize_url
from cybexp_core.models import Attribute

__all__ = ["FALLBACK_TYPES", "start_hashes"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
#: Tried for a VALUE given without --type when no loaded filter declares
#: ``FilterInfo.indicator_types``.
FALLBACK_TYPES = INDICATOR_TYPES


def _typed_values(text: str) -> list[object]:
    """``text`` and the scalars it may stand for (``22`` the int, ``true`` the bool)."""
    values: list[object] = [text]
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+", stripped):
        values.append(int(stripped))
    else:
        try:
            number = float(stripped)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                values.append(number)
    if stripped.lower() in ("true", "false"):
        values.append(stripped.lower() == "true")
    return values


def _normalised(sub_type: str, text: str) -> list[object]:
    """The forms every filter stores for ``text`` as ``sub_type`` (core's normalisers)."""
    forms: list[object] = []
    try:
        if sub_type in ("ipv4", "ipv6", "domain"):
            kind, value = normalize_host(text)
            if kind == sub_type:
                forms.append(value)
        elif sub_type == "url":
            forms.append(normalize_url(text))
        elif sub_type in ("email_addr", "sha256", "sha1", "md5", "hassh"):
            forms.append(text.strip().lower())
    except InputError:
        pass
    return forms


_HEX_TYPES = {"sha256": _HEX64, "sha1": _HEX40, "md5": _HEX32, "hassh": _HEX32}


def _plausible(sub_type: str, item: object) -> bool:
    """Whether a guessed sub_type can hold ``item`` (a hash sub_type needs hex digits)."""
    pattern = _HEX_TYPES.get(sub_type)
    if pattern is not None:
        return isinstance(item, str) and pattern.match(item.strip().lower()) is not None
    if sub_type in ("asn", "port"):
        return isinstance(item, int) and not isinstance(item, bool)
    return True


def start_hashes(
    value: str, sub_type: str | None, guess_types: Sequence[str] = FALLBACK_TYPES
) -> list[str]:
    """Hashes of the instances VALUE may be: attributes of ``sub_type`` (or of likely
    sub_types), in stored and normalised forms, and VALUE itself if it is a hash."""
    hashes: dict[str, None] = {}
    if _HEX64.match(value.strip().lower()):
        hashes[value.strip().lower()] = None
    for kind in [sub_type] if sub_type else guess_types:
        for item in [*_typed_values(value), *_normalised(kind, value)]:
            if sub_type is None and not _plausible(kind, item):
                continue
            with contextlib.suppress(InvalidInstanceError):
                hashes[Attribute(kind, item)._hash] = None  # type: ignore[arg-type]
    return list(hashes)
