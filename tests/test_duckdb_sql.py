"""What DuckDB runs does not move when the Spark target changes (issue 15, docs/decisions/0028).

The project's models and data tests are compiled for DuckDB (the first build of an empty
warehouse, one as-of) and each file's SQL, whitespace folded, is hashed; the hashes must be
those recorded in tests/fixtures/duckdb_compiled_sql.json. Spark's forms live in spark__ macros
and `target.type == 'spark'` branches, so a change made for Spark leaves this test green; a
change of what DuckDB runs makes it fail, naming the files. When such a change is meant (a model
changed on purpose), record the new hashes:

    PYTHONPATH=. .venv/bin/python tests/test_duckdb_sql.py --write
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from partner_ledger.settle.dbt import PROJECT_DIR, invoke

RECORDED = PROJECT_DIR / "tests" / "fixtures" / "duckdb_compiled_sql.json"
AS_OF = "2025-06-01"


def compiled_sql_hashes() -> dict[str, str]:
    """{compiled file: sha256 of its SQL with runs of whitespace folded to one space}."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "target"
        env = {
            "PARTNER_LEDGER_AS_OF": AS_OF,
            # the file's name is the catalog the SQL names
            "PARTNER_LEDGER_WAREHOUSE": str(Path(folder) / "warehouse.duckdb"),
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(Path(folder) / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        result = invoke(["compile", "--quiet"], env)
        assert result.success, result.exception
        compiled = target / "compiled" / "partner_ledger"
        return {
            path.relative_to(compiled).as_posix(): hashlib.sha256(
                re.sub(r"\s+", " ", path.read_text()).strip().encode()
            ).hexdigest()
            for path in sorted(compiled.rglob("*.sql"))
        }


def test_duckdb_compiles_the_recorded_sql() -> None:
    recorded = json.loads(RECORDED.read_text())
    actual = compiled_sql_hashes()
    assert len(actual) > 100  # every model and data test, not an empty compile
    changed = sorted(
        name for name in actual.keys() & recorded.keys() if actual[name] != recorded[name]
    )
    assert (
        changed,
        sorted(actual.keys() - recorded.keys()),
        sorted(recorded.keys() - actual.keys()),
    ) == ([], [], []), (
        "the SQL DuckDB runs changed (changed, new, gone); if that is meant, record it: "
        "PYTHONPATH=. .venv/bin/python tests/test_duckdb_sql.py --write"
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit(__doc__)
    os.chdir(PROJECT_DIR)
    RECORDED.parent.mkdir(exist_ok=True)
    RECORDED.write_text(json.dumps(compiled_sql_hashes(), indent=1, sort_keys=True) + "\n")
    print(f"recorded {RECORDED}")
