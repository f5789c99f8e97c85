"""Cowrie client fingerprinting: SSH version, key exchange (hassh), terminal, environment."""

from __future__ import annotations

import hashlib

from cybexp_core import Child
from cybexp_filter_cowrie.events import Built, present
from cybexp_filter_cowrie.fields import EventFields
from cybexp_filter_cowrie.vocab import attr, kex_object, pair

__all__ = ["client_kex", "client_size", "client_var", "client_version", "client_version_text"]

#: Client algorithm lists (2.0+ ``client.kex``; inside ``client.version`` before 2.0).
_KEX_GROUPS = (
    ("kexAlgs", "kex_algo"),
    ("keyAlgs", "pub_key_algo"),
    ("encCS", "enc_algo"),
    ("macCS", "mac_algo"),
    ("compCS", "comp_algo"),
)
_HASSH_ORDER = ("kexAlgs", "encCS", "macCS", "compCS")


def client_version_text(value: str) -> str:
    """``SSH-2.0-Go`` from Cowrie's ``b'SSH-2.0-Go'`` (a Python bytes repr, 2.0-2.2)."""
    text = value.strip()
    if len(text) >= 3 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        text = text[2:-1]
    return text


def _kex(
    f: EventFields, hassh: str | None, algorithms: str | None
) -> tuple[Child | None, Child | None]:
    lists = {name: f.text_list(name) for name, _ in _KEX_GROUPS}
    if hassh is None and algorithms is None and all(lists[n] is not None for n in _HASSH_ORDER):
        # Before Cowrie 2.0 the offer came inside client.version and had no hassh:
        # compute it as Cowrie does (MD5 of "kex;enc;mac;comp", each comma-joined).
        algorithms = ";".join(",".join(lists[name] or ()) for name in _HASSH_ORDER)
        hassh = hashlib.md5(algorithms.encode("utf-8"), usedforsecurity=False).hexdigest()
    groups = tuple((sub, lists[name]) for name, sub in _KEX_GROUPS if lists[name])
    return kex_object(hassh, algorithms, groups)  # type: ignore[arg-type]


def client_version(f: EventFields, protocol: str) -> Built:
    """``client_version``: ssh_version; before 2.0 also ssh_kex{hassh, algorithms}."""
    version = attr("ssh_version", client_version_text(f.text("version")))
    kex, hassh = (None, None)
    if "kexAlgs" in f.event:
        kex, hassh = _kex(f, None, None)
    return "client_version", present(version, kex), present(version, hassh)


def client_kex(f: EventFields, protocol: str) -> Built:
    """``client_kex``: ssh_kex{hassh, hassh_algorithms, kex_algo, enc_algo, ...}."""
    kex, hassh = _kex(f, f.opt_text("hassh"), f.opt_text("hasshAlgorithms"))
    if kex is None:
        raise f.missing("hassh")
    return "client_kex", [kex], present(hassh)


def client_size(f: EventFields, protocol: str) -> Built:
    """``client_size``: terminal_size{width, height}."""
    size = pair("terminal_size", "width", f.count("width"), "height", f.count("height"))
    return "client_size", [size], []


def client_var(f: EventFields, protocol: str) -> Built:
    """``client_var``: env_var{env_name, env_value} (an environment variable the client sent)."""
    var = pair("env_var", "env_name", f.text("name"), "env_value", f.text("value"))
    return "client_var", [var], []
