"""Cowrie events wrapped by the tools that ship them: Filebeat, Logstash, Elastic Agent,
Wazuh, T-Pot. Each gives the event the bare Cowrie line gives."""

from __future__ import annotations

import json

import pytest
from cowrie_helpers import DATA, child, children, the_event, the_session

from cybexp_core import InputError, PluginError, Raw
from cybexp_core.testing import run_filter, run_pipeline

FID = "d2076b75-715e-4e4d-ae0a-a291cc6d90b7"
WRAPPED = json.loads((DATA / "wrapped_documents.json").read_text())
LOGIN = WRAPPED["login"]
DOCUMENTS = WRAPPED["documents"]
TPOT_EXTRA = ("tpot_tcpip", "tpot_fingerprint")


@pytest.mark.parametrize("shape", sorted(DOCUMENTS))
def test_every_wrapper_gives_the_bare_events_hash(run, shape):
    bare = run(LOGIN)
    wrapped = run(DOCUMENTS[shape], sub_type="unr_honeypot")
    assert wrapped.problems == ()
    assert the_event(wrapped)._hash == the_event(bare)._hash
    assert the_session(wrapped)._hash == the_session(bare)._hash


def test_tpot_renamed_destination_is_read(run):
    made = the_event(run(WRAPPED["tpot_tcpip"]))
    dst = child(made, "dst")
    assert (child(dst, "domain").data, child(dst, "port").data) == ("www.example.net", 443)


def test_tpot_type_is_not_an_ssh_key_type(run):
    made = the_event(run(WRAPPED["tpot_fingerprint"]))
    assert children(made, "ssh_key_type") == []


def test_a_wazuh_alert_whose_full_log_is_not_json_fails_with_the_reason(run):
    alert = {**DOCUMENTS["wazuh_alert"], "full_log": '{"eventid": "cowrie.login.fa'}
    with pytest.raises(InputError, match="'full_log' is not JSON") as caught:
        run(alert, sub_type="unr_honeypot")
    assert caught.value.field == "eventid"


def test_event_paths_setting_per_sub_type():
    """A sub_type configured to read ``event.original`` only; others keep the defaults."""
    settings = {
        "sub_types": ["cowrie", "ecs_cowrie"],
        "event_paths": {"ecs_cowrie": ["event.original"]},
    }
    ecs = {"event": {"original": json.dumps(LOGIN)}, "message": "login attempt"}
    made = the_event(run_filter("cowrie", Raw("ecs_cowrie", ecs, "org"), settings))
    assert made._hash == the_event(run_filter("cowrie", Raw("cowrie", LOGIN, "org")))._hash
    with pytest.raises(InputError, match=r"'event\.original'"):  # only its own paths
        run_filter("cowrie", Raw("ecs_cowrie", DOCUMENTS["filebeat_json"], "org"), settings)
    default = run_filter("cowrie", Raw("cowrie", DOCUMENTS["filebeat_json"], "org"), settings)
    assert the_event(default)._hash == made._hash


@pytest.mark.parametrize(
    "event_paths",
    [{"not_read": ["json"]}, {"cowrie": "json"}, {"cowrie": ["json..x"]}, {"cowrie": []}],
)
def test_bad_event_paths_stop_the_plugin(event_paths):
    with pytest.raises(PluginError, match="event_paths"):
        run_filter("cowrie", Raw("cowrie", LOGIN, "org"), {"event_paths": event_paths})


def test_wrapped_documents_through_the_runner(archive):
    documents = [Raw("unr_honeypot", doc, "org") for doc in DOCUMENTS.values()]
    documents += [Raw("cowrie", WRAPPED[name], "org") for name in TPOT_EXTRA]
    summary = run_pipeline(archive, documents, filters=["cowrie"])
    stats = summary.filters["cowrie"]
    assert (stats.processed, stats.failed, stats.problems) == (len(documents), 0, 0)
    coll = archive.collection
    assert coll.count_documents({"itype": "event", "sub_type": "login"}) == 1  # one login
    # one session per sensor: the login's, and the T-Pot sensor's
    assert coll.count_documents({"itype": "session"}) == 2
    assert coll.count_documents({"itype": "raw", "filters": FID}) == len(documents)
