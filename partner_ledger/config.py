"""Run configuration: every option of the command line, with its environment variable.

Read in one place. Defaults are the embedded ones: the DuckDB file under ./warehouse, the rules in
the project's seeds/, the landing directory ./landing and the output folder ./out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from partner_ledger.settle.dbt import PROJECT_DIR

ENV = {
    "as_of": "PARTNER_LEDGER_AS_OF",
    "landing": "PARTNER_LEDGER_LANDING",
    "rules": "PARTNER_LEDGER_RULES",
    "warehouse": "PARTNER_LEDGER_WAREHOUSE",
    "out": "PARTNER_LEDGER_OUT",
    "report": "PARTNER_LEDGER_REPORT",
    "date_from": "PARTNER_LEDGER_FROM",
    "date_to": "PARTNER_LEDGER_TO",
    "state": "PARTNER_LEDGER_STATE",
    "cron": "PARTNER_LEDGER_CRON",
    "port": "PARTNER_LEDGER_PREFECT_PORT",
}

DEFAULTS = {
    "landing": Path("landing"),
    "rules": PROJECT_DIR / "seeds",
    "warehouse": Path("warehouse") / "partner_ledger.duckdb",
    "out": Path("out"),
    "report": Path("out") / "backtest",
}


def state_default(warehouse: Path) -> Path:
    """Prefect's state (its database, logs, results) for runs of a warehouse: a `prefect`
    folder beside the warehouse file, owner-only like it (docs/decisions/0013-operations.md)."""
    return warehouse.parent / "prefect"


def env_default(option: str) -> str | None:
    """The value of an option's environment variable, if set and non-empty."""
    value = os.environ.get(ENV[option], "").strip()
    return value or None


def path_option(option: str, given: str | None) -> Path:
    """An option's path: the command line, else its environment variable, else the default."""
    value = given or env_default(option)
    return Path(value) if value else DEFAULTS[option]


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"--{option.replace('_', '-')}: expected a date YYYY-MM-DD, got {value!r}"
        ) from exc


@dataclass(frozen=True)
class RunConfig:
    as_of: date
    landing: Path
    rules: Path
    warehouse: Path
    out: Path

    @property
    def report_dir(self) -> Path:
        return self.out / "reports" / self.as_of.isoformat()


def dbt_target_dir(warehouse: Path) -> Path:
    """dbt's target folder of a warehouse's runs (partial parse, compiled SQL, run results)."""
    return warehouse.parent / "dbt_target"


def dbt_log_dir(warehouse: Path) -> Path:
    """dbt's own log (dbt.log) of a warehouse's runs: beside the warehouse, owner-only like it,
    never in the project folder."""
    return warehouse.parent / "dbt_logs"


def run_record_path(warehouse: Path, as_of: date) -> Path:
    """Where a committed run leaves its summary: `runs/<as-of>.json` beside the warehouse."""
    return warehouse.parent / "runs" / f"{as_of.isoformat()}.json"
