"""Integration tests: every built-in plugin installed, the CLI run as users run it."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cybexp_core import Raw
from cybexp_core.backend import Archive

pytest_plugins = ["cybexp_core.testing"]

CLI = str(Path(sys.executable).parent / "cybexp-analytics")


def cowrie_events(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Realistic Cowrie sessions (connect, version, kex, logins, commands, download, closed)."""
    rng = random.Random(seed)
    made = 0
    number = 0
    while made < count:
        number += 1
        lines = list(_cowrie_session(rng, number))[: count - made]
        yield from lines
        made += len(lines)


def _cowrie_session(rng: random.Random, number: int) -> Iterator[dict[str, Any]]:
    session = f"{number:012x}"
    ip = f"203.0.{rng.randrange(0, 40)}.{rng.randrange(1, 250)}"
    start = clock = 1_763_600_000.0 + number * 7.0
    shapes: list[tuple[str, dict[str, Any]]] = [
        (
            "cowrie.session.connect",
            {
                "src_port": rng.randrange(1024, 65535),
                "dst_ip": "10.0.0.5",
                "dst_port": 2222,
                "protocol": "ssh",
            },
        ),
        ("cowrie.client.version", {"version": "SSH-2.0-Go"}),
        (
            "cowrie.client.kex",
            {
                "hassh": f"{rng.randrange(16**8):032x}",
                "hasshAlgorithms": "curve25519-sha256;aes128-ctr;hmac-sha2-256;none",
                "kexAlgs": ["curve25519-sha256"],
                "keyAlgs": ["ssh-ed25519"],
                "encCS": ["aes128-ctr"],
                "macCS": ["hmac-sha2-256"],
                "compCS": ["none"],
            },
        ),
    ]
    for _ in range(rng.randrange(1, 5)):
        shapes.append(
            (
                "cowrie.login.failed",
                {
                    "username": rng.choice(["root", "admin", "pi"]),
                    "password": rng.choice(["123456", "admin", "password", "raspberry"]),
                },
            )
        )
    if rng.random() < 0.5:
        shapes.append(("cowrie.login.success", {"username": "root", "password": "toor"}))
        for _ in range(rng.randrange(1, 4)):
            shapes.append(
                (
                    "cowrie.command.input",
                    {"input": rng.choice(["uname -a", "cat /proc/cpuinfo", "w"])},
                )
            )
        if rng.random() < 0.3:
            shapes.append(
                (
                    "cowrie.session.file_download",
                    {
                        "url": f"http://198.51.100.{rng.randrange(1, 50)}/bins/x86",
                        "outfile": "var/lib/cowrie/downloads/x",
                        "shasum": f"{rng.randrange(16**16):064x}",
                    },
                )
            )
    shapes.append(("cowrie.session.closed", {}))
    for eventid, fields in shapes:
        clock += rng.random()
        if eventid == "cowrie.session.closed":
            fields = {"duration": round(clock - start, 3)}
        yield {
            "eventid": eventid,
            "session": session,
            "src_ip": ip,
            "sensor": "sensor-a",
            "timestamp": _iso(clock),
            **fields,
        }


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def store_cowrie(archive: Archive, count: int, seed: int = 1) -> int:
    raws = [Raw("cowrie", event, "org-test") for event in cowrie_events(count, seed)]
    archive.insert_raw(raws)
    return len(raws)


def cli(
    uri: str, db: str, *args: str, config: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    command = [CLI, "--mongo-url", uri, "--db", db]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, check=False, env=_env()
    )


def start_cli(uri: str, db: str, *args: str, config: Path | None = None) -> subprocess.Popen[str]:
    command = [CLI, "--mongo-url", uri, "--db", db]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.Popen(
        [*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CYBEXP_")}


def runner_config(tmp_path: Path, **runner: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"runner": runner}))
    return path


def database(archive: Archive) -> str:
    return archive.collection.database.name


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def ids_of(values: Sequence[dict[str, Any]]) -> set[str]:
    return {value["_hash"] for value in values}
