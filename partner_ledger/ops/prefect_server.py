"""A local Prefect server for `serve` (Prefect's temporary server runs no scheduler) and the cron
checks, with Prefect's own cron parser."""

from __future__ import annotations

import importlib.util
import os
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
)

DEFAULT_PORT = 4200  # Prefect's own default, so `prefect` commands find it too


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
