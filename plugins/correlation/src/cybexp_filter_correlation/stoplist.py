"""Indicators so common that they correlate nothing: local addresses, stock names and passwords."""

from __future__ import annotations

import ipaddress

from cybexp_core import Attribute, Child, Object
from cybexp_filter_correlation.options import Options

__all__ = ["stopped"]

#: Attributes of a credential that are not secrets.
_NOT_SECRET = frozenset({"username"})


def _local_address(value: object, options: Options) -> bool:
    if not isinstance(value, str):
        return False
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in options.stop_networks)


def _listed(sub_type: str, value: object, options: Options) -> bool:
    values = options.stop_values.get(sub_type)
    return bool(values) and str(value).strip().lower() in values  # type: ignore[operator]


def _credential_stopped(credential: Object, options: Options) -> bool:
    """A credential is stopped when its secrets are all common, or it has only a stopped name."""
    secrets = [c for c in credential.children if c.sub_type not in _NOT_SECRET]
    if secrets:
        return all(
            isinstance(c, Attribute) and str(c.data).strip().lower() in options.common_passwords
            for c in secrets
        )
    return all(
        isinstance(c, Attribute) and _listed(c.sub_type, c.data, options)
        for c in credential.children
    )


def stopped(indicator: Child, options: Options) -> str | None:
    """Why ``indicator`` is not correlated, or ``None`` if it is."""
    if isinstance(indicator, Attribute):
        if indicator.sub_type in ("ipv4", "ipv6") and _local_address(indicator.data, options):
            return "a local or reserved address"
        if _listed(indicator.sub_type, indicator.data, options):
            return "on the stop-list"
        return None
    if indicator.sub_type == "credential" and _credential_stopped(indicator, options):
        return "a common credential"
    return None
