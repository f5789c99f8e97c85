"""Assemble the TAHOE ``email`` event (and its ``email_indicators`` companion)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from cybexp_core import (
    Attribute,
    Child,
    Event,
    FilterResult,
    InputError,
    Object,
    PluginError,
    Problem,
)
from cybexp_core.indicators import host_attribute
from cybexp_core.inputs import orgid_of
from cybexp_filter_email.content import Content, read_content
from cybexp_filter_email.headers import (
    declared_charsets,
    first_external_ip,
    has_address_text,
    header_text,
    mailboxes,
    mbox_date,
    parse_date,
    raw_values,
    received_hops,
    recode_8bit,
)
from cybexp_filter_email.links import find_urls, url_attributes
from cybexp_filter_email.message import load_message, message_text

__all__ = ["FALLBACK_TIME", "Limits", "email_result"]

#: Event time of a message with no usable date anywhere (1970-01-01T00:00:00Z).
FALLBACK_TIME = 0.0
#: The provider header the original read the sending IP from.
SENDING_IP_HEADER = "X-Mailgun-Sending-Ip"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@frozen
class Limits:
    """The filter's settings (section ``filters.email`` of the configuration)."""

    #: Characters of a message that are parsed; the rest is cut (memory bound).
    max_message_chars: int = 8 << 20
    #: Characters kept of the body attribute (a TAHOE document is at most 16 MB).
    max_body_chars: int = 1 << 20
    #: URLs kept per message.
    max_urls: int = 1000
    #: Networks of the receiving side, skipped when looking for the sending IP.
    internal_networks: tuple[Network, ...] = ()
    #: Without the provider header, take the sending IP from Received. False gives the
    #: original's event (no IP) for such mail, hash for hash.
    received_ip: bool = True

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        """Read the settings; :class:`PluginError` names a bad value."""
        values: dict[str, Any] = {}
        for name in ("max_message_chars", "max_body_chars", "max_urls"):
            if name in settings:
                value = settings[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise PluginError(
                        f"email: setting {name} must be a positive int, got {value!r}"
                    )
                values[name] = value
        if "received_ip" in settings:
            if not isinstance(settings["received_ip"], bool):
                raise PluginError("email: setting received_ip must be true or false")
            values["received_ip"] = settings["received_ip"]
        nets = settings.get("internal_networks", ())
        try:
            values["internal_networks"] = tuple(ipaddress.ip_network(n, strict=False) for n in nets)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"email: setting internal_networks: {exc}") from exc
        return cls(**values)


def _event_time(
    msg: Any, hops: list[tuple[list[str], float | None]], fetched: float | None
) -> tuple[float, Problem | None]:
    """The Date header; else the latest Received date, the mbox ``From `` line date,
    the raw document's ``data.timestamp`` (fetch time), or 0. Never the clock."""
    dates = raw_values(msg, "date")
    when = parse_date(dates[0]) if dates else None
    if when is not None:
        return when, None
    missing = f"Date {dates[0]!r} cannot be parsed" if dates else "no Date header"
    received = [t for _, t in hops if t is not None]
    fallbacks = (
        (max(received) if received else None, "the latest Received date"),
        (mbox_date(msg), "the date of the mbox 'From ' line"),
        (fetched, "data.timestamp (when the file was fetched)"),
        (FALLBACK_TIME, "0 (1970-01-01T00:00:00Z): no date anywhere"),
    )
    value, what = next((v, w) for v, w in fallbacks if v is not None)
    return value, Problem("Date", f"{missing}: event time is {what}")


def _sending_ip(msg: Any, hops: Any, limits: Limits) -> tuple[Attribute | None, list[Problem]]:
    value = header_text(msg, SENDING_IP_HEADER)
    problems = []
    if value:
        try:
            return host_attribute(value), []
        except InputError:
            problems.append(Problem(SENDING_IP_HEADER, f"{value!r} is not an IP address"))
    if not limits.received_ip:
        return None, problems
    ip = first_external_ip(hops, limits.internal_networks)
    return (host_attribute(ip) if ip else None), problems


def _person(sub_type: str, name: str | None, addr: str | None) -> Object | None:
    """As the original: ``name`` (if any) and ``email_addr``."""
    children = [Attribute("name", name)] if name else []
    if addr:
        children.append(Attribute("email_addr", addr))
    return Object(sub_type, children) if children else None


def _message_children(
    msg: Any, hops: Any, content: Content, limits: Limits, latin1: bool
) -> tuple[list[Child], list[Problem]]:
    """The original's children: src, reply_to, dst (To and Cc), subject, body."""
    problems: list[Problem] = []
    charsets = declared_charsets(msg) if latin1 else []

    def fix(text: str | None) -> str | None:
        return recode_8bit(text, charsets) if text and latin1 else text

    def boxes(names: list[str]) -> list[tuple[str | None, str | None]]:
        return [(fix(n), fix(a)) for n, a in mailboxes(msg, names)]

    senders = boxes(["from"])
    if len(senders) > 1:
        problems.append(Problem("From", f"{len(senders)} authors; the first is the src"))
    name, addr = senders[0] if senders else (None, None)
    ip, ip_problems = _sending_ip(msg, hops, limits)
    problems += ip_problems
    src = [Attribute(k, v) for k, v in (("name", name), ("email_addr", addr)) if v]
    src += [ip] if ip else []
    children: list[Child] = [Object("src", src)] if src else []
    for _, reply_to in boxes(["reply-to"]):
        if reply_to:
            children.append(Object("reply_to", Attribute("email_addr", reply_to)))
    children += [d for n, a in boxes(["to", "cc"]) if (d := _person("dst", n, a))]
    subject = fix(header_text(msg, "subject"))
    if subject:
        children.append(Attribute("subject", subject))
    if content.body is not None:
        children.append(Attribute("body", content.body))
    present = {"To": has_address_text(msg, "To"), "Subject": header_text(msg, "Subject")}
    missing = [h for h, text in present.items() if not text]
    if not senders:  # absent, empty ("From:") or a null sender ("From: <>")
        missing.insert(0, "From")
    if missing:
        problems.append(Problem("headers", "no " + ", ".join(missing)))
    return children, problems


def _defects(msg: Any, truncated: bool) -> Problem | None:
    names = sorted({type(d).__name__ for part in msg.walk() for d in part.defects})
    if truncated:  # the cut itself loses the closing boundary
        names = [n for n in names if n != "CloseBoundaryNotFoundDefect"]
    if not names:
        return None
    return Problem("MIME", "the message structure is damaged: " + ", ".join(names))


def email_result(document: Mapping[str, Any], limits: Limits) -> FilterResult:
    """Everything the filter makes of one raw ``email`` document."""
    orgid = orgid_of(document, "email")
    source = message_text(document)
    if source is None:
        data = document["data"]
        return FilterResult(
            problems=[
                Problem(
                    "data.part",
                    f"part {data.get('part')} of {data.get('parts')} of "
                    f"{data.get('file', 'a file')} split at ingest: a continuation; "
                    "the email event is made from part 1",
                )
            ]
        )
    problems = list(source.problems)
    loaded = load_message(source, limits.max_message_chars)
    msg = loaded.message
    problems += loaded.problems
    content = read_content(
        msg,
        truncated=loaded.truncated,
        latin1=loaded.latin1,
        rest=loaded.rest,
        max_body_chars=limits.max_body_chars,
        max_part_chars=limits.max_message_chars,
    )
    problems += content.problems
    hops = received_hops(msg)
    children, more = _message_children(msg, hops, content, limits, loaded.latin1)
    problems += more
    if not children:
        raise InputError(
            "email: the message has no From, To, Cc, Reply-To or Subject and no text body"
        )
    timestamp, time_problem = _event_time(msg, hops, source.fetched)
    email = Event("email", children, orgid, timestamp)
    instances: list[Any] = [email]
    indicators = _indicator_children(content, limits, problems)
    if indicators:
        link = Attribute("email_event", email._hash)
        instances.append(Event("email_indicators", [*indicators, link], orgid, timestamp))
    defect = _defects(msg, loaded.truncated)
    problems += [p for p in (time_problem, defect) if p]
    return FilterResult(instances=instances, problems=problems)


def _indicator_children(content: Content, limits: Limits, problems: list[Problem]) -> list[Child]:
    urls, url_problems = url_attributes(find_urls(content.texts, content.links), limits.max_urls)
    problems += url_problems
    files: list[Child] = []
    for attachment in content.attachments:
        parts = []
        if attachment.filename:
            parts.append(Attribute("filename", attachment.filename))
        if attachment.sha256:
            parts.append(Attribute("sha256", attachment.sha256))
        if parts:
            files.append(Object("file", parts))
    return [*urls, *files]
