"""A 50 MB message stays within a bounded amount of memory (Linux: /proc peak RSS)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import base64, hashlib, os, sys
from cybexp_core.testing import run_filter, make_raw
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) // 1024
head = ("From: a@example.org\nTo: b@example.net\nSubject: big\n"
        "Date: Mon, 05 Apr 2021 20:34:12 +0000\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\n"
        "see http://example.com/a\n--XX\nContent-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=big.bin\n\n")
chunk = os.urandom(570000)
digest = hashlib.sha256()
pieces = [head]
for _ in range(66):  # 66 * 570 kB = 37.6 MB of data, 50.8 MB as base64
    digest.update(chunk)
    pieces.append(base64.encodebytes(chunk).decode())
pieces.append("--XX--\n")
doc = make_raw("email", {"data": "".join(pieces)})
del pieces
run_filter("email", make_raw("email", {"data": "From: a@b.example\n\nx"}))
open("/proc/self/clear_refs", "w").write("5")
before = peak()
result = run_filter("email", doc)
files = [i for i in result.instances if i.sub_type == "email_indicators"][0].data["file"]
print(len(doc["data"]["data"]), before, peak(), files[0]["sha256"][0] == digest.hexdigest())
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_50_mb_message_has_a_bounded_peak_memory():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout.split()
    size, before, peak, sha_ok = int(out[0]), int(out[1]), int(out[2]), out[3] == "True"
    assert size > 50_000_000
    assert sha_ok, "the attachment's sha256 is computed past the parse bound"
    assert peak - before < 150, (
        f"peak grew by {peak - before} MiB for a {size / 1e6:.0f} MB message"
    )
