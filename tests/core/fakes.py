"""Throwaway filter plugins for the core tests (never installed)."""

from __future__ import annotations

import time
from importlib.metadata import EntryPoint
from typing import Any

import click

from cybexp_core import (
    Attribute,
    Consumes,
    Event,
    FilterInfo,
    FilterResult,
    InputError,
    PluginError,
    Problem,
    Session,
    hookimpl,
)

GROUP = "cybexp.filters"


def entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


class IpSightings:
    """Raw ``demo`` documents ``{"ips": [...], "ts": n}`` become one sighting per IP.

    ``{"bad": ...}`` raises InputError, ``{"crash": ...}`` a RuntimeError,
    ``{"skip": ...}`` is not for this filter, a non-IP string is a problem.
    """

    version = "1.0"

    @hookimpl
    def filter_info(self, settings: dict[str, Any]) -> FilterInfo:
        if not isinstance(settings.get("sub_type", "demo"), str):
            raise PluginError("setting sub_type must be a string")
        return FilterInfo(
            id="fake-ips",
            name="ips",
            version=self.version,
            consumes=[Consumes.raw(settings.get("sub_type", "demo"))],
        )

    @hookimpl
    def filter(self, document: dict[str, Any]) -> Any:
        data = document["data"]
        if "bad" in data:
            raise InputError("demo document without ips", field="data.ips")
        if "crash" in data:
            raise RuntimeError("filter bug")
        if "skip" in data:
            return None
        events, problems = [], []
        for index, ip in enumerate(data["ips"]):
            if not ip.replace(".", "").isdigit():
                problems.append(Problem(f"ips[{index}]", f"{ip!r} is not an IPv4 address"))
                continue
            attribute = Attribute("ipv4", ip)
            events.append(
                Event(
                    "sighting",
                    [attribute],
                    document["orgid"],
                    data["ts"],
                    mal_data=[attribute],
                    category="malicious",
                )
            )
        return FilterResult(events, problems)


class IpCorrelator:
    """Chained: every ``sighting`` event joins a ``by_ip`` session of its first attribute."""

    @hookimpl
    def filter_info(self) -> FilterInfo:
        return FilterInfo(
            id="fake-correlate",
            name="correlate",
            version="1.0",
            consumes=[Consumes("event", "sighting")],
        )

    @hookimpl
    def filter(self, document: dict[str, Any]) -> list[Session]:
        ip = document["data"]["ipv4"][0]
        return [
            Session(
                "by_ip",
                [Attribute("ipv4", ip)],
                events=[document["_hash"]],
                start_time=document["timestamp"],
                end_time=document["timestamp"],
            )
        ]


class EventCounter:
    """Reads every event, whatever its sub_type (``Consumes("event")``); makes nothing."""

    def __init__(self) -> None:
        self.seen = 0

    @hookimpl
    def filter_info(self) -> FilterInfo:
        return FilterInfo(id="fake-events", name="events", version="1.0",
                          consumes=[Consumes("event")])

    @hookimpl
    def filter(self, document: dict[str, Any]) -> None:
        self.seen += 1


class Configured:
    """Parses ``{"prefix": str}`` once in ``configure``; counts how often it was asked to."""

    def __init__(self) -> None:
        self.configured = 0

    @hookimpl
    def configure(self, settings: dict[str, Any]) -> tuple[str, int]:
        prefix = settings.get("prefix", "seen")
        if not isinstance(prefix, str):
            raise PluginError(f"configured: setting 'prefix' must be a string, got {prefix!r}")
        self.configured += 1
        return (prefix, self.configured)

    @hookimpl
    def filter_info(self, options: tuple[str, int]) -> FilterInfo:
        return FilterInfo(
            id="fake-configured", name="configured", version="1", consumes=[options[0]]
        )

    @hookimpl
    def filter(self, document: dict[str, Any], options: tuple[str, int]) -> list[Any]:
        return [Attribute(options[0], options[1])]


class WithCommand:
    """A filter that also adds the command ``fake-hello``."""

    @hookimpl
    def filter_info(self) -> FilterInfo:
        return FilterInfo(
            id="fake-command",
            name="withcommand",
            version="1",
            consumes=["demo"],
            indicator_types=["shell_command"],
        )

    @hookimpl
    def filter(self, document: dict[str, Any]) -> list[Any]:
        return []

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command(name="fake-hello")
        def hello() -> None:
            """Say hello from a plugin."""
            click.echo("hello from a plugin")


class BrokenCommands(WithCommand):
    """Adds a command, then raises in ``register_commands``."""

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        cli.add_command(click.Command("fake-broken"))
        raise RuntimeError("no commands today")


class WrongArgument:
    @hookimpl
    def filter_info(self) -> FilterInfo:
        return FilterInfo(id="fake-wrong", name="wrong", version="1", consumes=["demo"])

    @hookimpl
    def filter(self, document: dict[str, Any], database: object) -> list[Any]:
        return []


class NoDeclaration:
    @hookimpl
    def filter(self, document: dict[str, Any]) -> list[Any]:
        return []


class BadReturn:
    @hookimpl
    def filter_info(self) -> FilterInfo:
        return FilterInfo(id="fake-badreturn", name="badreturn", version="1", consumes=["demo"])

    @hookimpl
    def filter(self, document: dict[str, Any]) -> Any:
        """A dict, or with ``data.item``, a ``FilterResult`` holding that non-instance."""
        item = document["data"].get("item")
        if item is not None:
            return FilterResult.of([Attribute("ipv4", "1.2.3.4"), item])
        return {"not": "a list"}


class SlowSightings:
    """Raw ``slow`` documents ``{"ip": ..., "ts": n, "sleep": s}``: one sighting, after ``s`` s."""

    @hookimpl
    def filter_info(self) -> FilterInfo:
        return FilterInfo(id="fake-slow", name="slow", version="1.0", consumes=["slow"])

    @hookimpl
    def filter(self, document: dict[str, Any]) -> list[Event]:
        data = document["data"]
        time.sleep(float(data.get("sleep", 0)))
        attribute = Attribute("ipv4", data["ip"])
        return [Event("sighting", [attribute], document["orgid"], data["ts"])]


ip_sightings = IpSightings()
slow_sightings = SlowSightings()
ip_sightings_copy = IpSightings()
ip_correlator = IpCorrelator()
event_counter = EventCounter()
configured = Configured()
with_command = WithCommand()
broken_commands = BrokenCommands()
wrong_argument = WrongArgument()
no_declaration = NoDeclaration()
bad_return = BadReturn()
