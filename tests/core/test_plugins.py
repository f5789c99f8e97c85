"""Discovery through entry points, each plugin isolated; what `plugins` reports."""

from __future__ import annotations

import pytest

from cybexp_core import PluginError
from cybexp_core.plugins import load_filters
from fakes import entry_point

GOOD = entry_point("ips", "fakes:ip_sightings")


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load() -> None:
    report = load_filters(entry_points_=[entry_point("ghost", "no_such_module_xyz:plugin"), GOOD])
    assert [f.info.name for f in report.filters] == ["ips"]
    assert [e.name for e in report.errors] == ["ghost"]
    assert report.errors[0].error.startswith("import: ModuleNotFoundError")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("wrong", "fakes:wrong_argument", "database"),
        ("nodecl", "fakes:no_declaration", "must implement both"),
    ],
)
def test_a_plugin_that_breaks_the_spec_is_reported(name: str, value: str, message: str) -> None:
    report = load_filters(entry_points_=[entry_point(name, value), GOOD])
    assert [f.info.name for f in report.filters] == ["ips"]
    assert report.errors[0].error.startswith("validation:")
    assert message in report.errors[0].error


def test_two_plugins_with_one_id_keep_the_first() -> None:
    report = load_filters(entry_points_=[GOOD, entry_point("zz_copy", "fakes:ip_sightings_copy")])
    assert len(report.filters) == 1
    assert "already used" in report.errors[0].error


def test_strict_mode_raises_instead() -> None:
    with pytest.raises(PluginError, match="ghost"):
        load_filters(entry_points_=[entry_point("ghost", "no_such_module_xyz")], strict=True)


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CYBEXP_DISABLE_FILTERS", "ips, other")
    assert load_filters(entry_points_=[GOOD]).filters == []


def test_hook_filter_info_receives_its_settings_by_entry_point_name() -> None:
    report = load_filters(entry_points_=[GOOD], settings={"ips": {"sub_type": "custom"}})
    assert report.filters[0].info.consumes[0].sub_type == "custom"
    assert report.filters[0].settings == {"sub_type": "custom"}


def test_a_bad_return_value_is_a_plugin_error_per_document() -> None:
    loaded = load_filters(entry_points_=[entry_point("badreturn", "fakes:bad_return")]).filters[0]
    with pytest.raises(PluginError, match="must return a list"):
        loaded.run({"data": {}})


def test_each_filter_calls_only_its_own_plugin() -> None:
    report = load_filters(entry_points_=[GOOD, entry_point("corr", "fakes:ip_correlator")])
    ips = next(f for f in report.filters if f.info.name == "ips")
    result = ips.run({"data": {"ips": ["1.2.3.4"], "ts": 1}, "orgid": "o"})
    assert result is not None
    assert [i.itype for i in result.instances] == ["event"]
