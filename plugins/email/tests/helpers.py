"""Shared test helpers: fixture loading and a literal re-statement of the original filter."""

from __future__ import annotations

from email.parser import Parser
from email.policy import default
from pathlib import Path
from typing import Any

from cybexp_core import Attribute, Event, Object
from cybexp_core.testing import make_raw

DATA = Path(__file__).parent / "data"


def eml(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def raw(text: str, orgid: str = "test_org", **extra: Any) -> dict[str, Any]:
    return make_raw("email", {"data": text, **extra}, orgid=orgid)


def original_email_event(text: str, orgid: str) -> Event | None:
    """The original CYBEX-P email filter (spec section 6.4), step by step, on our models."""
    e = Parser(policy=default).parsestr(text)
    for key in ("from", "to", "subject", "date"):
        if not e[key]:
            return None

    def split(header: str) -> tuple[str | None, str]:
        if header[-1] == ">":
            name, _, addr = header.rpartition(" ")
            return name, addr[1:-1]
        return None, header

    from_name, from_addr = split(e["from"])
    src = [Attribute("name", from_name)] if from_name else []
    src.append(Attribute("email_addr", from_addr))
    if e["X-Mailgun-Sending-Ip"]:
        src.append(Attribute("ipv4", e["X-Mailgun-Sending-Ip"]))
    children: list[Any] = [Object("src", src)]
    if e["reply-to"]:
        children.append(Object("reply_to", Attribute("email_addr", e["reply-to"])))
    to_name, to_addr = split(e["to"])
    dst = [Attribute("name", to_name)] if to_name else []
    dst.append(Attribute("email_addr", to_addr))
    children += [Object("dst", dst), Attribute("subject", e["subject"])]
    body = e.get_body(preferencelist=("plain", "html")).get_content()
    children.append(Attribute("body", body))
    return Event("email", children, orgid, e["date"].datetime.timestamp())
