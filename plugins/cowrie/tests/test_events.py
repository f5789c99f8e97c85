"""Every Cowrie event id, on small logs written after each era of real Cowrie output."""

from __future__ import annotations

import json

import pytest
from cowrie_helpers import (
    child,
    children,
    era_events,
    events_of,
    golden_messages,
    the_event,
    the_session,
)

from cybexp_core import Attribute, Event
from cybexp_filter_cowrie.convert import KNOWN_EVENT_IDS

ERA = era_events()
SUB_TYPES = {
    "cowrie.login.failed": "login",
    "cowrie.login.success": "login",
    "cowrie.command.input": "shell_command",
    "cowrie.command.success": "shell_command",
    "cowrie.command.failed": "shell_command",
    "cowrie.session.input": "session_input",
    "cowrie.direct-tcpip.request": "network_traffic",
    "cowrie.direct-tcpip.data": "network_traffic",
    "cowrie.direct-tcpip.ja4": "network_traffic",
    "cowrie.session.file_download": "file_download",
    "cowrie.session.file_download.failed": "file_download",
    "cowrie.session.file_upload": "file_upload",
    "cowrie.client.version": "client_version",
    "cowrie.client.kex": "client_kex",
    "cowrie.client.size": "client_size",
    "cowrie.client.var": "client_var",
    "cowrie.client.fingerprint": "client_fingerprint",
    "cowrie.session.params": "session_params",
    "cowrie.session.connect": "session_connect",
    "cowrie.client.malformed_packet": "malformed_packet",
    "cowrie.telnet.option": "telnet_option",
    "cowrie.direct-tcpip.ja4h": "network_traffic",
    "cowrie.session.closed": None,
    "cowrie.log.open": None,
    "cowrie.log.closed": None,
}


def find(eventid: str, where: str = "", **fields: object) -> dict:
    """The first era fixture event with ``eventid`` (in a file containing ``where``)."""
    for place, event in ERA:
        matches = all(event.get(key) == value for key, value in fields.items())
        if event["eventid"] == eventid and where in place and matches:
            return event
    raise LookupError(f"no fixture {eventid} {where} {fields}")


def value(item: object) -> object:
    return item.data  # type: ignore[attr-defined]


def test_fixtures_cover_every_event_id():
    seen = {event["eventid"] for _, event in ERA}
    seen |= {json.loads(doc["message"])["eventid"] for doc in golden_messages()}
    assert seen == KNOWN_EVENT_IDS == set(SUB_TYPES)


@pytest.mark.parametrize(("place", "event"), ERA, ids=[place for place, _ in ERA])
def test_every_line_of_every_era(run, place, event):
    result = run(event)
    assert result.problems == ()
    expected = SUB_TYPES[event["eventid"]]
    if "realm" in event and not event["input"].startswith("C"):
        expected = "session_input"  # an scp protocol line that announces no file
    session = the_session(result)
    if expected is None:
        assert events_of(result) == [] and session.events == ()
        return
    made = the_event(result)
    assert made.sub_type == expected
    assert made.category == "malicious"
    assert session.events == (made._hash,)
    attacker = child(made, "attacker")
    (address,) = attacker.children
    assert {address._hash, attacker._hash} <= set(made._mal_ref)
    assert address.sub_type in ("ipv4", "ipv6")


# ---------------------------------------------------------------------- login


def test_password_login(run):
    made = the_event(run(find("cowrie.login.failed", "2024")))
    credential = child(made, "credential")
    assert (value(child(credential, "username")), value(child(credential, "password"))) == (
        "admin",
        "admin",
    )
    assert value(child(made, "success")) is False
    assert value(child(made, "method")) == "ssh"
    assert credential._hash in made._mal_ref
    assert value(child(the_event(run(find("cowrie.login.success", "2024"))), "success")) is True


def test_public_key_login_has_the_fingerprint_and_no_password(run):
    event = find("cowrie.login.failed", "2026", type="ssh-rsa")
    made = the_event(run(event))
    credential = child(made, "credential")
    assert children(credential, "password") == []
    fingerprint = child(credential, "ssh_key_fingerprint")
    assert fingerprint.data == event["fingerprint"]
    assert {credential._hash, fingerprint._hash} <= set(made._mal_ref)
    offered = the_event(run(find("cowrie.client.fingerprint", "2026")))
    assert child(offered, "credential")._hash == credential._hash
    assert value(child(offered, "ssh_key_type")) == "ssh-rsa"


def test_empty_telnet_password_is_kept(run):
    made = the_event(run(find("cowrie.login.failed", "telnet")))
    assert value(child(child(made, "credential"), "password")) == ""


def test_telnet_method_from_the_event_protocol(run):
    event = {**find("cowrie.login.success", "2026"), "protocol": "telnet"}
    assert value(child(the_event(run(event)), "method")) == "telnet"


def test_telnet_method_from_the_system_field(run):
    event = {**find("cowrie.login.success", "2018"), "system": "CowrieTelnetTransport,5,1.2.3.4"}
    assert value(child(the_event(run(event)), "method")) == "telnet"


def test_telnet_method_from_the_filebeat_sensor_type(run):
    event = find("cowrie.login.success", "telnet")
    document = {"message": json.dumps(event), "sensor_type": ["telnet"]}
    made = the_event(run(document, sub_type="unr_honeypot"))
    assert value(child(made, "method")) == "telnet"


def test_telnet_method_from_the_telnet_sensors_setting():
    from cybexp_core import Raw
    from cybexp_core.testing import run_filter

    event = find("cowrie.login.success", "telnet")
    raw = Raw("cowrie", event, "org")
    plain = the_event(run_filter("cowrie", raw))
    assert value(child(plain, "method")) == "ssh"  # nothing in a 2.0 Telnet login says so
    configured = the_event(run_filter("cowrie", raw, {"telnet_sensors": [event["sensor"]]}))
    assert value(child(configured, "method")) == "telnet"
    connect = the_event(
        run_filter("cowrie", Raw("cowrie", find("cowrie.session.connect", "telnet"), "org"))
    )
    assert value(child(connect, "method")) == "telnet"


@pytest.mark.parametrize(
    ("src_ip", "sub_type", "data"),
    [("2001:db8::17", "ipv6", "2001:db8::17"), ("::ffff:198.51.100.9", "ipv4", "198.51.100.9")],
)
def test_ipv6_attackers(run, src_ip, sub_type, data):
    made = the_event(run(find("cowrie.login.failed", "2026", src_ip=src_ip)))
    (address,) = child(made, "attacker").children
    assert (address.sub_type, address.data) == (sub_type, data)


# ---------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("eventid", "success"),
    [
        ("cowrie.command.input", None),
        ("cowrie.command.success", True),
        ("cowrie.command.failed", False),
    ],
)
def test_shell_commands(run, eventid, success):
    event = find(eventid)
    made = the_event(run(event))
    command = child(made, "shell_command")
    assert command.data == event["input"]
    assert command._hash in made._mal_ref
    assert [value(item) for item in children(made, "success")] == (
        [] if success is None else [success]
    )


def test_session_input(run):
    made = the_event(run(find("cowrie.session.input")))
    assert (value(child(made, "session_input")), value(child(made, "realm"))) == ("sh", "cat")


# ---------------------------------------------------------------------- direct-tcpip


def test_direct_tcpip_to_an_address(run):
    made = the_event(run(find("cowrie.direct-tcpip.request", "2018")))
    dst = child(made, "dst")
    assert (value(child(dst, "ipv4")), value(child(dst, "port"))) == ("192.0.2.80", 80)
    assert value(child(made, "protocol")) == "TCP"
    assert children(dst, "url") == []


def test_direct_tcpip_to_a_host_name_and_its_data(run):
    event = find("cowrie.direct-tcpip.data", "2024")
    made = the_event(run(event))
    assert value(child(child(made, "dst"), "domain")) == "azenv.net"
    assert value(child(made, "data")) == event["data"]


def test_direct_tcpip_ja4(run):
    made = the_event(run(find("cowrie.direct-tcpip.ja4")))
    assert value(child(made, "ja4")) == "t12d3112h2_e8f1e7e78f70_64f78f54e6a2"
    assert value(child(child(made, "dst"), "domain")) == "google.com"


def test_requests_do_not_accumulate_earlier_destinations(run):
    """The original's mutable default made each request carry every earlier one."""
    requests = [e for _, e in ERA if e["eventid"] == "cowrie.direct-tcpip.request"]
    assert len(requests) >= 3
    made = [the_event(run(event)) for event in requests]
    for event, request in zip(made, requests, strict=True):
        (dst,) = children(event, "dst")
        assert value(child(dst, "port")) == request["dst_port"]
        assert children(event, "protocol") == [Attribute("protocol", "TCP")]
    first_again = the_event(run(requests[0]))
    assert first_again._hash == made[0]._hash


# ---------------------------------------------------------------------- files


def test_url_download(run):
    event = find("cowrie.session.file_download", "2021", url="http://203.0.113.70/sh")
    made = the_event(run(event))
    file = child(made, "file")
    assert value(child(made, "url")) == "http://203.0.113.70/sh"
    assert (value(child(file, "filename")), value(child(file, "sha256"))) == ("sh", event["shasum"])
    assert value(child(made, "success")) is True
    expected = {child(made, "url")._hash, file._hash, *(c._hash for c in file.children)}
    assert expected <= set(made._mal_ref)


def test_url_download_with_destfile_keeps_the_original_shape(run):
    with_dest = the_event(
        run(find("cowrie.session.file_download", "2020_ssh", destfile="/root/ygljglkjgfg1"))
    )
    assert sorted(item.sub_type for item in with_dest.children) == [
        "attacker",
        "file",
        "success",
        "url",
    ]
    assert value(child(child(with_dest, "file"), "filename")) == "w.txt"


def test_redirect_saved_to_a_file(run):
    event = find("cowrie.session.file_download", "2024")
    made = the_event(run(event))
    assert children(made, "url") == []
    file = child(made, "file")
    assert value(child(file, "file_path")) == "/root/.ssh/authorized_keys"
    assert value(child(file, "filename")) == "authorized_keys"
    assert value(child(file, "sha256")) == event["shasum"]
    assert {file._hash, child(file, "sha256")._hash} <= set(made._mal_ref)


def test_stdin_saved_with_an_empty_destfile(run):
    event = find("cowrie.session.file_download", "2021", destfile="")
    file = child(the_event(run(event)), "file")
    assert [item.sub_type for item in file.children] == ["sha256"]


def test_2018_dev_null_url_is_a_path_not_a_url(run):
    made = the_event(run(find("cowrie.session.file_download", "2018")))
    assert children(made, "url") == []
    assert value(child(child(made, "file"), "file_path")) == "/dev/null"


def test_download_with_empty_shasum(run):
    made = the_event(run(find("cowrie.session.file_download", "2026", shasum="")))
    file = child(made, "file")
    assert [(item.sub_type, item.data) for item in file.children] == [("filename", "x86_64")]
    assert value(child(made, "url")) == "http://192.0.2.50/x86_64"


def test_scp_realm_file_line_and_other_lines(run):
    announced = the_event(
        run(find("cowrie.session.file_download", "2026", input="C0755 4745 sshd"))
    )
    assert announced.sub_type == "file_download"
    assert value(child(child(announced, "file"), "filename")) == "sshd"
    assert value(child(announced, "method")) == "scp"
    other = the_event(run(find("cowrie.session.file_download", "2026", input="E")))
    assert other.sub_type == "session_input"
    assert value(child(other, "realm")) == "scp"


def test_failed_download_with_credentials_in_the_url(run):
    made = the_event(run(find("cowrie.session.file_download.failed", "2021")))
    assert value(child(made, "url")) == "ftp://anonymous:anonymous@203.0.113.70/.sh"
    assert value(child(child(made, "file"), "filename")) == ".sh"
    assert value(child(made, "success")) is False


def test_sftp_upload(run):
    event = find("cowrie.session.file_upload", "2024")
    made = the_event(run(event))
    file = child(made, "file")
    assert (value(child(file, "filename")), value(child(file, "sha256"))) == (
        "sshd",
        event["shasum"],
    )
    assert value(child(made, "method")) == "SFTP"
    assert value(child(made, "output_file_path")) == event["outfile"]


# ---------------------------------------------------------------------- client fingerprinting


def test_client_version_loses_the_bytes_repr(run):
    made = the_event(run(find("cowrie.client.version", "2021")))
    assert value(child(made, "ssh_version")) == "SSH-2.0-PuTTY_Release_0.74"
    assert child(made, "ssh_version")._hash in made._mal_ref


def test_client_kex_carries_its_hassh(run):
    event = find("cowrie.client.kex", "2026")
    made = the_event(run(event))
    kex = child(made, "ssh_kex")
    assert value(child(kex, "hassh")) == event["hassh"]
    assert value(child(kex, "hassh_algorithms")) == event["hasshAlgorithms"]
    assert {value(a) for a in children(kex, "kex_algo")} == set(event["kexAlgs"])
    assert {value(a) for a in children(kex, "pub_key_algo")} == set(event["keyAlgs"])
    assert child(kex, "hassh")._hash in made._mal_ref


def test_a_huge_kex_offer_is_built_each_time_and_not_kept(run):
    """A hostile client's 100 kB algorithm list must not stay in the key-exchange cache."""
    from cybexp_filter_cowrie import vocab

    names = [f"algo-{n}-" + "x" * 1000 for n in range(100)]
    event = {**find("cowrie.client.kex", "2026"), "kexAlgs": names}
    before = vocab._kex_object.cache_info().currsize
    first, second = the_event(run(event)), the_event(run(event))
    assert first._hash == second._hash
    assert {value(a) for a in children(child(first, "ssh_kex"), "kex_algo")} == set(names)
    assert vocab._kex_object.cache_info().currsize == before


def test_pre_2_0_client_version_gets_the_hassh_cowrie_would_compute(run):
    """1.x put the algorithm lists in client.version; their hassh is the one 2.x logs."""
    old = the_event(run(find("cowrie.client.version", "2018", version="SSH-2.0-PUTTY")))
    new = the_event(run(find("cowrie.client.kex", "2020_ssh")))
    assert (
        child(child(old, "ssh_kex"), "hassh")._hash == child(child(new, "ssh_kex"), "hassh")._hash
    )
    assert child(child(old, "ssh_kex"), "hassh")._hash in old._mal_ref


def test_client_size_var_and_params(run):
    size = the_event(run(find("cowrie.client.size", "2021")))
    terminal = child(size, "terminal_size")
    assert (value(child(terminal, "width")), value(child(terminal, "height"))) == (80, 24)
    var = child(the_event(run(find("cowrie.client.var", "2021"))), "env_var")
    assert (value(child(var, "env_name")), value(child(var, "env_value"))) == (
        "LANG",
        "en_GB.UTF-8",
    )
    params = the_event(run(find("cowrie.session.params")))
    assert value(child(params, "arch")) == "linux-x64-lsb"


def test_events_are_deterministic_and_distinct_per_timestamp(run):
    event = find("cowrie.command.input", "2026")
    first, again = the_event(run(event)), the_event(run(event))
    assert first._hash == again._hash
    later = the_event(run({**event, "timestamp": "2026-03-20T19:49:54.000000Z"}))
    assert later._hash != first._hash
    assert isinstance(later, Event)
    assert later.timestamp - first.timestamp == pytest.approx(54.0 - 53.146325)
