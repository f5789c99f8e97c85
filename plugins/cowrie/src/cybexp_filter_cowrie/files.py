"""Cowrie file events: downloads (five shapes), failed downloads and uploads."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from cybexp_core import Attribute, Child, InputError, Object
from cybexp_filter_cowrie.events import Built, present, session_input
from cybexp_filter_cowrie.fields import EventFields
from cybexp_filter_cowrie.vocab import attr, url

__all__ = ["download", "scp_input", "upload"]

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
#: An scp protocol line announcing a file: ``C<mode> <size> <name>``.
_SCP_FILE = re.compile(r"C[0-7]{4} \d+ (.+)")


def _sha256(f: EventFields, name: str = "shasum") -> Attribute | None:
    value = f.opt_text(name)
    if value is None:
        return None
    if _SHA256.fullmatch(value.strip()) is None:
        f.problem(name, f"is not a SHA-256 ({value[:80]!r})")
        return None
    return attr("sha256", value.strip().lower())


def _path_file(path: str | None, sha: Attribute | None) -> tuple[list[Child], list[Child]]:
    """``file{filename, sha256, file_path}`` of a file written inside the honeypot."""
    filename = None
    path_attr = None
    if path:
        path_attr = attr("file_path", path.strip())
        base = path.strip().rstrip("/").rsplit("/", 1)[-1]
        filename = attr("filename", base) if base else None
    children = present(filename, sha, path_attr)
    if not children:
        return [], []
    file_obj = Object("file", children)
    return [file_obj], present(sha, file_obj)


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
        if failed and not data:
            raise f.missing("url")
        if not data:
            raise InputError(
                f"{f.eventid}: no 'url', 'destfile' or 'shasum' to describe the file", field="url"
            )
        return "file_download", [*data, success], mal
    name = urlsplit(str(link.data)).path.rsplit("/", 1)[-1].strip()
    filename = attr("filename", name) if name else None
    children = present(filename, sha)
    file_obj = Object("file", children) if children else None
    data = present(link, file_obj, success)
    return "file_download", data, present(link, filename, sha, file_obj)


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
    file_obj = Object("file", [filename])
    return "file_download", [file_obj, attr("method", "scp")], [filename, file_obj]


def upload(f: EventFields, protocol: str) -> Built:
    """*original* ``file_upload``: file{filename, sha256}; SFTP adds method and output_file_path."""
    filename = attr("filename", f.text("filename"))
    if f.event.get("shasum") is None:
        raise f.missing("shasum")
    sha = _sha256(f)
    file_obj = Object("file", present(filename, sha))
    data: list[Child] = [file_obj]
    message = f.opt_text("message")
    if message is not None and message[:4] == "SFTP":
        data.append(attr("method", "SFTP"))
        outfile = f.opt_text("outfile")
        if outfile is not None:
            data.append(attr("output_file_path", outfile))
    return "file_upload", data, present(filename, sha, file_obj)
