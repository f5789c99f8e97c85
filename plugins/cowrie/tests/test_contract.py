"""The hook contract, the declaration and the settings, through the installed entry point."""

from __future__ import annotations

import pytest
from cowrie_helpers import bad_cases, era_events, golden_messages

from cybexp_core import Consumes, PluginError, Raw
from cybexp_core.testing import assert_filter_contract, load_filter

ORIGINAL_ID = "d2076b75-715e-4e4d-ae0a-a291cc6d90b7"


def test_contract_on_every_fixture():
    good = [Raw("cowrie", event, "org") for _, event in era_events()]
    good += [Raw("unr_honeypot", doc, "org") for doc in golden_messages()]
    bad = [Raw("cowrie", case["event"], "org") for case in bad_cases()["bad"]]
    assert_filter_contract("cowrie", good, bad_documents=bad)


def test_declaration_keeps_the_original_id():
    info = load_filter("cowrie").info
    assert (info.id, info.name) == (ORIGINAL_ID, "cowrie")
    assert info.consumes == (Consumes.raw("cowrie"), Consumes.raw("unr_honeypot"))


def test_sub_types_are_configurable():
    info = load_filter("cowrie", {"sub_types": ["honeypot_ssh"]}).info
    assert info.consumes == (Consumes.raw("honeypot_ssh"),)


@pytest.mark.parametrize(
    "settings",
    [
        {"sub_types": "cowrie"},
        {"sub_types": []},
        {"sub_types": ["not-an-identifier"]},
        {"telnet_sensors": [1]},
        {"sub_type": ["cowrie"]},
    ],
)
def test_unusable_settings_stop_the_plugin_loading(settings):
    with pytest.raises(PluginError):
        load_filter("cowrie", settings)
