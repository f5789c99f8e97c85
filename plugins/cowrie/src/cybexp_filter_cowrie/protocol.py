"""Cowrie 3.0's protocol events (malformed packets, Telnet options) and generic events.

A generic event is what an event id named in the ``generic_events`` setting
becomes (a fork's own id such as ``cowrie.server.kex``): the attacker, the
event id and Cowrie's human-readable ``message``.
"""

from __future__ import annotations

import hashlib

from cybexp_core import Child, Object
from cybexp_filter_cowrie.events import Built, present
from cybexp_filter_cowrie.fields import EventFields
from cybexp_filter_cowrie.vocab import attr

__all__ = ["generic", "malformed_packet", "telnet_option"]

#: Keys a Telnet option negotiation's verb (WILL, WONT, DO, DONT, SB) may be under.
_VERB_KEYS = ("command", "action", "verb")


def _packet(f: EventFields) -> Object | None:
    """``malformed_packet{sha256, length}`` of the hex ``data``, or None with a problem."""
    text = f.opt_text("data")
    if text is None:
        if "data" not in f.event:
            f.problem("data", "is missing; the packet's bytes are unknown")
        return None
    hex_digits = text.strip()
    if hex_digits[:2] in ("0x", "0X"):
        hex_digits = hex_digits[2:]
    try:
        packet = bytes.fromhex(hex_digits)
    except ValueError:
        f.problem("data", f"is not hexadecimal ({text[:80]!r})")
        return None
    digest = hashlib.sha256(packet).hexdigest()
    return Object("malformed_packet", [attr("sha256", digest), attr("length", len(packet))])


def malformed_packet(f: EventFields, protocol: str) -> Built:
    """``malformed_packet``: the bytes the client sent as sha256 and length, and the method.

    The raw hex is not stored: the hash finds the same packet from other sensors.
    """
    packet = _packet(f)
    data: list[Child] = present(packet, attr("method", protocol))
    mal: list[Child] = present(packet, packet.children[0] if packet else None)
    return "malformed_packet", data, mal


def telnet_option(f: EventFields, protocol: str) -> Built:
    """``telnet_option``: the option negotiated (its name or number) and the verb, if logged."""
    option = f.event.get("option")
    if type(option) is int and option >= 0:
        option = str(option)
    elif type(option) is not str or not option.strip():
        raise f.error("option", f"must be a Telnet option name or number, got {option!r}")
    data: list[Child] = [attr("telnet_option", option.strip())]
    for key in _VERB_KEYS:
        verb = f.event.get(key)
        if type(verb) is str and verb.strip():
            data.append(attr("telnet_command", verb.strip().upper()))
            break
    return "telnet_option", data, []


def generic(f: EventFields, protocol: str) -> Built:
    """``cowrie_event``: an id the plugin has no handler for, mapped by ``generic_events``."""
    data: list[Child] = [attr("cowrie_eventid", f.eventid)]
    message = f.opt_text("message")
    if message is not None:
        data.append(attr("message", message))
    return "cowrie_event", data, []
