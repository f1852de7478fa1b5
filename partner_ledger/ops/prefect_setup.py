"""Which Prefect API a command talks to, and where Prefect keeps its state.

Called by the command line before Prefect is imported (Prefect reads its settings once, at
import). A running server is used when PREFECT_API_URL is set (it must answer); otherwise each
command starts a temporary (ephemeral) server, with a start-up timeout long enough for a busy
machine. Prefect's home (database, logs, results) is the folder the command chose, unless
PREFECT_HOME is set explicitly: never the user's ~/.prefect by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

from partner_ledger.ops.lock import private_folder

STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
STARTUP_TIMEOUT_DEFAULT = 300  # seconds; Prefect's own 20 s fails on a loaded 2-core machine
_EPHEMERAL_TIMEOUT_TEXT = "Timed out while attempting to connect to ephemeral Prefect API server"


class PrefectUnavailable(RuntimeError):
    """No Prefect API to run against; the message says what to set."""


def use_prefect_home(state: Path) -> Path:
    """PREFECT_HOME for this process and the processes it starts: `state`, unless set."""
    if os.environ.get("PREFECT_HOME", "").strip():
        return Path(os.environ["PREFECT_HOME"])
    private_folder(state)
    os.environ["PREFECT_HOME"] = str(state.resolve())
    return state


def api_answers(api_url: str, timeout: float = 10.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def configured_api_url(remedy: str) -> str | None:
    """PREFECT_API_URL when it is set and its server answers; None when it is not set. A URL
    that does not answer stops the command with one line: the URL, then ``remedy``."""
    api_url = os.environ.get("PREFECT_API_URL", "").strip()
    if api_url and not api_answers(api_url):
        raise PrefectUnavailable(
            f"no Prefect server answers at PREFECT_API_URL={api_url}: start it {remedy}"
        )
    return api_url or None


def use_prefect(state: Path) -> str:
    """Configure Prefect for a run, backtest or demo; returns a line saying which API is used."""
    home = use_prefect_home(state)
    api_url = configured_api_url(
        "(`partner-ledger serve`, or `prefect server start`), or unset PREFECT_API_URL "
        "to run on a temporary server"
    )
    if api_url:
        return f"Prefect server {api_url}"
    os.environ.setdefault(STARTUP_TIMEOUT, str(STARTUP_TIMEOUT_DEFAULT))
    return f"temporary Prefect server, state in {home}"


def explain_startup_failure(message: str) -> str:
    """Prefect's ephemeral time-out (followed by the server's whole output) as one line that
    says what to set; any other message unchanged."""
    if _EPHEMERAL_TIMEOUT_TEXT not in message:
        return message
    waited = os.environ.get(STARTUP_TIMEOUT, "20")
    return (
        f"the temporary Prefect server did not answer within {waited} s ({STARTUP_TIMEOUT}); "
        f"on a busy machine set {STARTUP_TIMEOUT} higher, or keep a server running "
        "(`partner-ledger serve`, or `prefect server start`) and set "
        "PREFECT_API_URL=http://127.0.0.1:4200/api"
    )
