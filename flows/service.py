"""`partner-ledger serve`: the nightly settlement as a long-lived service.

Prefect schedules runs only on a real server (its ephemeral one runs no scheduler), so serve
connects to PREFECT_API_URL when it is set, and otherwise starts `prefect server start` on a
loopback port with its own SQLite database in the state folder (PREFECT_HOME). It then serves
the nightly deployment on the cron: the server's scheduler creates the runs, this process runs
them, and the Prefect UI shows them with their logs and artifacts. Ctrl-C or SIGTERM stops the
runner, then the server it started (partner_ledger.ops.prefect_server).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from partner_ledger.ops.prefect_server import local_server, next_run
from partner_ledger.ops.prefect_setup import configured_api_url

DEPLOYMENT = "nightly-settlement/nightly-settlement"


def serve_nightly(deployment_parameters: dict[str, str], cron: str, home: Path, port: int) -> None:
    """Serve the nightly deployment until Ctrl-C or SIGTERM (PREFECT_HOME is set already)."""
    api_url = configured_api_url(
        "(`prefect server start`), or unset PREFECT_API_URL and serve starts its own"
    )
    if api_url:
        _serve(deployment_parameters, cron, api_url, started=False)
        return
    with local_server(home, port) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        _serve(deployment_parameters, cron, api_url, started=True)


def nightly_deployment(parameters: dict[str, str], cron: str):
    """The nightly flow as a Prefect deployment on a cron (UTC). A scheduled run has no as-of:
    it settles the night it runs (today's date, UTC)."""
    from prefect.types.entrypoint import EntrypointType

    from flows.nightly import nightly_settlement

    return nightly_settlement.to_deployment(
        name="nightly-settlement",
        cron=cron,
        parameters={**parameters, "scenario": "scheduled"},
        # imported by module, as installed: a file path would put flows/ first on sys.path, where
        # a module named like a package (dbt, prefect) would hide it
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def _serve(parameters: dict[str, str], cron: str, api_url: str, started: bool) -> None:
    from prefect import serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deployment = nightly_deployment(parameters, cron)
    ui = api_url.removesuffix("/api")
    home = os.environ.get("PREFECT_HOME", "")
    print(
        f"Prefect server: {ui} ({'started by serve, state in ' + home if started else 'running'})"
    )
    print(
        f"serving {DEPLOYMENT} on cron {cron!r} (UTC); the warehouse is {parameters['warehouse']}"
    )
    print(f"next run: {next_run(cron):%Y-%m-%d %H:%M} UTC; Ctrl-C stops", flush=True)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _interrupt)  # systemd stops with SIGTERM: same as Ctrl-C
    try:
        # Prefect read its settings when it was first imported (the cron check may come before
        # the server): this server, not a temporary one, for the runner and its runs
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            serve(deployment, print_starting_message=False)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("serve stopped", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
