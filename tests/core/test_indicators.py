"""One indicator, one attribute: hosts and URLs are normalised the same way everywhere."""

from __future__ import annotations

import pytest

from cybexp_core import Attribute, InputError
from cybexp_core.indicators import host_attribute, normalize_url, url_attributes


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Example.COM.", Attribute("domain", "example.com")),
        ("bücher.example", Attribute("domain", "xn--bcher-kva.example")),
        # UTS #46 as browsers and the idna package, not IDNA 2003's "fass.de"
        ("faß.de", Attribute("domain", "xn--fa-hia.de")),
        ("βόλος.gr", Attribute("domain", "xn--nxasmm1c.gr")),  # final sigma kept
        ("Ａ_b。example", Attribute("domain", "a_b.example")),
        ("☃.net", Attribute("domain", "xn--n3h.net")),
        ("3232235777", Attribute("ipv4", "192.168.1.1")),
        ("0x7f.1", Attribute("ipv4", "127.0.0.1")),
        ("[2001:DB8::1]", Attribute("ipv6", "2001:db8::1")),
        ("::ffff:198.51.100.7", Attribute("ipv4", "198.51.100.7")),
    ],
)
def test_hosts(host: str, expected: Attribute) -> None:
    assert host_attribute(host) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("  HTTP://Bücher.Example./Login?A=1#Top ", "http://xn--bcher-kva.example/Login?A=1#Top"),
        ("http://3232235777/a", "http://192.168.1.1/a"),
        ("ftp://user:pw@Files.Example:2121/x", "ftp://user:pw@files.example:2121/x"),
    ],
)
def test_urls(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [("example.com/login", "scheme and a host"), ("http://x/\t2018-12-06", "control"),
     ("http://x:99999/", "invalid URL"), ("http://exa mple.com/", "invalid host")],
)
def test_bad_urls(url: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        normalize_url(url)


def test_url_attributes_checks_the_scheme() -> None:
    url, host = url_attributes("https://Phish.Example/x", schemes=("http", "https"))
    assert (url.data, host) == ("https://phish.example/x", Attribute("domain", "phish.example"))
    with pytest.raises(InputError, match="scheme 'javascript'"):
        url_attributes("javascript://x/alert(1)", schemes=("http", "https"))
