"""Audit of the batches a run is about to publish (write-audit-publish), with Great Expectations.

Runs on the run's working copy of the warehouse, before it is committed: a failed expectation
means nothing is committed and nothing is published. GX reads pandas frames taken from DuckDB
(its SQL datasource over duckdb-engine is broken, see docs/decisions). Only checks that dbt's tests
do not already make are here: the export against its batch, lines above the program's minimum in
its currency, paid statements closed at 0, and the review thresholds (partner_ledger.publish.review). The report is
``<out>/reports/<as-of>/index.html``, a page that works offline (partner_ledger.settle.audit_page), beside GX's
own data-docs site under ``gx/``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from partner_ledger.io.warehouse import connect
from partner_ledger.publish.review import REVIEW_COLUMNS, Night, review_rows
from partner_ledger.settle.audit_page import outcome_of, write_audit_page

log = logging.getLogger(__name__)


class CheckFailed(RuntimeError):
    """A payout batch failed an expectation; the message names each failed expectation."""


@dataclass(frozen=True)
class CheckReport:
    batches: tuple[str, ...]
    expectations: int
    docs_index: Path | None
    held: dict[str, list[dict]] = field(default_factory=dict)  # batch → review rows that tripped


LINES_SQL = """
select lines.batch_id, lines.partner_id, lines.payout_method, lines.payout_account,
       lines.amount_cents, lines.currency, programs.currency as program_currency,
       lines.amount_cents - programs.min_payout_cents as amount_over_minimum_cents
from exp_payouts as lines
join fct_payout_batches as batches using (batch_id)
join staging.stg_rules__programs as programs on batches.program_id = programs.program_id
where batches.as_of = $as_of
"""

BATCHES_SQL = """
select batches.batch_id, batches.total_cents, batches.row_count,
       coalesce((select sum(amount_cents) from exp_payouts as lines
                 where lines.batch_id = batches.batch_id), 0) as lines_total_cents,
       coalesce((select count(*) from exp_payouts as lines
                 where lines.batch_id = batches.batch_id), 0) as lines_count
from fct_payout_batches as batches
where batches.as_of = $as_of
"""

STATEMENTS_SQL = """
select statements.batch_id, statements.partner_id,
       case when statements.payout_cents > 0 then statements.closing_balance_cents else 0 end
         as paid_closing_cents
from exp_statements as statements
join fct_payout_batches as batches using (batch_id)
where batches.as_of = $as_of
"""


def may_close(con: duckdb.DuckDBPyConnection, as_of: str) -> bool:
    """Whether the night of `as_of` may close a period (SPEC §2.9: a run closes every period
    that ended on or before its as-of): a program of the ledger whose last close is older than
    the month before the as-of's. False on a first run (no ledger yet). A guess made before the build
    (a program's first entries may arrive tonight), for prefetch_great_expectations only; the
    audit itself reads what the build closed."""
    # the catalog named: a warehouse file called ledger.duckdb has a catalog named like the schema
    catalog = con.execute("select current_database()").fetchone()[0]
    stores = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'ledger' and table_name in ('ledger_entries', 'ledger_period_closes')"
    ).fetchone()[0]
    if stores < 2:
        # a first run: not guessed. Its build holds the most memory (L's peak), and Great
        # Expectations adds about 0.2 GB to the process; its 2.5 s are little beside that build
        return False
    ledger = f'"{catalog.replace(chr(34), chr(34) * 2)}".ledger'
    due = con.execute(
        f"""
        select count(*)
        from (select distinct program_id from {ledger}.ledger_entries) as programs
        left join (
            select program_id, max(period_start) as last_period_start
            from {ledger}.ledger_period_closes
            group by program_id
        ) as closed using (program_id)
        where closed.last_period_start is null
            or closed.last_period_start
                < date_trunc('month', cast($as_of as date)) - interval 1 month
        """,
        {"as_of": as_of},
    ).fetchone()[0]
    return due > 0


# Modules Great Expectations imports when it starts, for expectations the audit never runs:
# scipy.stats for the distribution checks (Kullback-Leibler, Kolmogorov-Smirnov), about 0.9 of
# GX's 3 CPU-seconds of import (docs/decisions/0012, session 28). Each is loaded on first use.
# (altair, for the same checks, cannot wait: `import altair` reads the module's spec, which
# loads it.)
DEFERRED_BY_GREAT_EXPECTATIONS = ("scipy.stats",)
_deferring = threading.Lock()


def _defer_import(name: str) -> None:
    """Put module `name` in sys.modules unexecuted: it runs on its first attribute read
    (importlib's LazyLoader). An imported module, or one that cannot be found, is left alone."""
    with _deferring:
        if name in sys.modules:
            return
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:
            return
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:  # as an import does: the package's attribute names its submodule
            setattr(sys.modules[parent], child, module)


def import_great_expectations():
    """Great Expectations, imported with its unused modules deferred
    (DEFERRED_BY_GREAT_EXPECTATIONS) and its usage statistics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in DEFERRED_BY_GREAT_EXPECTATIONS:
        _defer_import(name)
    import great_expectations

    return great_expectations


def prefetch_great_expectations() -> threading.Thread:
    """Import Great Expectations in a daemon thread (about 2 CPU-seconds here, most of the
    audit of a closing night), to overlap dbt's build: the build leaves a core idle for much of
    a night (docs/decisions/0012). The audit's own import then finds the modules loaded, or
    waits for the thread's (Python's import lock). CPU is the same; the night is shorter."""

    def load() -> None:
        try:
            import_great_expectations()
        except Exception:  # the audit imports it again and reports the error there
            log.debug("prefetching Great Expectations failed", exc_info=True)

    thread = threading.Thread(target=load, name="prefetch-great-expectations", daemon=True)
    thread.start()
    return thread


def night_may_close(work: Path, as_of: str) -> bool:
    """Before the night's build: may the night close a period (may_close, asked of the run's
    working copy `work`, opened as the audit opens it)? The build then imports Great
    Expectations beside it (prefetch_great_expectations)."""
    con = connect(work)
    try:
        return may_close(con, as_of)
    finally:
        con.close()


def _suites():
    import great_expectations as gx

    expect = gx.expectations
    return {
        "payout_lines": (
            LINES_SQL,
            [
                expect.ExpectColumnValuesToBeBetween(column="amount_cents", min_value=1),
                expect.ExpectColumnValuesToBeBetween(
                    column="amount_over_minimum_cents", min_value=0
                ),
                expect.ExpectColumnPairValuesToBeEqual(
                    column_A="currency", column_B="program_currency"
                ),
            ],
        ),
        "payout_batches": (
            BATCHES_SQL,
            [
                expect.ExpectColumnPairValuesToBeEqual(
                    column_A="total_cents", column_B="lines_total_cents"
                ),
                expect.ExpectColumnPairValuesToBeEqual(
                    column_A="row_count", column_B="lines_count"
                ),
            ],
        ),
        "payout_statements": (
            STATEMENTS_SQL,
            [
                expect.ExpectColumnValuesToBeInSet(column="paid_closing_cents", value_set=[0]),
            ],
        ),
    }


# review before payment (partner_ledger.publish.review): each row's observation must not exceed its limit
REVIEW_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": ["batch_id", "check", "partner_id", "compared_with"],
}


def _review_expectations() -> list:
    import great_expectations as gx

    return [
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="limit", column_B="observed", or_equal=True
        )
    ]


def _plain(value):
    """numpy scalars from GX's result as plain Python values (JSON-ready)."""
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN: pandas' missing partner_id
        return None
    return value


def _describe(result) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    observed = result.result.get("partial_unexpected_list") or result.result.get("observed_value")
    return f"{config.type}({kwargs}) failed; unexpected: {observed!r}"


def _set_aside_earlier_project(report_dir: Path) -> None:
    """A night's audit starts from a new GX project. One left by an earlier run of the same
    night is moved aside, kept, never read: a run killed while GX wrote its files leaves them
    half-written (an empty great_expectations.yml stopped every later run of that night, found
    by the SIGKILL property, docs/decisions/0015)."""
    from datetime import UTC, datetime

    project = report_dir / "gx"
    if project.exists():
        aside = report_dir / f"gx.earlier-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        project.rename(aside)
        log.warning("an earlier run's audit project of this night was moved aside: %s", aside)


def check_new_batches(
    con: duckdb.DuckDBPyConnection,
    as_of: str,
    report_dir: Path,
    *,
    known: Collection[str] = (),
    night: Night | None = None,
) -> CheckReport:
    """Validate the batches closed by the run of `as_of`; raise CheckFailed on any failure.

    Batches in ``known`` were closed and audited by an earlier run of the same night: a night
    run again that closes nothing new checks nothing, and never imports Great Expectations.
    Batches of programs with review thresholds are also compared with history (partner_ledger.publish.review,
    suite ``review_thresholds``): one that trips is returned in ``held``, not raised.
    """
    batches = tuple(
        row[0]
        for row in con.execute(
            "select batch_id from fct_payout_batches where as_of = ? order by batch_id", [as_of]
        ).fetchall()
        if row[0] not in known
    )
    if not batches:
        return CheckReport((), 0, None)
    gx = import_great_expectations()
    import pandas as pd
    from great_expectations.core.run_identifier import RunIdentifier

    report_dir.mkdir(parents=True, exist_ok=True)
    _set_aside_earlier_project(report_dir)
    context = gx.get_context(mode="file", project_root_dir=str(report_dir))
    source = context.data_sources.add_or_update_pandas("warehouse")
    context.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    definitions = []
    frames = {}
    suites = _suites()
    review = review_rows(con, batches, night)
    if review:
        suites["review_thresholds"] = (
            pd.DataFrame(review, columns=REVIEW_COLUMNS),
            _review_expectations(),
        )
    for name, (sql, expectations) in suites.items():
        frames[name] = (
            sql if name == "review_thresholds" else con.execute(sql, {"as_of": as_of}).df()
        )
        asset = source.add_dataframe_asset(name)  # the project is new: no asset exists yet
        batch_definition = asset.add_batch_definition_whole_dataframe(f"{name}_{as_of}")
        suite = context.suites.add_or_update(gx.ExpectationSuite(name=name))
        for expectation in expectations:
            suite.add_expectation(expectation)
        definitions.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=f"{name}_{as_of}", data=batch_definition, suite=suite)
            )
        )
    failures: list[str] = []
    held: dict[str, list[dict]] = {}
    outcomes = []
    count = 0
    for definition in definitions:
        # each suite reads its own frame; one run per definition, data docs rebuilt once below
        name = definition.suite.name
        outcome = definition.run(
            batch_parameters={"dataframe": frames[name]},
            result_format=REVIEW_RESULT_FORMAT if name == "review_thresholds" else "SUMMARY",
            run_id=RunIdentifier(run_name=f"audit-{as_of}"),
        )
        outcomes.append(outcome_of(name, len(frames[name]), outcome))
        for result in outcome.results:
            count += 1
            if result.success:
                continue
            if name == "review_thresholds":  # a held batch, not a failed run
                for row in result.result["unexpected_index_list"]:
                    finding = {column: _plain(row[column]) for column in REVIEW_COLUMNS}
                    held.setdefault(finding["batch_id"], []).append(finding)
            else:
                failures.append(f"{name}: {_describe(result)}")
    context.build_data_docs()
    docs = write_audit_page(
        report_dir / "index.html",
        as_of,
        batches,
        outcomes,
        review,
        sorted(held),
        report_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html",
    )
    log.info("checked %d batch(es) with %d expectations", len(batches), count)
    if failures:
        raise CheckFailed(
            "payout check failed, nothing published:\n" + "\n".join(failures) + f"\nsee {docs}"
        )
    return CheckReport(batches, count, docs, held)
