"""A night's data tests read the rows the night wrote (issue 11, docs/decisions/0029).

A scoped model's build (strategy `scope_replace`) and an append-only store with `written_key`
record the keys they wrote; the night's generic tests of those models then read the rows of
those keys only (macros/written_keys.sql). Here the worked example is built for a first night
(full builds: every test reads every row), then for the next night, as the nightly build runs
it, and with a mutant model that writes one row twice: the night's filtered test must still
catch it.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import (
    checkpoint,
    connect,
    deleted_rows,
    ensure_raw_schema,
    release,
)
from partner_ledger.rules.load import load_rules
from partner_ledger.settle.dbt import PROJECT_DIR, DbtError, dbt_build, invoke
from partner_ledger.settle.night import working_copy_path
from tests.conftest import warehouse_differences

WAREHOUSE = "example.duckdb"  # the views name their catalog after the file
FIRST, NEXT = "2025-04-01", "2025-05-01"
SCOPED = {
    "int_stripe_charges_linked": "charge_id",
    "int_paid_events_resolved": "paid_event_key",
    "int_paid_events_numbered": "paid_event_key",
    "int_paid_events_attributed": "paid_event_key",
    "int_commissions_computed": "paid_event_key",
    "int_ledger_entries_expected": "ledger_key",
    "fct_paid_events": "paid_event_key",
    "fct_ledger_entries": "entry_id",
    "dim_customers": "customer_id",
    # scoped by customer (group_replace): they record the customers they recomputed
    "int_customers_identified": "customer_id",
    "int_touch_candidates": "customer_id",
    "int_customers_attributed": "customer_id",
    "fct_attributions": "customer_id",
}
REPLACED = {
    "stg_stripe__charges": "charge_id",
    "stg_stripe__customers": "stripe_customer_id",
    "stg_stripe__disputes": "dispute_id",
    "stg_stripe__invoices": "invoice_id",
    "stg_stripe__refunds": "refund_id",
    "ledger_partner_tiers_monthly": "partner_month_id",
}
APPENDED = {
    "int_clicks_delivered": "delivery_seq",
    "ledger_entries": "entry_id",
    "fct_statement_entries": "batch_id",
}


@pytest.fixture(scope="module")
def first_night(example: Path, tmp_path_factory) -> Path:
    """The example's warehouse after the first night's build (every model built in full)."""
    warehouse = tmp_path_factory.mktemp("first_night") / WAREHOUSE
    con = connect(warehouse)
    ensure_raw_schema(con)
    load_rules(con, example / "rules")
    ingest_landing(con, example / "landing")
    con.close()
    dbt_build(warehouse, FIRST, target_dir=warehouse.parent / "target")
    return warehouse


def _copy(warehouse: Path, folder: Path) -> Path:
    folder.mkdir()
    shutil.copyfile(warehouse, folder / WAREHOUSE)
    return folder / WAREHOUSE


def _second_name(warehouse: Path) -> Path:
    """A run's working copy of the warehouse: a second name of its file, through which the
    night's writes stay in the log until the commit's checkpoint (decision 0027)."""
    work = working_copy_path(warehouse)
    work.parent.mkdir()
    os.link(warehouse, work)
    return work


def _compiled_test(target: Path, prefix: str) -> str:
    return next((target / "compiled").rglob(f"{prefix}*.sql")).read_text()


def _compiled_settled_test(target: Path) -> str:
    """The settled view's key test (dbt shortens its file's name to a hash)."""
    (path,) = (target / "compiled").rglob("_settlement.yml/primary_key_*.sql")
    return path.read_text()


def _written(warehouse: Path) -> dict[str, set[str]]:
    """Each model's keys recorded by its last build that recorded keys (a model with none: an
    empty set)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return _written_in(con)
    finally:
        con.close()


def _written_in(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """_written, through an open connection (a night's working copy before its commit)."""
    rows = con.execute(
        "select builds.model_name, written.key_value "
        "from intermediate.written_key_builds as builds "
        "left join intermediate.written_keys as written using (model_name)"
    ).fetchall()
    written: dict[str, set[str]] = {}
    for model, key in rows:
        written.setdefault(model, set())
        if key is not None:
            written[model].add(key)
    return written


def test_a_night_tests_the_keys_it_wrote(first_night: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(first_night), read_only=True)
    first_builds = con.execute("select count(*) from intermediate.written_key_builds").fetchone()
    con.close()
    assert first_builds == (0,)  # full builds record no keys: their tests read every row

    warehouse = _copy(first_night, tmp_path / "next")
    target = tmp_path / "target"
    dbt_build(warehouse, NEXT, target_dir=target)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        builds = dict(
            con.execute(
                "select model_name, key_column from intermediate.written_key_builds"
            ).fetchall()
        )
        appended = {
            entry_id
            for (entry_id,) in con.execute(
                "select entry_id from ledger.ledger_entries where recorded_at = ?", [NEXT]
            ).fetchall()
        }
        deliveries = {
            str(seq)
            for (seq,) in con.execute(
                "select distinct delivery_seq from raw.load_manifest "
                "where delivery_seq > (select min(delivery_seq) from raw.load_manifest)"
            ).fetchall()
        }
    finally:
        con.close()
    assert builds == SCOPED | APPENDED | REPLACED
    written = _written(warehouse)
    assert written["ledger_entries"] == appended and appended  # exactly tonight's entries
    assert written["int_clicks_delivered"] <= deliveries
    assert written["int_commissions_computed"]  # April's paid events
    # the night's key tests of those models read the written rows; others read every row
    assert "written_rows" in _compiled_test(target, "primary_key_int_commissions_computed")
    assert "written_rows" in _compiled_test(target, "primary_key_ledger_entries_entry_id")
    assert "written_rows" in _compiled_test(
        target, "accepted_values_fct_statement_entries_line_kind"
    )
    assert "written_rows" in _compiled_test(target, "primary_key_stg_stripe__charges_charge_id")
    # the settled view's key test reads the entries ledger_entries appended (written_key_of)
    settled_test = _compiled_settled_test(target)
    assert "written_rows" in settled_test and "model_name = 'ledger_entries'" in settled_test
    assert not written["stg_stripe__charges"]  # the example delivers no Stripe line after April
    assert "written_rows" not in _compiled_test(target, "primary_key_ledger_period_closes_batch_id")

    # another invocation (a test run by hand) reads every row; its on_run_start is called once,
    # before any node starts (a closing night imports Great Expectations there)
    calls: list[datetime] = []
    result = invoke(
        ["test", "--select", "int_commissions_computed"],
        {
            "PARTNER_LEDGER_AS_OF": NEXT,
            "PARTNER_LEDGER_WAREHOUSE": str(warehouse),
            "DBT_TARGET_PATH": str(tmp_path / "target-by-hand"),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
        },
        on_run_start=lambda: calls.append(datetime.now(UTC)),
    )
    assert result.success
    assert len(calls) == 1
    first_node = min(
        timing.started_at.replace(tzinfo=timing.started_at.tzinfo or UTC)
        for node_result in result.result
        for timing in node_result.timing
    )
    assert calls[0] <= first_node
    assert "written_rows" not in _compiled_test(
        tmp_path / "target-by-hand", "primary_key_int_commissions_computed"
    )


def test_the_same_night_again_rewrites_the_ledger_marts_rows_it_recomputes(
    first_night: Path, tmp_path: Path
) -> None:
    """Run again, the closing night of 1 May recomputes the rows it wrote the first time, all
    unchanged. fct_ledger_entries does not compare them with its stored rows
    (compare_recomputed_rows=false: every row of its scope changes, but on such a night): it
    rewrites that night's entries and payouts, and records their keys. fct_paid_events compares
    them and rewrites none. No table differs from the first run's.

    The second run works on a second name of the warehouse file, as a night does, so its writes
    wait in the log for the commit's checkpoint: the first run's recorded keys went with their
    tables (replaced whole at the run's start), not deleted row by row. Deleted, they made the
    commit after a closing night compact every table the night wrote (decision 0029)."""
    warehouse = _copy(first_night, tmp_path / "again")
    dbt_build(warehouse, NEXT, target_dir=tmp_path / "t")
    first_run = _copy(warehouse, tmp_path / "first_run")
    work = _second_name(warehouse)
    dbt_build(work, NEXT, target_dir=tmp_path / "t")
    con = connect(work)  # the run's database, its log not checkpointed yet
    try:
        assert con.execute("select count(*) from intermediate.written_keys").fetchone()[0] > 0
        assert [name for name in deleted_rows(con) if "written_key" in name] == []
        checkpoint(con)  # the commit
    finally:
        con.close()
        release(work)
    work.unlink()
    # the night run again changes no table
    assert warehouse_differences(first_run, warehouse, min_tables=40) == {}
    written = _written(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        stamped = {
            entry_id
            for (entry_id,) in con.execute(
                "select entry_id from main.fct_ledger_entries where recorded_at = ?", [NEXT]
            ).fetchall()
        }
        payouts = con.execute(
            "select count(*) from main.fct_ledger_entries "
            "where recorded_at = ? and entry_type = 'payout'",
            [NEXT],
        ).fetchone()
        paid_event_keys = {
            key
            for (key,) in con.execute("select paid_event_key from main.fct_paid_events").fetchall()
        }
    finally:
        con.close()
    assert payouts is not None and payouts[0] > 0  # 1 May closes April and pays it
    assert written["fct_ledger_entries"] == stamped
    # fct_paid_events' scope also holds May's events, not visible yet (no row): their keys are
    # recorded, as deleted; every row it recomputed was equal to its stored row
    assert not written["fct_paid_events"] & paid_event_keys


def test_a_closing_night_sets_the_stored_entries_batches_in_place(
    first_night: Path, tmp_path: Path
) -> None:
    """The closing night of 1 May settles and pays entries the first night stored: their rows
    of fct_ledger_entries gain their two batches by an update in place (`updated_columns`), and
    no row is deleted (a replace deleted each one and wrote it again whole, decision 0012,
    session 27). The night runs on a second name of the file, as a night does, so the deleted
    rows would still be there before the commit's checkpoint. Its keys are recorded."""
    warehouse = _copy(first_night, tmp_path / "closing")
    work = _second_name(warehouse)
    dbt_build(work, NEXT, target_dir=tmp_path / "t")
    con = connect(work)
    try:
        # the entries the first night stored that tonight's closes settle, and their payout
        settled = dict(
            con.execute(
                "select entry_id, paid_batch_id from main.fct_ledger_entries "
                "where recorded_at < ? and entry_type != 'payout' and settled_batch_id in "
                "(select batch_id from main.fct_payout_batches where as_of = ?)",
                [NEXT, NEXT],
            ).fetchall()
        )
        written = _written_in(con)
        deleted = deleted_rows(con)
        # the statement lines appended in place (macros/materializations.sql, append_in_place):
        # their keys are the batches of the rows past the store's last row before the insert
        batches = {
            batch_id
            for (batch_id,) in con.execute(
                "select distinct batch_id from main.fct_statement_entries"
            ).fetchall()
        }
        tonight = {
            batch_id
            for (batch_id,) in con.execute(
                "select batch_id from main.fct_payout_batches where as_of = ?", [NEXT]
            ).fetchall()
        }
        helpers = con.execute(
            "select table_name from duckdb_tables() where table_name like '%__first_appended_row'"
        ).fetchall()
    finally:
        con.close()
        release(work)
    # April's close settles and pays them
    assert settled and any(paid is not None for paid in settled.values())
    assert set(settled) <= written["fct_ledger_entries"]  # the night's key tests read them
    assert "main.fct_ledger_entries" not in deleted
    # March's lines were stored by the first night; tonight's keys are April's batches
    assert batches > tonight and tonight
    assert written["fct_statement_entries"] == tonight
    assert not helpers


def _mutant_project(folder: Path, model: str, old: str, new: str) -> Path:
    """A copy of the dbt project with one model's SQL changed."""
    folder.mkdir()
    for entry in ("dbt_project.yml", "profiles.yml", "models", "macros", "data-tests", "seeds"):
        source = PROJECT_DIR / entry
        if source.is_dir():
            shutil.copytree(source, folder / entry)
        else:
            shutil.copyfile(source, folder / entry)
    path = next((folder / "models").rglob(f"{model}.sql"))
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return folder


def _failed_night(first_night: Path, tmp_path: Path, project: Path, expected: str) -> str:
    """The next night, built from `project` on a copy of the first night's warehouse, fails
    with a message that names `expected`; returns dbt's message."""
    warehouse = _copy(first_night, tmp_path / "next")
    with pytest.raises(DbtError) as failed:
        dbt_build(warehouse, NEXT, target_dir=tmp_path / "target", project_dir=project)
    assert expected in str(failed.value), failed.value
    return str(failed.value)


def test_a_row_written_twice_tonight_fails_the_night(first_night: Path, tmp_path: Path) -> None:
    """The commissions model writes its newest row twice: a key written tonight, so the night's
    filtered key test reads both rows and fails the build."""
    project = _mutant_project(
        tmp_path / "project",
        "int_commissions_computed",
        "{{ scope_select(scope, 'computed', 'commission_event_keys', 'paid_event_key') }}",
        ", computed_twice as (\n"
        "    select * from computed\n"
        "    union all\n"
        "    (select * from computed order by paid_at desc, paid_event_key, entry_type limit 1)\n"
        ")\n\n"
        "{{ scope_select(scope, 'computed_twice', 'commission_event_keys', 'paid_event_key') }}",
    )
    message = _failed_night(first_night, tmp_path, project, "primary_key_int_commissions_computed")
    assert "fail" in message
    compiled = _compiled_test(tmp_path / "target", "primary_key_int_commissions_computed")
    assert "written_rows" in compiled


def test_a_view_that_repeats_an_entry_written_tonight_fails_the_night(
    first_night: Path, tmp_path: Path
) -> None:
    """The settled view's key test reads the rows of the entries ledger_entries appended tonight
    (`written_key_of`). A view that places the newest entry twice fails the night; with
    `--full-refresh` (new code, decision 0026) the test reads every row of the view."""
    project = _mutant_project(
        tmp_path / "project",
        "int_ledger_entries_settled",
        "select * from settled\n",
        "select * from settled\nunion all\n"
        "(select * from settled order by recorded_at desc, entry_id limit 1)\n",
    )
    _failed_night(first_night, tmp_path, project, "primary_key_int_ledger_entries_settled")
    assert "written_rows" in _compiled_settled_test(tmp_path / "target")

    # the same night after an upgrade: the scoped models' marks name other code
    refreshed = _copy(first_night, tmp_path / "refreshed")
    con = duckdb.connect(str(refreshed))
    con.execute("update intermediate.scope_marks set fingerprint = 'older-code:rules'")
    con.close()
    result = dbt_build(refreshed, NEXT, target_dir=tmp_path / "target-refresh")
    assert result.full_refresh
    assert "written_rows" not in _compiled_settled_test(tmp_path / "target-refresh")


def test_a_written_key_outside_the_tested_key_is_refused(first_night: Path, tmp_path: Path) -> None:
    """A written key that a key test does not contain could hide a duplicate (an older row with
    the same tested key but another written key is not read): the test refuses to compile."""
    project = _mutant_project(
        tmp_path / "project",
        "ledger_entries",
        "written_key='entry_id'",
        "written_key='recorded_at'",
    )
    _failed_night(first_night, tmp_path, project, "does not contain the written key recorded_at")


def test_a_model_reads_the_keys_written_since_its_own_last_build(
    first_night: Path, tmp_path: Path
) -> None:
    """The expected ledger computes the commissions' entries only for the events the commissions
    model wrote tonight, when that model's build started from the expected ledger's own last
    build. Here the commissions model and what it reads are built alone in between (their keys
    of 20 May are not tonight's; with the check of where a build started removed, the expected
    ledger misses the three entries of 3, 12 and 16 May): on 28 May the expected ledger compares every entry instead, and both tables
    equal those of a full build."""
    warehouse = _copy(first_night, tmp_path / "scoped")
    dbt_build(warehouse, NEXT, target_dir=tmp_path / "t")
    dbt_build(
        warehouse, "2025-05-20", target_dir=tmp_path / "t", select="+int_commissions_computed"
    )
    reference = _copy(warehouse, tmp_path / "full")
    con = duckdb.connect(str(reference))
    for table in ("int_commissions_computed", "int_ledger_entries_expected"):
        con.execute(f"drop table intermediate.{table}")
    con.close()
    for built, target in ((warehouse, "t-scoped"), (reference, "t-full")):
        dbt_build(built, "2025-05-28", target_dir=tmp_path / target)
    compiled = next((tmp_path / "t-scoped" / "compiled").rglob("int_ledger_entries_expected.sql"))
    assert "-- scope: changes (" in compiled.read_text()
    assert "commissions by written keys" not in compiled.read_text()
    con = duckdb.connect()
    con.execute(f"attach '{warehouse}' as scoped (read_only)")
    con.execute(f"attach '{reference}' as full_build (read_only)")
    for table in ("intermediate.int_ledger_entries_expected", "ledger.ledger_entries"):
        differing = con.execute(
            f"select count(*) from (select * from scoped.{table} except all "
            f"select * from full_build.{table}) union all "
            f"select count(*) from (select * from full_build.{table} except all "
            f"select * from scoped.{table})"
        ).fetchall()
        assert differing == [(0,), (0,)], (table, differing)
    con.close()
