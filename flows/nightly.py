"""The nightly settlement run as one Prefect flow of small typed tasks (SPEC §3.3 `run`).

write → audit → publish: the run works on a working copy of the warehouse (a second name of its
file whose writes stay in a write-ahead log of their own, or a copy); ingest, rules and the dbt
build write there; Great Expectations audits the batches the run closes; the missing batch
folders are rendered from the working copy and staged aside (a batch whose files cannot be
produced stops the run here); only then are the run's writes checkpointed into the warehouse
(commit) and the staged folders renamed into place. A failure anywhere before the commit leaves
the warehouse and the payout folders exactly as they were.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from partner_ledger.config import RunConfig, dbt_log_dir, dbt_target_dir
from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import checkpoint, connect, ensure_raw_schema, release, wal_path
from partner_ledger.ops.lock import one_writer
from partner_ledger.publish.payout_files import (
    StagedBatch,
    discard_staged,
    place_staged,
    publish_missing,
    stage_missing,
)
from partner_ledger.publish.review import Night, night_counts, record_holds
from partner_ledger.rules.load import load_rules
from partner_ledger.settle.checks import (
    check_new_batches,
    night_may_close,
    prefetch_great_expectations,
)
from partner_ledger.settle.dbt import dbt_build
from partner_ledger.settle.night import (
    QUARANTINE_KEY,
    RunSummary,
    batch_report,
    ledger_state,
    stripe_api_key,
    summarize,
    working_copy_path,
    write_run_record,
)
from partner_ledger.settle.rebuild import check_warehouse, published_folders, seed_published

os.environ.setdefault("TQDM_DISABLE", "1")


def _logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except Exception:  # outside a flow run (plain function call in a test)
        return logging.getLogger("partner_ledger")


@task(retries=2, retry_delay_seconds=2)
def prepare_working_copy(warehouse: Path) -> Path:
    """The run's working copy (docs/decisions/0027): a second name of the warehouse file, whose
    writes stay in the working copy's own write-ahead log until the commit; a copy of the file
    when a second name cannot be made, the warehouse is open in another process, or
    PARTNER_LEDGER_WORKING_COPY=copy. Either way the run writes nothing the warehouse shows."""
    work = working_copy_path(warehouse)
    work.parent.mkdir(parents=True, exist_ok=True)
    discard_working_copy(warehouse)  # a killed run's: dropping its log is its rollback
    if not warehouse.exists():
        return work  # the first night builds a new file, renamed into place at the commit
    if wal_path(warehouse).exists():
        # a writer that did not close (the warehouse opened read-write and killed): its log is
        # the warehouse's own, and DuckDB would replay it on any open; fold it in first
        con = connect(warehouse)
        con.execute("checkpoint")
        con.close()
    reason = _second_name(warehouse, work)
    if reason:
        _logger().warning("the run works on a copy of the warehouse: %s", reason)
        shutil.copyfile(warehouse, work)
        work.chmod(0o600)  # it becomes the warehouse: owner-only from the start
    return work


def _second_name(warehouse: Path, work: Path) -> str | None:
    """Make `work` a second name (hard link) of the warehouse file and check that the run can
    write through it; the reason it cannot, else None."""
    if os.environ.get("PARTNER_LEDGER_WORKING_COPY", "link").strip().lower() == "copy":
        return "PARTNER_LEDGER_WORKING_COPY=copy"
    try:
        os.link(warehouse, work)
    except OSError as error:
        return f"this file system gives no second name to a file ({error.strerror})"
    try:
        connect(work).close()  # DuckDB locks the file: another process's connection refuses us
    except duckdb.IOException as error:
        work.unlink()
        holder = re.search(r"\(PID (\d+)\)", str(error))
        return "it is open in another process" + (f" (PID {holder.group(1)})" if holder else "")
    return None


def discard_working_copy(warehouse: Path) -> None:
    """Remove the working copy and its write-ahead log, the log first: a second name of the
    warehouse without its log is the warehouse as committed."""
    work = working_copy_path(warehouse)
    release(work)
    wal_path(work).unlink(missing_ok=True)
    work.unlink(missing_ok=True)


@task(retries=2, retry_delay_seconds=2)
def ingest(work: Path, landing: Path) -> dict[str, int]:
    """Load new and changed landing files (and Stripe through the API when configured)."""
    log = _logger()
    con = connect(work)
    try:
        ensure_raw_schema(con)
        if not landing.is_dir():  # an unmounted drive must not look like a quiet night
            raise FileNotFoundError(f"the landing directory {landing} does not exist")
        summary = ingest_landing(con, landing)
        api_key = stripe_api_key()
        api_objects = 0
        if api_key:
            from partner_ledger.io.stripe_api import pull_stripe_from_env

            api_objects = pull_stripe_from_env(con, api_key=api_key).objects
    finally:
        con.close()
    log.info(
        "loaded %d file(s): %d rows read, %d loaded, %d rejected (%d unchanged file(s) skipped)",
        len(summary.loads),
        summary.rows_read,
        summary.rows_loaded,
        summary.rows_rejected,
        summary.skipped,
    )
    return {
        "files": len(summary.loads),
        "rows_loaded": summary.rows_loaded,
        "rows_rejected": summary.rows_rejected,
        "api_objects": api_objects,
    }


@task
def load_rules_folder(work: Path, rules: Path) -> list[str]:
    """Validate the rules folder and load it; an inconsistent folder stops the run here."""
    con = connect(work)
    try:
        summary = load_rules(con, rules)
    finally:
        con.close()
    _logger().info("rules from %s: programs %s", rules, ", ".join(summary.program_ids))
    return list(summary.program_ids)


@task
def build(
    work: Path,
    as_of: date,
    target_dir: Path | None = None,
    log_dir: Path | None = None,
    prefetch_checks: bool = False,
) -> tuple[int, dict[str, float]]:
    """`dbt build`: models and data tests; a failing test stops the run before the commit.
    Returns the number of nodes built and the seconds of the ten slowest. `prefetch_checks`:
    import Great Expectations beside the build, once dbt starts to run its nodes (a night that
    may close a period: the audit will need it)."""
    result = dbt_build(
        work,
        as_of.isoformat(),
        target_dir=target_dir,
        log_dir=log_dir,
        on_run_start=prefetch_great_expectations if prefetch_checks else None,
    )
    if result.full_refresh:
        _logger().info(
            "the models' code changed since the last build: incremental tables recreated"
        )
    _logger().info("dbt built %d node(s)", result.nodes)
    return result.nodes, dict(result.slowest())


@task
def audit(
    work: Path, as_of: date, report_dir: Path, known: list[str], night: Night | None = None
) -> str | None:
    """Great Expectations on the batches this run closes (not those the warehouse had); a batch
    that trips a review threshold is recorded held_for_review (partner_ledger.publish.review)."""
    con = connect(work)
    try:
        report = check_new_batches(
            con, as_of.isoformat(), report_dir, known=set(known), night=night
        )
        for batch_id in record_holds(con, report.held, as_of.isoformat()):
            _logger().warning("%s is held for review: %s", batch_id, report.held[batch_id])
    finally:
        con.close()
    if report.batches:
        _logger().info(
            "audited %d batch(es): %d expectations run", len(report.batches), report.expectations
        )
    return str(report.docs_index) if report.docs_index else None


@task
def commit(work: Path, warehouse: Path) -> None:
    """Make the run's writes the warehouse's, atomically: a checkpoint of a second name of the
    warehouse file (DuckDB writes the new blocks, then the file's header), or of a copy that is
    then renamed over the warehouse. The checkpoint compacts deleted rows only when some table
    holds enough of them (partner_ledger.io.warehouse.checkpoint)."""
    log = wal_path(work)
    log_mb = log.stat().st_size / 1e6 if log.exists() else 0.0
    started = time.monotonic()
    con = connect(work)  # the run's open working copy, unless the stage's workers closed it
    compacted = checkpoint(con)
    con.close()
    release(work)
    _logger().info(
        "committed a log of %.0f MB in %.1f s%s",
        log_mb,
        time.monotonic() - started,
        f", compacting the deleted rows of {', '.join(compacted)}" if compacted else "",
    )
    if wal_path(work).exists():
        raise RuntimeError(f"{work} still has a write-ahead log after checkpoint; not committed")
    if warehouse.exists() and os.path.samefile(work, warehouse):
        work.unlink()
        return
    os.chmod(work, 0o600)  # the warehouse is owner-only from the instant it is in place
    with open(work, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(work, warehouse)


@task
def stage(work: Path, out: Path) -> list[StagedBatch]:
    """Render and check the files of every batch folder that is missing, from the working copy,
    into hidden folders beside their places: before the commit, so that no batch is committed
    whose files cannot be produced (partner_ledger.publish.payout_files).

    A night's batches are rendered here, through the run's open working copy. Worker processes
    (a first run's year of batches) open it in processes of their own, so it is closed before
    they start, and the commit opens it again: a replay of the night's log (1.0 s for M's
    closing night, 166 MB), which a night no longer pays twice."""
    con = connect(work, read_only=True)

    def close_for_workers() -> None:
        con.close()
        release(work)

    try:
        return stage_missing(con, out, warehouse=work, before_workers=close_for_workers)
    finally:
        con.close()


@task(retries=2, retry_delay_seconds=2)
def publish(warehouse: Path, out: Path, staged: list[StagedBatch]) -> list[str]:
    """Rename the staged batch folders into place, then write any other closed batch folder that
    is missing (one a killed run had staged but not placed)."""
    published = place_staged(staged)
    con = connect(warehouse, read_only=True)
    try:
        published += publish_missing(con, out)
    finally:
        con.close()
    for batch in published:
        _logger().info(
            "published %s: %d line(s), %d cents", batch.batch_id, batch.row_count, batch.total_cents
        )
    return [batch.batch_id for batch in published]


def _run_name() -> str:
    """A flow run says what ran: `run-2025-05-01`, `backtest-candidate-2025-05-01`, `scheduled`."""
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    as_of = parameters.get("as_of")
    return f"{parameters.get('scenario') or 'run'}-{as_of or 'today'}"


@flow(name="nightly-settlement", log_prints=True, flow_run_name=_run_name)
@one_writer
def nightly_settlement(
    landing: Path,
    rules: Path,
    warehouse: Path,
    out: Path,
    as_of: date | None = None,
    scenario: str = "run",
) -> dict:
    """One nightly settlement run: ingest, build, check, close due periods, publish.

    Without an as-of (a scheduled run), the night is today's date in UTC. `scenario` names what
    ran in the run's name and artifact keys (`run`, `scheduled`, `demo`, `backtest-baseline`…).
    One writer at a time per warehouse (partner_ledger.ops.lock), which is left owner-only.
    """
    as_of = as_of or datetime.now(UTC).date()
    config = RunConfig(as_of=as_of, landing=landing, rules=rules, warehouse=warehouse, out=out)
    check_warehouse(config.warehouse, config.out)  # a lost warehouse is rebuilt, not restarted
    return _settle(config, scenario)


def _settle(config: RunConfig, scenario: str, rebuild: bool = False) -> dict:
    """The night's work: ingest, build, check, stage, commit, publish. A rebuild starts from no
    warehouse and writes the published batches into it before the night's build."""
    as_of = config.as_of
    summary = RunSummary(as_of=as_of.isoformat())
    before = ledger_state(config.warehouse)
    clock = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.monotonic()
        summary.seconds_by_stage[stage] = round(now - clock, 2)
        clock = now

    work = prepare_working_copy(config.warehouse)
    lap("copy")  # write-audit-publish's copy of the warehouse (0004), measured on its own
    try:
        loaded = ingest(work, config.landing)
        lap("ingest")
        load_rules_folder(work, config.rules)
        lap("rules")
        if rebuild:
            before = (0, set(restore_published(work, config)), set())
            lap("restore_published")
        summary.models_built, summary.slowest_dbt_nodes = build(
            work,
            config.as_of,
            target_dir=dbt_target_dir(config.warehouse),
            log_dir=dbt_log_dir(config.warehouse),
            prefetch_checks=night_may_close(work, config.as_of.isoformat()),
        )
        lap("dbt_build")
        night = night_counts(work, QUARANTINE_KEY, before[2], loaded)
        summary.data_docs = audit(work, config.as_of, config.report_dir, sorted(before[1]), night)
        lap("audit")
        staged = stage(work, config.out)
        lap("stage")
        try:
            commit(work, config.warehouse)
        except BaseException:
            discard_staged(staged)
            raise
        lap("commit")
    finally:
        discard_working_copy(config.warehouse)  # after a failure: the rollback
    summary.files_loaded = loaded["files"]
    summary.rows_loaded = loaded["rows_loaded"]
    summary.rows_rejected = loaded["rows_rejected"]
    summary.stripe_api_objects = loaded["api_objects"]
    summary.batches_published = publish(config.warehouse, config.out, staged)
    lap("publish")
    summarize(config.warehouse, summary, before)
    write_run_record(config, summary)
    create_table_artifact(
        key=f"{scenario}-settlement-{as_of.isoformat()}",
        table=[{"metric": key, "value": str(value)} for key, value in asdict(summary).items()],
        description=f"Nightly settlement as of {as_of.isoformat()}",
    )
    if summary.batches_closed:
        create_markdown_artifact(
            key=f"{scenario}-payout-batches-{as_of.isoformat()}",
            markdown=batch_report(config, summary),
            description="Payout batches closed by this run",
        )
    return asdict(summary)


@task
def restore_published(work: Path, config: RunConfig) -> list[str]:
    """Build every model empty, then write the published batch folders into them (partner_ledger.settle.rebuild)."""
    dbt_build(
        work,
        config.as_of.isoformat(),
        target_dir=dbt_target_dir(config.warehouse),
        log_dir=dbt_log_dir(config.warehouse),
        empty=True,
    )
    con = connect(work)
    try:
        ensure_raw_schema(con)
        batch_ids = seed_published(con, config.out, config.as_of)
    finally:
        con.close()
    _logger().info("restored %d published batch(es)", len(batch_ids))
    return batch_ids


@flow(name="rebuild-warehouse", log_prints=True, flow_run_name=_run_name)
@one_writer
def rebuild_warehouse(
    landing: Path,
    rules: Path,
    warehouse: Path,
    out: Path,
    as_of: date,
    scenario: str = "rebuild",
) -> dict:
    """Rebuild a lost warehouse from the landing and the published batch folders, as the night
    `as_of` (docs/decisions/0017): the published batches are restored as they were paid, the
    ledger is recomputed from the landing, and differences settle at the next close. A warehouse
    file that is there (unreadable) is moved aside to `<name>.unreadable-<as-of>`, never deleted.
    """
    config = RunConfig(as_of=as_of, landing=landing, rules=rules, warehouse=warehouse, out=out)
    if config.warehouse.exists():
        try:
            check_warehouse(config.warehouse, config.out)
        except Exception:
            config.warehouse.rename(
                config.warehouse.with_name(f"{config.warehouse.name}.unreadable-{as_of}")
            )
        else:
            raise RuntimeError(
                f"the warehouse {config.warehouse} opens: there is nothing to rebuild (move it "
                "aside first to rebuild it anyway)"
            )
    published = published_folders(config.out)
    last = max((item.manifest["as_of"] for item in published), default=None)
    if last and date.fromisoformat(last) >= as_of:
        # the rebuilt ledger is recorded at the as-of: after every published close, so that what
        # the files did not settle settles at the next close
        raise RuntimeError(
            f"the last published batch was closed as of {last}: rebuild as of a later night"
        )
    return _settle(config, scenario, rebuild=True)
