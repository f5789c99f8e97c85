"""Cowrie events about a session's activity: logins, commands, input, forwarding, connects.

Each handler gets the event's fields and its protocol (``ssh``/``telnet``) and
returns ``(sub_type, data, mal_data)``; :mod:`.convert` adds the attacker and
the session. Shapes marked *original* are hash-compatible with CYBEX-P's
filter (spec section 6.3); the README lists every deviation.
"""

from __future__ import annotations

from collections.abc import Callable

from cybexp_core import Child, InputError
from cybexp_filter_cowrie.fields import EventFields
from cybexp_filter_cowrie.vocab import attr, credential, dst

__all__ = [
    "Built",
    "Handler",
    "client_fingerprint",
    "command",
    "login",
    "present",
    "session_connect",
    "session_input",
    "session_params",
    "tcpip",
]

#: What a handler returns: the event's sub_type, its data and its ``mal_data``.
Built = tuple[str, list[Child], list[Child]]
Handler = Callable[[EventFields, str], Built]


def present(*items: Child | None) -> list[Child]:
    """The items that are not ``None``."""
    return [item for item in items if item is not None]


# ---------------------------------------------------------------------- login


def login(f: EventFields, protocol: str) -> Built:
    """*original* ``login``: credential{username, password}, success, method.

    A public-key attempt (2.9) has ``ssh_key_fingerprint`` in place of the password.
    """
    username = f.text("username")
    extra: list[Child] = []
    if "password" in f.event and f.event["password"] is not None:
        cred = credential(username, "password", f.text("password"))
    else:
        fingerprint = f.opt_text("fingerprint")
        if fingerprint is not None:
            cred = credential(username, "ssh_key_fingerprint", fingerprint)
            extra.append(attr("ssh_key_fingerprint", fingerprint))
        else:
            cred = credential(username, "", "")
            f.problem("password", "is missing and so is 'fingerprint'; credential is the username")
    success = attr("success", f.eventid == "cowrie.login.success")
    return "login", [cred, success, attr("method", protocol)], [cred, *extra]


def client_fingerprint(f: EventFields, protocol: str) -> Built:
    """``client_fingerprint``: the public key offered, as a credential{username, fingerprint}."""
    fingerprint = f.text("fingerprint")
    cred = credential(f.text("username"), "ssh_key_fingerprint", fingerprint)
    key_type = f.opt_text("type")
    if key_type == "Cowrie":  # T-Pot's Logstash ``type`` of every Cowrie document
        key_type = None
    data = present(cred, attr("ssh_key_type", key_type) if key_type else None)
    return "client_fingerprint", data, [cred, attr("ssh_key_fingerprint", fingerprint)]


# ---------------------------------------------------------------------- commands and input


def command(f: EventFields, protocol: str) -> Built:
    """*original* ``shell_command``; ``success`` for command.success / command.failed."""
    cmd = attr("shell_command", f.text("input"))
    data: list[Child] = [cmd]
    if f.eventid != "cowrie.command.input":
        data.append(attr("success", f.eventid == "cowrie.command.success"))
    return "shell_command", data, [cmd]


def session_input(f: EventFields, protocol: str) -> Built:
    """``session_input``: text typed into a running program (``realm``, e.g. ``cat``)."""
    text = attr("session_input", f.text("input"))
    realm = f.opt_text("realm")
    return "session_input", present(text, attr("realm", realm) if realm else None), [text]


# ---------------------------------------------------------------------- direct-tcpip


def tcpip(f: EventFields, protocol: str) -> Built:
    """*original* ``network_traffic``: dst{host, port}, protocol TCP; ``data``, ``ja4``
    or ``ja4h``.

    The host is ``ipv4``/``ipv6``/``domain`` (the original stored it under ``url``).
    T-Pot's Logstash renames ``dst_ip``/``dst_port`` to ``dest_ip``/``dest_port``.
    """
    if "dst_ip" not in f.event and "dest_ip" in f.event:
        name, port = f.text("dest_ip"), f.port("dest_port")
    else:
        name, port = f.text("dst_ip"), f.port("dst_port")
    try:
        target = dst(name, port)
    except InputError as exc:
        raise f.error("dst_ip", f"is not a host name or address: {exc}") from None
    data: list[Child] = [target, attr("protocol", "TCP")]
    if f.eventid == "cowrie.direct-tcpip.data":
        data.append(attr("data", f.text("data")))
    elif f.eventid == "cowrie.direct-tcpip.ja4":
        data.append(attr("ja4", f.text("ja4")))
    elif f.eventid == "cowrie.direct-tcpip.ja4h":
        data.append(attr("ja4h", f.text("ja4h")))
    return "network_traffic", data, []


def session_params(f: EventFields, protocol: str) -> Built:
    """``session_params``: the ``arch`` the session emulates."""
    return "session_params", [attr("arch", f.text("arch"))], []


def session_connect(f: EventFields, protocol: str) -> Built:
    """``session_connect``: a connection, with its method (``ssh``/``telnet``)."""
    return "session_connect", [attr("method", protocol)], []
