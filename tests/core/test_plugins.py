"""Discovery through entry points, each plugin isolated; what `plugins` reports."""

from __future__ import annotations

import pytest

from cybexp_core import PluginError
from cybexp_core.plugins import load_filters
from fakes import configured, entry_point

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


def test_hook_configure_parses_the_settings_once_and_hands_them_back() -> None:
    before = configured.configured
    report = load_filters(
        entry_points_=[entry_point("configured", "fakes:configured")],
        settings={"configured": {"prefix": "custom"}},
    )
    [loaded] = report.filters
    assert loaded.info.consumes[0].sub_type == "custom"  # filter_info got the options
    results = [loaded.run({"data": {}, "orgid": "o"}) for _ in range(3)]
    assert configured.configured == before + 1  # once at load, never per document
    assert {r.instances[0].doc["data"] for r in results if r} == {before + 1}
    assert {r.instances[0].sub_type for r in results if r} == {"custom"}


def test_a_plugin_whose_configure_refuses_its_settings_is_reported() -> None:
    report = load_filters(
        entry_points_=[entry_point("configured", "fakes:configured"), GOOD],
        settings={"configured": {"prefix": 3}},
    )
    assert [f.info.name for f in report.filters] == ["ips"]
    assert report.errors[0].stage == "settings"
    assert "'prefix' must be a string" in report.errors[0].error


def test_without_configure_options_is_none() -> None:
    [loaded] = load_filters(entry_points_=[GOOD]).filters
    assert loaded.options is None


def test_a_bad_return_value_is_a_plugin_error_per_document() -> None:
    loaded = load_filters(entry_points_=[entry_point("badreturn", "fakes:bad_return")]).filters[0]
    with pytest.raises(PluginError, match="must return a list"):
        loaded.run({"data": {}})
    with pytest.raises(PluginError, match="returned a str; expected Attribute"):
        loaded.run({"data": {"item": "1.2.3.4"}})  # in a FilterResult made by FilterResult.of


def test_each_filter_calls_only_its_own_plugin() -> None:
    report = load_filters(entry_points_=[GOOD, entry_point("corr", "fakes:ip_correlator")])
    ips = next(f for f in report.filters if f.info.name == "ips")
    result = ips.run({"data": {"ips": ["1.2.3.4"], "ts": 1}, "orgid": "o"})
    assert result is not None
    assert [i.itype for i in result.instances] == ["event"]
