"""Load a validated rules folder (SPEC §1.3) into the warehouse's `rules` schema.

The folder is validated first (partner_ledger.rules.validate.validate_rules): an inconsistent folder is refused
before anything is computed. The tables are replaced whole on every run, so a run, a backfill or
a backtest computes with exactly the folder it was given.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from partner_ledger.rules.validate import RulesSummary, validate_rules

RULE_TABLES: dict[str, dict[str, str]] = {
    "programs": {
        "program_id": "VARCHAR",
        "name": "VARCHAR",
        "currency": "VARCHAR",
        "hold_days": "INTEGER",
        "min_payout_cents": "BIGINT",
        "referral_rate_bps": "INTEGER",
        "attribution_model": "VARCHAR",
        "is_default": "BOOLEAN",
        "debtor_name": "VARCHAR",
        "debtor_iban": "VARCHAR",
        "debtor_bic": "VARCHAR",
    },
    "attribution_sources": {
        "program_id": "VARCHAR",
        "source": "VARCHAR",
        "window_days": "INTEGER",
        "priority": "INTEGER",
    },
    "tiers": {
        "program_id": "VARCHAR",
        "tier": "VARCHAR",
        "rank": "INTEGER",
        "min_customers": "BIGINT",
        "min_revenue_cents": "BIGINT",
        "lookback_days": "INTEGER",
    },
    "phases": {
        "program_id": "VARCHAR",
        "phase": "VARCHAR",
        "from_month": "INTEGER",
        "to_month": "INTEGER",
    },
    "rates": {
        "program_id": "VARCHAR",
        "tier": "VARCHAR",
        "phase": "VARCHAR",
        "rate_bps": "INTEGER",
        "valid_from": "DATE",
    },
    "fx_rates": {
        "from_currency": "VARCHAR",
        "to_currency": "VARCHAR",
        "valid_from": "DATE",
        "rate": "VARCHAR",
    },
}


OPTIONAL_RULE_TABLES: dict[str, dict[str, str]] = {
    # review thresholds (issue 14); read by partner_ledger.publish.review, not by dbt: no money rule uses them
    "review_rules": {
        "program_id": "VARCHAR",
        "check": "VARCHAR",
        "max_ratio": "VARCHAR",
        "trailing_months": "INTEGER",
    },
}


def load_rules(con: duckdb.DuckDBPyConnection, rules_dir: Path) -> RulesSummary:
    """Validate `rules_dir`, then replace the `rules` schema's tables with its files."""
    summary = validate_rules(rules_dir)
    con.execute("create schema if not exists rules")
    tables = dict(RULE_TABLES)
    for table, columns in OPTIONAL_RULE_TABLES.items():
        if (rules_dir / f"{table}.csv").exists():
            tables[table] = columns
        else:  # an absent file is an empty table
            listing = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
            con.execute(f"create or replace table rules.{table} ({listing})")
    for table, columns in tables.items():
        spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
        con.execute(
            f"""
            create or replace table rules.{table} as
            select {", ".join(f'"{name}"' for name in columns)}
            from read_csv(?, header = true, auto_detect = false, columns = {spec},
                          delim = ',', quote = '"', escape = '"')
            """,
            [str(rules_dir / f"{table}.csv")],
        )
    return summary
