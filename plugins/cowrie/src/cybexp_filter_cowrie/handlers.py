"""One small function per Cowrie event id: the event's sub_type, children and indicators.

Each handler gets the event's fields and its protocol (``ssh``/``telnet``) and
returns ``(sub_type, data, mal_data)``; :mod:`.convert` adds the attacker and
the session. Shapes marked *original* are hash-compatible with CYBEX-P's
filter (spec section 6.3); the README lists every deviation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from cybexp_core import Attribute, InputError, Object
from cybexp_core.models import Child
from cybexp_filter_cowrie.fields import EventFields
from cybexp_filter_cowrie.vocab import attr, credential, dst, kex_object, pair, url

__all__ = ["HANDLERS", "SESSION_ONLY", "Built", "client_version_text"]

Built = tuple[str, list[Child], list[Child]]
Handler = Callable[[EventFields, str], Built]

#: Event ids that only update the session (times, duration); they make no event.
SESSION_ONLY = frozenset({"cowrie.session.closed", "cowrie.log.open", "cowrie.log.closed"})

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
#: An scp protocol line announcing a file: ``C<mode> <size> <name>``.
_SCP_FILE = re.compile(r"C[0-7]{4} \d+ (.+)")
#: Client algorithm lists (2.0+ ``client.kex``; inside ``client.version`` before 2.0).
_KEX_GROUPS = (
    ("kexAlgs", "kex_algo"),
    ("keyAlgs", "pub_key_algo"),
    ("encCS", "enc_algo"),
    ("macCS", "mac_algo"),
    ("compCS", "comp_algo"),
)
_HASSH_ORDER = ("kexAlgs", "encCS", "macCS", "compCS")


def _sha256(f: EventFields, name: str = "shasum") -> Attribute | None:
    value = f.opt_text(name)
    if value is None:
        return None
    if _SHA256.fullmatch(value.strip()) is None:
        f.problem(name, f"is not a SHA-256 ({value[:80]!r})")
        return None
    return attr("sha256", value.strip().lower())


def _present(*items: Child | None) -> list[Child]:
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
    data = _present(cred, attr("ssh_key_type", key_type) if key_type else None)
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
    return "session_input", _present(text, attr("realm", realm) if realm else None), [text]


# ---------------------------------------------------------------------- direct-tcpip


def tcpip(f: EventFields, protocol: str) -> Built:
    """*original* ``network_traffic``: dst{host, port}, protocol TCP; ``data`` or ``ja4``.

    The host is ``ipv4``/``ipv6``/``domain`` (the original stored it under ``url``).
    """
    name = f.text("dst_ip")
    port = f.port("dst_port")
    try:
        target = dst(name, port)
    except InputError as exc:
        raise f.error("dst_ip", f"is not a host name or address: {exc}") from None
    data: list[Child] = [target, attr("protocol", "TCP")]
    if f.eventid == "cowrie.direct-tcpip.data":
        data.append(attr("data", f.text("data")))
    elif f.eventid == "cowrie.direct-tcpip.ja4":
        data.append(attr("ja4", f.text("ja4")))
    return "network_traffic", data, []


# ---------------------------------------------------------------------- files


def _path_file(path: str | None, sha: Attribute | None) -> tuple[list[Child], list[Child]]:
    """``file{filename, sha256, file_path}`` of a file written inside the honeypot."""
    filename = None
    path_attr = None
    if path:
        path_attr = attr("file_path", path.strip())
        base = path.strip().rstrip("/").rsplit("/", 1)[-1]
        filename = attr("filename", base) if base else None
    children = _present(filename, sha, path_attr)
    if not children:
        return [], []
    file_obj = _object_file(children)
    return [file_obj], _present(sha, file_obj)


def _object_file(children: list[Child]) -> Object:
    return Object("file", children)


def download(f: EventFields, protocol: str) -> Built:
    """*original* ``file_download``: url, file{filename, sha256}, success.

    Other real shapes: no url (a redirect or stdin saved to ``destfile``, or
    2018's ``url: "/dev/null"``) gives file{filename, sha256, file_path};
    the scp ``realm`` shape is handed to :func:`scp_input`.
    """
    failed = f.eventid == "cowrie.session.file_download.failed"
    if not failed and "realm" in f.event and "url" not in f.event:
        return scp_input(f, protocol)
    success = attr("success", not failed)
    raw_url = f.text("url") if failed else f.opt_text("url")
    sha = None if failed else _sha256(f)
    link = url(raw_url.strip()) if raw_url else None
    if link is None:
        path = f.opt_text("destfile") or raw_url
        data, mal = _path_file(path, sha)
        if not data:
            raise (
                f.missing("url")
                if failed
                else InputError(
                    f"{f.eventid}: no 'url', 'destfile' or 'shasum' to describe the file",
                    field="url",
                )
            )
        return "file_download", [*data, success], mal
    name = urlsplit(str(link.data)).path.rsplit("/", 1)[-1].strip()
    filename = attr("filename", name) if name else None
    children = _present(filename, sha)
    file_obj = _object_file(children) if children else None
    data = _present(link, file_obj, success)
    return "file_download", data, _present(link, filename, sha, file_obj)


def scp_input(f: EventFields, protocol: str) -> Built:
    """The scp ``realm`` shape of file_download (2.9): a protocol line typed to scp.

    A ``C<mode> <size> <name>`` line announces a file: ``file_download`` with
    file{filename} and method ``scp``. Other lines are ``session_input``.
    """
    line = f.text("input")
    match = _SCP_FILE.fullmatch(line.strip())
    if match is None:
        return session_input(f, protocol)
    filename = attr("filename", match.group(1))
    file_obj = _object_file([filename])
    return "file_download", [file_obj, attr("method", "scp")], [filename, file_obj]


def upload(f: EventFields, protocol: str) -> Built:
    """*original* ``file_upload``: file{filename, sha256}; SFTP adds method and output_file_path."""
    filename = attr("filename", f.text("filename"))
    if f.event.get("shasum") is None:
        raise f.missing("shasum")
    sha = _sha256(f)
    file_obj = _object_file(_present(filename, sha))
    data: list[Child] = [file_obj]
    message = f.opt_text("message")
    if message is not None and message[:4] == "SFTP":
        data.append(attr("method", "SFTP"))
        outfile = f.opt_text("outfile")
        if outfile is not None:
            data.append(attr("output_file_path", outfile))
    return "file_upload", data, _present(filename, sha, file_obj)


# ---------------------------------------------------------------------- client fingerprinting


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
    return "client_version", _present(version, kex), _present(version, hassh)


def client_kex(f: EventFields, protocol: str) -> Built:
    """``client_kex``: ssh_kex{hassh, hassh_algorithms, kex_algo, enc_algo, ...}."""
    kex, hassh = _kex(f, f.opt_text("hassh"), f.opt_text("hasshAlgorithms"))
    if kex is None:
        raise f.missing("hassh")
    return "client_kex", [kex], _present(hassh)


def client_size(f: EventFields, protocol: str) -> Built:
    """``client_size``: terminal_size{width, height}."""
    size = pair("terminal_size", "width", f.count("width"), "height", f.count("height"))
    return "client_size", [size], []


def client_var(f: EventFields, protocol: str) -> Built:
    """``client_var``: env_var{env_name, env_value} (an environment variable the client sent)."""
    var = pair("env_var", "env_name", f.text("name"), "env_value", f.text("value"))
    return "client_var", [var], []


def session_params(f: EventFields, protocol: str) -> Built:
    """``session_params``: the ``arch`` the session emulates."""
    return "session_params", [attr("arch", f.text("arch"))], []


def session_connect(f: EventFields, protocol: str) -> Built:
    """``session_connect``: a connection, with its method (``ssh``/``telnet``)."""
    return "session_connect", [attr("method", protocol)], []


HANDLERS: dict[str, Handler] = {
    "cowrie.login.failed": login,
    "cowrie.login.success": login,
    "cowrie.client.fingerprint": client_fingerprint,
    "cowrie.command.input": command,
    "cowrie.command.success": command,
    "cowrie.command.failed": command,
    "cowrie.session.input": session_input,
    "cowrie.direct-tcpip.request": tcpip,
    "cowrie.direct-tcpip.data": tcpip,
    "cowrie.direct-tcpip.ja4": tcpip,
    "cowrie.session.file_download": download,
    "cowrie.session.file_download.failed": download,
    "cowrie.session.file_upload": upload,
    "cowrie.client.version": client_version,
    "cowrie.client.kex": client_kex,
    "cowrie.client.size": client_size,
    "cowrie.client.var": client_var,
    "cowrie.session.params": session_params,
    "cowrie.session.connect": session_connect,
}
