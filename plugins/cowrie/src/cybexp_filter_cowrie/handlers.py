"""The dispatch table: Cowrie event id to handler."""

from __future__ import annotations

from cybexp_filter_cowrie.client import client_kex, client_size, client_var, client_version
from cybexp_filter_cowrie.events import (
    Handler,
    client_fingerprint,
    command,
    login,
    session_connect,
    session_input,
    session_params,
    tcpip,
)
from cybexp_filter_cowrie.files import download, upload
from cybexp_filter_cowrie.protocol import malformed_packet, telnet_option

__all__ = ["HANDLERS", "SESSION_ONLY"]

#: Event ids that only update the session (times, duration); they make no event.
SESSION_ONLY = frozenset({"cowrie.session.closed", "cowrie.log.open", "cowrie.log.closed"})

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
    "cowrie.direct-tcpip.ja4h": tcpip,
    "cowrie.session.file_download": download,
    "cowrie.session.file_download.failed": download,
    "cowrie.session.file_upload": upload,
    "cowrie.client.version": client_version,
    "cowrie.client.kex": client_kex,
    "cowrie.client.size": client_size,
    "cowrie.client.var": client_var,
    "cowrie.session.params": session_params,
    "cowrie.session.connect": session_connect,
    "cowrie.client.malformed_packet": malformed_packet,
    "cowrie.telnet.option": telnet_option,
}
