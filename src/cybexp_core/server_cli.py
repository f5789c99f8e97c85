"""``cybexp-analytics server start|stop|status``: the embedded server's own lifecycle."""

from __future__ import annotations

import json

import click

from cybexp_core.embedded import ServerState, data_dir, server_state, start_server, stop_server

__all__ = ["server"]


def _describe(state: ServerState) -> str:
    kept = "kept until `server stop`" if state.pinned else "stops when its last user exits"
    return (
        f"embedded server {state.uri} (pid {state.pid}, since {state.started}, {kept})\n"
        f"  data {state.data}\n  log  {state.log}"
    )


@click.group()
def server() -> None:
    """The embedded server of $CYBEXP_DATA_DIR, else of the per-user data directory."""


@server.command()
def start() -> None:
    """Start the embedded server (or keep the running one) until `server stop`."""
    click.echo(_describe(start_server()))


@server.command()
def stop() -> None:
    """Stop the embedded server; commands using it lose their database."""
    state = stop_server()
    click.echo(f"stopped {state.uri} (pid {state.pid})" if state else "no embedded server running")


@server.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Whether the embedded server runs, where, and whether a command uses it (exit 3 if not)."""
    state, in_use = server_state()
    if as_json:
        body = {"running": state is not None, "in_use": in_use, "directory": str(data_dir())}
        if state is not None:
            body.update(uri=state.uri, pid=state.pid, data=state.data, log=state.log)
        click.echo(json.dumps(body, indent=2))
    elif state is None:
        click.echo(f"no embedded server running (data directory {data_dir()})")
    else:
        click.echo(_describe(state) + ("\n  in use by a command now" if in_use else ""))
    if state is None:
        raise SystemExit(3)
