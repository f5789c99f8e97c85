"""Issue 17 "Done when": SIGKILL of the daemon at 8 seeded moments of a mixed, chained load.

Six kills land at random times; two land between a batch's commit and its lease's
release (one in a Cowrie batch, one in a chained correlation batch), through a wrapper
that kills the process when ``Leases.release`` is entered. Then ``run --once`` must leave
the database equal, byte for byte, to an uninterrupted run's: nothing lost, nothing
duplicated, nothing pending.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CLI, _env, cli, cowrie_events, database, runner_config, summary_of
from cybexp_core import Raw
from cybexp_core.backend import Archive
from cybexp_core.testing import snapshot

SEED = 17
COWRIE_ID = "d2076b75-715e-4e4d-ae0a-a291cc6d90b7"
CORRELATION_ID = "3c0d5a8e-6f1b-4b7e-9d2a-c0a7e1a7e8f4"
#: Runs the CLI, but SIGKILLs itself on entering ``Leases.release`` of a key with the prefix
#: given as its first argument: after the batch is committed, before its lease is released.
KILL_IN_RELEASE = """
import os, signal, sys
from cybexp_core import leases
prefix = sys.argv.pop(1)
original = leases.Leases.release
def release(self, key, *args, **kwargs):
    if key.startswith(prefix):
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, key, *args, **kwargs)
leases.Leases.release = release
from cybexp_core.cli import main
sys.argv[0] = "cybexp-analytics"
main()
"""


def _raws() -> list[Raw]:
    cowrie = [Raw("cowrie", event, "org-honeynet") for event in cowrie_events(400, seed=SEED)]
    urls = "".join(f"http://203.0.{n % 40}.{n % 250 + 1}/login.php\n" for n in range(40))
    feed = Raw("openphish_feed", {"data": urls, "timestamp": 1763625600}, "org-feeds")
    mails = [
        Raw(
            "email",
            {
                "data": (
                    f"From: alerts{n}@bank.example.com\nTo: victim@example.org\n"
                    f"Subject: verify {n}\nDate: Thu, 20 Nov 2026 08:00:0{n} +0000\n"
                    f"Message-ID: <m{n}@bank.example.com>\n\n"
                    f"Log in at http://203.0.{n}.{n + 1}/login.php now\n"
                )
            },
            "org-mail",
        )
        for n in range(5)
    ]
    return [*cowrie, feed, *mails]


def _daemon(uri: str, db: str, config: Path, kill_in_release: str | None) -> subprocess.Popen:
    common = ["--mongo-url", uri, "--db", db, "--config", str(config), "run"]
    if kill_in_release is None:
        command = [CLI, *common]
    else:
        command = [sys.executable, "-c", KILL_IN_RELEASE, kill_in_release, *common]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env()
    )


@pytest.mark.slow
def test_eight_seeded_kills_then_run_once_equal_an_uninterrupted_run(
    archive: Archive, other_archive: Archive, mongo_uri: str, tmp_path: Path
) -> None:
    config = runner_config(tmp_path, lease_seconds=2, batch_size=40, max_idle=0.5)
    for target in (archive, other_archive):
        target.ensure_indexes()
        target.insert_raw(_raws())
    summary_of(cli(mongo_uri, database(other_archive), "run", "--once", "--json", config=config))
    expected = snapshot(other_archive)

    rng = random.Random(SEED)
    moments: list[str | None] = [None] * 6 + [f"{COWRIE_ID}:", f"{CORRELATION_ID}:"]
    rng.shuffle(moments)
    died_in_release = 0
    for moment in moments:
        daemon = _daemon(mongo_uri, database(archive), config, moment)
        try:
            if moment is None:
                time.sleep(rng.uniform(1.0, 5.0))
            else:
                died_in_release += daemon.wait(timeout=300) == -signal.SIGKILL
        except subprocess.TimeoutExpired:
            pass  # the work of that filter was done before: killed below instead
        daemon.kill()
        daemon.wait()
    assert died_in_release >= 1, "no kill landed between commit and release"

    time.sleep(2.5)  # the dead daemons' leases expire
    summary_of(cli(mongo_uri, database(archive), "run", "--once", "--json", config=config))
    actual = snapshot(archive)
    lost = expected.keys() - actual.keys()
    extra = actual.keys() - expected.keys()
    assert (len(lost), len(extra)) == (0, 0), f"{len(lost)} lost, {len(extra)} extra"
    assert actual == expected
    hashes = [
        (d["_hash"], d["itype"]) for d in archive.collection.find({}, {"_hash": 1, "itype": 1})
    ]
    assert len(hashes) == len(set(hashes)), "duplicate _hash"
    status = cli(mongo_uri, database(archive), "status", "--json", config=config)
    assert status.returncode == 0, status.stderr[-2000:]
    pending = {row["name"]: row["pending"] for row in json.loads(status.stdout)["filters"]}
    assert set(pending.values()) == {0}, pending
