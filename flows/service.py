"""`partner-ledger serve`: the nightly settlement as a long-lived service.

Prefect schedules runs only on a real server (its ephemeral one runs no scheduler), so serve
connects to PREFECT_API_URL when it is set, and otherwise starts `prefect server start` on a
loopback port with its own SQLite database in the state folder (PREFECT_HOME). It then serves
the nightly deployment on the cron: the server's scheduler creates the runs, this process runs
them, and the Prefect UI shows them with their logs and artifacts. Ctrl-C or SIGTERM stops the
runner, then the server it started.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from partner_ledger.ops.prefect_setup import (
    STARTUP_TIMEOUT,
    STARTUP_TIMEOUT_DEFAULT,
    PrefectUnavailable,
    api_answers,
    configured_api_url,
)

DEFAULT_PORT = 4200  # Prefect's own default, so `prefect` commands find it too
DEPLOYMENT = "nightly-settlement/nightly-settlement"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def local_server(home: Path, port: int) -> Iterator[str]:
    """`prefect server start` on 127.0.0.1:port, its database and log in `home`; yields the
    API URL once the server answers, and stops the server on exit."""
    if not _port_free(port):
        raise PrefectUnavailable(
            f"port {port} is in use: choose another with --port (or {'PARTNER_LEDGER_PREFECT_PORT'}),"
            f" or set PREFECT_API_URL to the Prefect server listening there"
        )
    log = home / "server.log"
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(home.resolve())
    command = [sys.executable, "-m", "prefect", "server", "start"]
    with log.open("ab") as output:
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C reaches serve, which stops the server in order
        )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        timeout = float(os.environ.get(STARTUP_TIMEOUT) or STARTUP_TIMEOUT_DEFAULT)
        deadline = time.monotonic() + timeout
        while not api_answers(api_url, timeout=2):
            if server.poll() is not None:
                raise PrefectUnavailable(
                    f"the Prefect server exited with code {server.returncode} while starting "
                    f"(log {log}):\n{_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise PrefectUnavailable(
                    f"the Prefect server did not answer within {timeout:.0f} s ({STARTUP_TIMEOUT});"
                    f" set it higher on a busy machine (log {log})"
                )
            time.sleep(0.5)
        yield api_url
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _croniter() -> Any:
    """Prefect's own cron parser (the one its scheduler uses), loaded from its file: importing
    it through the package would import all of Prefect (seconds) before the inputs are checked."""
    package = importlib.util.find_spec("prefect")
    assert package is not None and package.submodule_search_locations
    path = Path(package.submodule_search_locations[0]) / "_vendor" / "croniter" / "croniter.py"
    spec = importlib.util.spec_from_file_location("partner_ledger_croniter", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.croniter


def cron_problem(cron: str) -> str | None:
    if _croniter().is_valid(cron):
        return None
    return f"--cron {cron!r} is not a cron expression (minute hour day month weekday, UTC)"


def next_run(cron: str, after: datetime | None = None) -> datetime:
    return _croniter()(cron, after or datetime.now(UTC)).get_next(datetime)


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
        # imported by module: a file path would put flows/ first on sys.path, where flows/dbt.py
        # hides the dbt package
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
