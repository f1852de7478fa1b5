"""dbt's own unit tests (the `unit_tests:` beside the models) and a clean `dbt build`.

The nightly flow excludes unit tests (they test the SQL, not the night's data); CI runs them
here against an empty warehouse that has the raw and rules schemas.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flows.dbt import PROJECT_DIR, _release_duckdb, dbt_build
from flows.rules_load import load_rules
from flows.warehouse import connect, ensure_raw_schema


def test_dbt_build_and_unit_tests_pass(example: Path, tmp_path: Path) -> None:
    from dbt.cli.main import dbtRunner

    warehouse = tmp_path / "unit" / "partner_ledger.duckdb"
    con = connect(warehouse)
    ensure_raw_schema(con)
    load_rules(con, example / "rules")
    con.close()
    dbt_build(warehouse, "2025-06-01", target_dir=tmp_path / "target")

    os.environ["PARTNER_LEDGER_WAREHOUSE"] = str(warehouse)
    os.environ["PARTNER_LEDGER_DBT_TARGET"] = str(tmp_path / "target")
    try:
        result = dbtRunner().invoke(
            [
                "test",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--select",
                "test_type:unit",
                "--vars",
                json.dumps({"as_of": "2025-06-01"}),
                "--quiet",
            ]
        )
    finally:
        _release_duckdb()
        os.environ.pop("PARTNER_LEDGER_WAREHOUSE", None)
        os.environ.pop("PARTNER_LEDGER_DBT_TARGET", None)
    failed = [
        f"{node.node.name}: {node.message}"
        for node in (result.result or [])
        if str(node.status) != "pass"
    ]
    assert result.success, "\n".join(failed)
    assert len(result.result) >= 50
